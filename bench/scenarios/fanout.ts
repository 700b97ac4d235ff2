import { clientIndex, type Layout } from '../lib/layout.ts';
import { runLoad, type LoadPlan } from '../lib/peer-run.ts';
import { describeLoad, eachPeer, loadTiming, num, type CommonOptions, type Scenario } from './common.ts';

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
    ...loadTiming(options),
  };
}

export const fanout: Scenario = {
  name: 'fanout',
  summary: 'R rooms × S subscribers, one publisher per room at P msg/s',
  defaultPeers: ['flametalk', 'uws', 'socketio'],
  nodes: 1,
  supports: ['search', 'storage'],
  describe(options) {
    const p = plan(options);
    return { rooms: p.layout.rooms, subscribers: p.layout.socketsPerRoom - 1, publishersPerRoom: 1, ...describeLoad(p) };
  },
  run: (options) => eachPeer(options, (server, result) => runLoad(server, plan(options), result, options.noise)),
};
