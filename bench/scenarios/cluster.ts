import { backendPids, checkBackends, cleanupBackends, clusterBackends } from '../lib/backends.ts';
import type { ClusterBackends, PeerName } from '../lib/servers.ts';
import { clientIndex, type Layout } from '../lib/layout.ts';
import { log, runLoad, withPeer, type LoadPlan } from '../lib/peer-run.ts';
import type { PeerResult } from '../lib/results.ts';
import { describeLoad, loadTiming, num, type CommonOptions, type Scenario } from './common.ts';

/**
 * Two flametalk nodes on real Redis + Kafka + Cassandra, one publisher per room (on node r mod 2).
 * `split` (default): every room's sockets alternate between the nodes; latency is split into
 * same-node and cross-node receivers. `disjoint`: all of room r's sockets on node r mod 2, and
 * then one node alone carrying one node's share of the rooms, so each node's CPU per message of
 * its own rooms can be set against one node's. The peer is two Socket.IO processes on the Redis
 * adapter. Both nodes of a peer share the server core.
 */
const NODES = 2;

function plan(options: CommonOptions, backends?: ClusterBackends, peer?: PeerName): LoadPlan {
  const rooms = num(options, 'rooms', 10);
  const layout: Layout = {
    rooms, socketsPerRoom: num(options, 'subscribers', 100) + 1, users: num(options, 'users', 10), placement: options.placement ?? 'split',
  };
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

/** One node with one node's share of the disjoint layout's rooms, at the same rates per room; steps keep the two-node labels. */
function oneNodePlan(full: LoadPlan): LoadPlan {
  const rooms = Math.max(1, Math.round(full.layout.rooms / NODES));
  const layout: Layout = { ...full.layout, rooms };
  const scale = full.layout.rooms / rooms;
  return {
    ...full,
    layout,
    senders: Array.from({ length: rooms }, (_, r) => clientIndex(layout, r, 0)),
    rates: full.rates.map((rate) => rate / scale),
    label: (rate) => full.label!(rate * scale),
  };
}

/** Each disjoint step gets node n's CPU per message ÷ the one-node run's, at the same per-room rate. */
function compareWithOneNode(disjoint: PeerResult, oneNode: PeerResult): void {
  for (const step of disjoint.steps) {
    const single = oneNode.steps.find((s) => s.label === step.label)?.metrics.node1CpuMsPerMsg;
    if (!single) continue;
    for (let n = 1; n <= NODES; n++) {
      const own = step.metrics[`node${n}CpuMsPerMsg`];
      if (own !== undefined) step.metrics[`node${n}VsOneNode`] = Number((own / single).toFixed(3));
    }
  }
}

export const cluster: Scenario = {
  name: 'cluster',
  summary: 'two nodes on Redis + Kafka + Cassandra, rooms split across nodes (or disjoint: --layout disjoint)',
  defaultPeers: ['flametalk', 'socketio'],
  nodes: NODES,
  supports: ['search', 'layout'],
  describe(options) {
    const p = plan(options);
    return { nodes: NODES, layout: p.layout.placement, rooms: p.layout.rooms, subscribers: p.layout.socketsPerRoom - 1, ...describeLoad(p) };
  },
  async run(options) {
    const backends = clusterBackends(options.start.runId);
    await checkBackends(backends);
    const start = { ...options.start, nodes: NODES, backends };
    const results: PeerResult[] = [];
    try {
      for (const peer of options.peers) {
        const full = plan(options, backends, peer);
        const two = await withPeer(peer, start, (server, result) => runLoad(server, full, result, options.noise));
        results.push(two);
        if (full.layout.placement !== 'disjoint') continue;
        const single = await withPeer(peer, { ...start, nodes: 1 }, (server, result) => runLoad(server, oneNodePlan(full), result, options.noise), '1 node');
        results.push(single);
        compareWithOneNode(two, single);
      }
      return results;
    } finally {
      const problems = await cleanupBackends(backends);
      log(problems.length ? `cleanup problems: ${problems.join('; ')}` : `removed topic ${backends.kafkaTopic}, keyspace ${backends.cassandraKeyspace}, keys ${backends.redisPrefix}*`);
    }
  },
};
