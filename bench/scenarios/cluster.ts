import { backendPids, checkBackends, cleanupBackends, clusterBackends } from '../lib/backends.ts';
import type { ClusterBackends, PeerName } from '../lib/servers.ts';
import { clientIndex, type Layout } from '../lib/layout.ts';
import { log, runLoad, withPeer, type LoadPlan } from '../lib/peer-run.ts';
import type { PeerResult } from '../lib/results.ts';
import { num, type CommonOptions, type Scenario } from './common.ts';

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
    warmupMs: num(options, 'warmup', 5) * 1000,
    durationMs: num(options, 'duration', 15) * 1000,
    drainMs: num(options, 'drain', 30) * 1000,
    contentBytes: num(options, 'size', 64),
    concurrency: num(options, 'concurrency', 50),
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
    return { nodes: 2, rooms: p.layout.rooms, subscribers: p.layout.socketsPerRoom - 1, ratesPerRoom: p.rates.map((r) => r / p.layout.rooms), users: p.layout.users, durationMs: p.durationMs, warmupMs: p.warmupMs, contentBytes: p.contentBytes };
  },
  async run(options) {
    const backends = clusterBackends(options.start.runId);
    await checkBackends(backends);
    const results: PeerResult[] = [];
    try {
      for (const peer of options.peers) {
        results.push(await withPeer(peer, { ...options.start, nodes: 2, backends }, (server, result) => runLoad(server, plan(options, backends, peer), result, options.noise)));
      }
    } finally {
      const problems = await cleanupBackends(backends);
      log(problems.length ? `cleanup problems: ${problems.join('; ')}` : `removed topic ${backends.kafkaTopic}, keyspace ${backends.cassandraKeyspace}, keys ${backends.redisPrefix}*`);
    }
    return results;
  },
};
