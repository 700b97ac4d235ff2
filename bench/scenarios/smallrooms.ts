import { clientIndex, type Layout } from '../lib/layout.ts';
import { runLoad, type LoadPlan } from '../lib/peer-run.ts';
import { describeLoad, eachPeer, loadTiming, num, type CommonOptions, type Scenario } from './common.ts';

/**
 * Many small rooms chatting slowly (default 2,000 rooms × 5 members, 0.5 msg/s per room):
 * the per-message path (session, room, bus, serialisation) dominates, not the fan-out.
 * Every member sends in turn, so senders rotate through the rooms evenly.
 */
function plan(options: CommonOptions): LoadPlan {
  const rooms = num(options, 'rooms', 2000);
  const members = num(options, 'subscribers', 5);
  const layout: Layout = { rooms, socketsPerRoom: members, users: num(options, 'users', members) };
  const senders: number[] = [];
  for (let k = 0; k < members; k++) for (let r = 0; r < rooms; r++) senders.push(clientIndex(layout, r, k));
  const perRoom = options.rates ?? [0.5, 2, 5];
  return {
    layout, senders,
    rates: perRoom.map((p) => p * rooms),
    label: (rate) => `${rate / rooms} msg/s per room (${rate} msg/s)`,
    ...loadTiming(options),
  };
}

export const smallrooms: Scenario = {
  name: 'smallrooms',
  summary: 'many small rooms (2,000 × 5) chatting slowly',
  defaultPeers: ['flametalk', 'uws', 'socketio'],
  nodes: 1,
  supports: ['search', 'storage'],
  describe(options) {
    const p = plan(options);
    return { rooms: p.layout.rooms, members: p.layout.socketsPerRoom, ...describeLoad(p) };
  },
  run: (options) => eachPeer(options, (server, result) => runLoad(server, plan(options), result, options.noise)),
};
