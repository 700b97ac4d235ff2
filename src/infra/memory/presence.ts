import type { RoomId, UserId } from '../../chat/model.ts';
import type { PresenceExit, PresenceStore, PresenceSweep } from '../ports/presence.ts';

const entryKey = (roomId: RoomId, userId: UserId, connectionId: string): string =>
  `${roomId}\t${userId}\t${connectionId}`;

/** Presence state shared by the in-process nodes of one process (one in embedded mode). */
export class MemoryPresenceHub {
  /** room → user → connection keys (`node\tconnection`) */
  readonly rooms = new Map<RoomId, Map<UserId, Set<string>>>();
  readonly members = new Map<RoomId, Set<UserId>>();
  readonly leases = new Map<string, number>();
  /** node → its entries, so a dead node's entries can be found */
  readonly nodeEntries = new Map<string, Set<string>>();

  remove(nodeId: string, roomId: RoomId, userId: UserId, connectionId: string): boolean {
    this.nodeEntries.get(nodeId)?.delete(entryKey(roomId, userId, connectionId));
    const users = this.rooms.get(roomId);
    const connections = users?.get(userId);
    if (!users || !connections?.delete(`${nodeId}\t${connectionId}`)) return false;
    if (connections.size > 0) return false;
    users.delete(userId);
    if (users.size === 0) this.rooms.delete(roomId);
    return true;
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
    let users = this.hub.rooms.get(roomId);
    if (!users) this.hub.rooms.set(roomId, (users = new Map()));
    let connections = users.get(userId);
    if (!connections) users.set(userId, (connections = new Set()));
    const wasAbsent = connections.size === 0;
    connections.add(`${this.nodeId}\t${connectionId}`);
    let own = this.hub.nodeEntries.get(this.nodeId);
    if (!own) this.hub.nodeEntries.set(this.nodeId, (own = new Set()));
    own.add(entryKey(roomId, userId, connectionId));
    return wasAbsent;
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
      const entries = this.hub.nodeEntries.get(nodeId) ?? new Set<string>();
      for (const key of entries) {
        if (budget-- === 0) return { exits, more: true };
        const [roomId, userId, connectionId] = key.split('\t') as [string, string, string];
        if (this.hub.remove(nodeId, roomId, userId, connectionId)) exits.push({ roomId, userId });
      }
      this.hub.leases.delete(nodeId);
      this.hub.nodeEntries.delete(nodeId);
    }
    return { exits, more: false };
  }

  async close(): Promise<void> {
    for (const key of [...(this.hub.nodeEntries.get(this.nodeId) ?? [])]) {
      const [roomId, userId, connectionId] = key.split('\t') as [string, string, string];
      this.hub.remove(this.nodeId, roomId, userId, connectionId);
    }
    this.hub.nodeEntries.delete(this.nodeId);
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
