import type { ChatStore } from '../infra/ports/store.ts';
import type { Room, RoomId, User, UserId } from './model.ts';

export interface StoreCacheOptions {
  /** How long a copy is used without asking the store again. */
  ttlMs: number;
  /** Most copies kept of each kind; the ones read longest ago go first. */
  maxEntries: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  readAt: number;
}

/**
 * Copies of store rows, bounded and expiring. A copy younger than the TTL is used as it is; an
 * older one is read again, and used still if the store cannot answer. Only rows that exist are
 * kept: an absence is always asked again (a user just added to a room must not be refused).
 */
class ReadCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  /** Concurrent reads of one key share one store read. */
  private readonly reading = new Map<string, Promise<V | undefined>>();
  /** Counts forget() calls: a read that began before one must not put back what it forgot. */
  private forgets = 0;

  constructor(private readonly options: Required<StoreCacheOptions>) {}

  async get(key: string, read: () => Promise<V | undefined>): Promise<V | undefined> {
    const entry = this.entries.get(key);
    if (entry && this.options.now() - entry.readAt < this.options.ttlMs) return entry.value;
    let pending = this.reading.get(key);
    if (!pending) {
      const started = pending = this.readThrough(key, read, entry);
      this.reading.set(key, started);
      const done = (): void => {
        if (this.reading.get(key) === started) this.reading.delete(key);
      };
      started.then(done, done);
    }
    return pending;
  }

  forget(key: string): void {
    this.forgets++;
    this.entries.delete(key);
    this.reading.delete(key);
  }

  private async readThrough(key: string, read: () => Promise<V | undefined>, stale: Entry<V> | undefined): Promise<V | undefined> {
    const forgets = this.forgets;
    let value: V | undefined;
    try {
      value = await read();
    } catch (error) {
      // The store is away: the last copy is the best answer there is (see the class comment).
      if (stale && this.entries.get(key) === stale) return stale.value;
      throw error;
    }
    if (this.forgets !== forgets) return value;
    this.entries.delete(key);
    if (value === undefined) return undefined;
    // Re-inserted, so the Map's first key is the copy read longest ago: the one to go.
    this.entries.set(key, { value, readAt: this.options.now() });
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

/**
 * What sockets read of the store to connect, join and send (the account, the room, the
 * membership), cached so that a store outage does not stop users who were here before from
 * connecting, joining and sending. A removal from a room is forgotten here at once; other nodes
 * read it within the TTL.
 */
export class StoreCache {
  private readonly users: ReadCache<User>;
  private readonly rooms: ReadCache<Room>;
  /** Only that the membership exists: its settings are no business of sockets (and cost memory per member). */
  private readonly memberships: ReadCache<true>;

  constructor(private readonly store: ChatStore, options: StoreCacheOptions) {
    const settings = { now: Date.now, ...options };
    this.users = new ReadCache(settings);
    this.rooms = new ReadCache(settings);
    this.memberships = new ReadCache(settings);
  }

  user(userId: UserId): Promise<User | undefined> {
    return this.users.get(userId, () => this.store.getUser(userId));
  }

  room(roomId: RoomId): Promise<Room | undefined> {
    return this.rooms.get(roomId, () => this.store.getRoom(roomId));
  }

  async isMember(roomId: RoomId, userId: UserId): Promise<boolean> {
    const found = await this.memberships.get(`${roomId}:${userId}`, async () => ((await this.store.getMembership(roomId, userId)) ? true : undefined));
    return found === true;
  }

  forgetMembership(roomId: RoomId, userId: UserId): void {
    this.memberships.forget(`${roomId}:${userId}`);
  }
}
