import type { RoomId, UserId } from '../../chat/model.ts';
import type { PresenceExit, PresenceStore, PresenceSweep } from '../ports/presence.ts';

const connectionKey = (nodeId: string, connectionId: string): string => `${nodeId}\t${connectionId}`;

/**
 * Presence state shared by the in-process nodes of one process (one in embedded mode). A user's
 * connections in a room are one string while there is one (the common case: a node holds one entry
 * per joined socket), a set only beyond that.
 */
export class MemoryPresenceHub {
  /** room → user → connection key(s) (`node\tconnection`) */
  readonly rooms = new Map<RoomId, Map<UserId, string | Set<string>>>();
  readonly members = new Map<RoomId, Set<UserId>>();
  readonly leases = new Map<string, number>();

  /** Adds a connection; true when the user was not present in the room before. */
  add(nodeId: string, roomId: RoomId, userId: UserId, connectionId: string): boolean {
    const key = connectionKey(nodeId, connectionId);
    let users = this.rooms.get(roomId);
    if (!users) this.rooms.set(roomId, (users = new Map()));
    const held = users.get(userId);
    if (held === undefined) users.set(userId, key);
    else if (typeof held === 'string') {
      if (held !== key) users.set(userId, new Set([held, key]));
    } else held.add(key);
    return held === undefined;
  }

  /** Removes a connection; true when it was the user's last one in the room. */
  remove(nodeId: string, roomId: RoomId, userId: UserId, connectionId: string): boolean {
    const key = connectionKey(nodeId, connectionId);
    const users = this.rooms.get(roomId);
    const held = users?.get(userId);
    if (!users || held === undefined) return false;
    if (typeof held !== 'string') {
      if (!held.delete(key)) return false;
      if (held.size === 1) users.set(userId, held.values().next().value!);
      return false;
    }
    if (held !== key) return false;
    users.delete(userId);
    if (users.size === 0) this.rooms.delete(roomId);
    return true;
  }

  /**
   * Removes every entry of `nodeId` (a dead node, or one closing); returns the users who left a room
   * by it. A scan of all entries, which is rare (a lapsed lease, a shutdown) next to enter and exit.
   */
  removeNode(nodeId: string, limit = Infinity): PresenceSweep {
    const prefix = `${nodeId}\t`;
    const found: Array<[RoomId, UserId, string]> = [];
    let more = false;
    scan: for (const [roomId, users] of this.rooms) {
      for (const [userId, held] of users) {
        for (const key of typeof held === 'string' ? [held] : held) {
          if (!key.startsWith(prefix)) continue;
          if (found.length === limit) {
            more = true;
            break scan;
          }
          found.push([roomId, userId, key.slice(prefix.length)]);
        }
      }
    }
    const exits: PresenceExit[] = [];
    for (const [roomId, userId, connectionId] of found) if (this.remove(nodeId, roomId, userId, connectionId)) exits.push({ roomId, userId });
    return { exits, more };
  }
}

export interface MemoryPresenceOptions {
  nodeId: string;
  leaseMs: number;
  hub?: MemoryPresenceHub;
  now?: () => number;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly hub: MemoryPresenceHub;
  private readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly now: () => number;
  /** Whether this node has taken a lease, so that losing it can be told apart from never having one. */
  private leased = false;
  private lostLease = false;

  constructor(options: MemoryPresenceOptions) {
    this.hub = options.hub ?? new MemoryPresenceHub();
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs;
    this.now = options.now ?? Date.now;
  }

  async enter(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean> {
    if (!this.holdsLease()) {
      // Taking a new lease here must not hide from the next heartbeat that the old one lapsed.
      if (this.leased) this.lostLease = true;
      this.renew();
    }
    return this.hub.add(this.nodeId, roomId, userId, connectionId);
  }

  async exit(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean> {
    return this.hub.remove(this.nodeId, roomId, userId, connectionId);
  }

  async present(roomId: RoomId): Promise<UserId[]> {
    return [...(this.hub.rooms.get(roomId)?.keys() ?? [])];
  }

  async setMembers(roomId: RoomId, userIds: UserId[]): Promise<void> {
    this.hub.members.set(roomId, new Set(userIds));
  }

  async addMember(roomId: RoomId, userId: UserId): Promise<void> {
    let members = this.hub.members.get(roomId);
    if (!members) this.hub.members.set(roomId, (members = new Set()));
    members.add(userId);
  }

  async removeMember(roomId: RoomId, userId: UserId): Promise<void> {
    this.hub.members.get(roomId)?.delete(userId);
  }

  async hasMembers(roomId: RoomId): Promise<boolean> {
    return (this.hub.members.get(roomId)?.size ?? 0) > 0;
  }

  async absentMembers(roomId: RoomId, exceptUserId?: UserId): Promise<UserId[]> {
    const present = this.hub.rooms.get(roomId);
    return [...(this.hub.members.get(roomId) ?? [])].filter((u) => u !== exceptUserId && !present?.has(u));
  }

  async heartbeat(): Promise<boolean> {
    const lapsed = this.lostLease || (this.leased && !this.holdsLease());
    this.lostLease = false;
    this.renew();
    return !lapsed;
  }

  async sweep(limit: number): Promise<PresenceSweep> {
    const exits: PresenceExit[] = [];
    const now = this.now();
    let budget = limit;
    for (const [nodeId, expiresAt] of this.hub.leases) {
      if (expiresAt > now) continue;
      if (budget === 0) return { exits, more: true };
      const swept = this.hub.removeNode(nodeId, budget);
      exits.push(...swept.exits);
      if (swept.more) return { exits, more: true };
      budget -= swept.exits.length;
      this.hub.leases.delete(nodeId);
    }
    return { exits, more: false };
  }

  async close(): Promise<void> {
    this.hub.removeNode(this.nodeId);
    this.hub.leases.delete(this.nodeId);
    this.leased = false;
  }

  private holdsLease(): boolean {
    const expiresAt = this.hub.leases.get(this.nodeId);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  private renew(): void {
    this.leased = true;
    this.hub.leases.set(this.nodeId, this.now() + this.leaseMs);
  }
}
