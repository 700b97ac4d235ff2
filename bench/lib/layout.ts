import type { ClientSpec } from './gen-protocol.ts';
import { createRooms, signUpUsers } from './flametalk-api.ts';
import type { PeerServer } from './servers.ts';

/**
 * Who connects where: `rooms` rooms of `socketsPerRoom` sockets each. Socket k of room r is
 * client r·socketsPerRoom + k; its sender (in fan-out scenarios) is k = 0. flametalk gets real
 * accounts and rooms (HTTP); the peers take any room name.
 */
export interface Layout {
  rooms: number;
  socketsPerRoom: number;
  /** flametalk accounts, shared round-robin by the sockets of each room (sign-up is a ~100 ms scrypt each). */
  users: number;
  /**
   * Where a room's sockets go when there are several nodes: `split` alternates them between the
   * nodes (every room crosses nodes); `disjoint` puts all of room r on node r mod N, so each node
   * carries only its own rooms' traffic.
   */
  placement?: Placement;
}

export const PLACEMENTS = ['split', 'disjoint'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export interface Placed {
  specs: ClientSpec[];
  roomIds: string[];
  /** Wall time of the HTTP setup (flametalk only). */
  setupSeconds: number;
}

/** Source addresses: each call hands out a fresh 127.0.<block>.0/24, so TIME_WAIT ports from earlier runs never collide. */
let nextBlock = 10 + Math.floor(Math.random() * 40) * 5;
export function addressPool(): (index: number) => string {
  const block = nextBlock++ % 250;
  return (index) => `127.0.${block}.${1 + (index % 250)}`;
}

export const clientIndex = (layout: Layout, room: number, k: number): number => room * layout.socketsPerRoom + k;

export async function place(peer: PeerServer, layout: Layout): Promise<Placed> {
  const started = performance.now();
  let roomIds: string[];
  let tokens: string[] = [];
  const nodes = peer.nodes;
  if (peer.name === 'flametalk') {
    const http = nodes[0]!.httpUrl!;
    const users = await signUpUsers(http, Math.max(1, Math.min(layout.users, layout.socketsPerRoom)));
    tokens = users.map((u) => u.accessToken);
    roomIds = await createRooms(http, users[0]!, users.slice(1), layout.rooms);
  } else {
    roomIds = Array.from({ length: layout.rooms }, (_, r) => String(1_000_000 + r));
  }
  const address = addressPool();
  const specs: ClientSpec[] = [];
  for (let r = 0; r < layout.rooms; r++) {
    // In a cluster the sender of room r sits on node r mod N; the room's other sockets alternate
    // between nodes (split) or stay with it (disjoint).
    const senderNode = r % nodes.length;
    const disjoint = layout.placement === 'disjoint';
    for (let k = 0; k < layout.socketsPerRoom; k++) {
      const node = disjoint ? senderNode : (senderNode + k) % nodes.length;
      const token = tokens.length ? tokens[k % tokens.length]! : undefined;
      const url = token ? `${nodes[node]!.wsUrl}?access_token=${encodeURIComponent(token)}` : nodes[node]!.wsUrl;
      const index = specs.length;
      specs.push({
        url, protocol: peer.protocol, rooms: [roomIds[r]!], localAddress: address(index), node,
        ...(nodes.length > 1 ? { group: node === senderNode ? 'same-node' : 'cross-node' } : {}),
      });
    }
  }
  return { specs, roomIds, setupSeconds: (performance.now() - started) / 1000 };
}
