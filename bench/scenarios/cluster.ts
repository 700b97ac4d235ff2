import { backendPids, checkBackends, cleanupBackends, clusterBackends } from '../lib/backends.ts';
import type { ClusterBackends, PeerName } from '../lib/servers.ts';
import { clientIndex, type Layout } from '../lib/layout.ts';
import { log, runLoad, type LoadPlan } from '../lib/peer-run.ts';
import { describeLoad, eachPeer, loadTiming, num, type CommonOptions, type Scenario } from './common.ts';

/**
 * Two flametalk nodes on real Redis + Kafka + Cassandra, every room's sockets split across both
 * nodes, one publisher per room (on node r mod 2): messages/s and send→receive latency, split
 * into same-node and cross-node receivers. The peer is two Socket.IO processes on the Redis
 * adapter. Both nodes of a peer share the server core.
 */
function plan(options: CommonOptions, backends?: ClusterBackends, peer?: PeerName): LoadPlan {
  const rooms = num(options, 'rooms', 10);
  const layout: Layout = { rooms, socketsPerRoom: num(options, 'subscribers', 100) + 1, users: num(options, 'users', 10) };
  const perRoom = options.rates ?? [5, 20];
  return {
    layout,
    senders: Array.from({ length: rooms }, (_, r) => clientIndex(layout, r, 0)),
    rates: perRoom.map((p) => p * rooms),
    label: (rate) => `${rate / rooms} msg/s per room (${rate} msg/s)`,
    ...loadTiming(options, { warmup: 5, duration: 15, concurrency: 50 }),
    // Socket.IO uses Redis only; Kafka and Cassandra idling meanwhile are not its cost.
    ...(backends ? { backendPids: () => backendPids(backends, peer === 'flametalk' ? ['redis', 'kafka', 'cassandra'] : ['redis']) } : {}),
  };
}

export const cluster: Scenario = {
  name: 'cluster',
  summary: 'two nodes on Redis + Kafka + Cassandra, rooms split across nodes',
  defaultPeers: ['flametalk', 'socketio'],
  nodes: 2,
  describe(options) {
    const p = plan(options);
    return { nodes: 2, rooms: p.layout.rooms, subscribers: p.layout.socketsPerRoom - 1, ...describeLoad(p) };
  },
  async run(options) {
    const backends = clusterBackends(options.start.runId);
    await checkBackends(backends);
    try {
      return await eachPeer(options, (server, result, peer) => runLoad(server, plan(options, backends, peer), result, options.noise), { ...options.start, nodes: 2, backends });
    } finally {
      const problems = await cleanupBackends(backends);
      log(problems.length ? `cleanup problems: ${problems.join('; ')}` : `removed topic ${backends.kafkaTopic}, keyspace ${backends.cassandraKeyspace}, keys ${backends.redisPrefix}*`);
    }
  },
};
