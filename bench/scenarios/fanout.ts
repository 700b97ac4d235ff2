import { clientIndex, type Layout } from '../lib/layout.ts';
import { runLoad, withPeer, type LoadPlan } from '../lib/peer-run.ts';
import type { PeerResult } from '../lib/results.ts';
import { num, type CommonOptions, type Scenario } from './common.ts';

/**
 * R rooms × S subscribers, one publisher socket per room sending at P messages/s (per room):
 * the cost of fan-out. flametalk must do O(1) JavaScript per message here (one uWS publish).
 */
function plan(options: CommonOptions): LoadPlan {
  const rooms = num(options, 'rooms', 1);
  const layout: Layout = { rooms, socketsPerRoom: num(options, 'subscribers', 1000) + 1, users: num(options, 'users', 10) };
  const perRoom = options.rates ?? [50, 100, 200];
  return {
    layout,
    senders: Array.from({ length: rooms }, (_, r) => clientIndex(layout, r, 0)),
    rates: perRoom.map((p) => p * rooms),
    label: (rate) => (rooms > 1 ? `${rate / rooms} msg/s per room (${rate} msg/s)` : `${rate} msg/s`),
    warmupMs: num(options, 'warmup', 3) * 1000,
    durationMs: num(options, 'duration', 10) * 1000,
    drainMs: num(options, 'drain', 30) * 1000,
    contentBytes: num(options, 'size', 64),
    concurrency: num(options, 'concurrency', 100),
  };
}

export const fanout: Scenario = {
  name: 'fanout',
  summary: 'R rooms × S subscribers, one publisher per room at P msg/s',
  defaultPeers: ['flametalk', 'uws', 'socketio'],
  nodes: 1,
  describe(options) {
    const p = plan(options);
    return { rooms: p.layout.rooms, subscribers: p.layout.socketsPerRoom - 1, publishersPerRoom: 1, ratesPerRoom: p.rates.map((r) => r / p.layout.rooms), users: p.layout.users, durationMs: p.durationMs, warmupMs: p.warmupMs, contentBytes: p.contentBytes };
  },
  async run(options) {
    const results: PeerResult[] = [];
    for (const peer of options.peers) results.push(await withPeer(peer, options.start, (server, result) => runLoad(server, plan(options), result, options.noise)));
    return results;
  },
};
