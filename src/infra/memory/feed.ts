import { randomBytes } from 'node:crypto';
import { approximateBytes, type RoomId, type RoomSignal, type UserSignal } from '../../chat/model.ts';
import { idFromParts, idParts, REST_BITS } from '../../chat/snowflake.ts';
import type {
  FeedEntry, FeedHandler, FeedSubscription, FeedTopic, Replay, Reservation, ReserveCandidate, ReserveOptions, RoomFeed,
} from '../ports/feed.ts';

const MAX_REST = 2 ** REST_BITS - 1;

/** One room's order: reserved positions, the highest id, and the recent window of committed entries. */
class RoomOrder {
  readonly epoch = randomBytes(6).toString('base64url');
  head = 0;
  through = 0;
  lastMs = -1;
  lastRest = -1;
  readonly window = new Map<number, FeedEntry>();
  /** approximateBytes of the window's messages. */
  windowBytes = 0;
  /** Seq → lease deadline of reservations not committed yet. */
  readonly pending = new Map<number, number>();
  /** Message ids committed in the window, so a message committed twice (a resumed send) is delivered once. */
  readonly ids = new Set<string>();
  /** The lowest seq still held. */
  floor = 1;
  lastActive = 0;


  /** Moves `through` over committed, voided and expired positions; voids the expired ones. */
  advance(now: number): void {
    while (this.through < this.head) {
      const next = this.through + 1;
      const deadline = this.pending.get(next);
      if (deadline !== undefined) {
        if (deadline > now) return;
        this.pending.delete(next);
        this.window.set(next, { seq: next, void: true });
      }
      this.through = next;
    }
  }

  keep(entry: FeedEntry): void {
    this.window.set(entry.seq, entry);
    if ('message' in entry) this.windowBytes += approximateBytes(entry.message);
  }

  /**
   * Drops the oldest positions beyond the window's count or bytes, keeping the newest one whatever
   * its size (positions are dense, so `floor` walks up one by one).
   */
  trim(windowSize: number, windowBytes: number): void {
    while ((this.window.size > windowSize || (this.windowBytes > windowBytes && this.window.size > 1)) && this.floor < this.head) {
      const entry = this.window.get(this.floor);
      if (entry) {
        if ('message' in entry) {
          this.ids.delete(entry.message.messageId);
          this.windowBytes -= approximateBytes(entry.message);
        }
        this.window.delete(this.floor);
      }
      this.floor++;
    }
  }
}

interface Subscriber {
  feed: MemoryFeed;
  handler: FeedHandler;
}

/** The shared state of the in-process nodes of one process (one in embedded mode, several in tests). */
export class MemoryFeedHub {
  readonly rooms = new Map<RoomId, RoomOrder>();
  readonly topics = new Map<string, Set<Subscriber>>();
  private sweepAt = 0;

  /** A room's order is forgotten after `ttlMs` without activity, as in Redis (it gets a new epoch). */
  constructor(readonly now: () => number = Date.now, private readonly ttlMs = 3_600_000) {}

  room(roomId: RoomId): RoomOrder {
    const now = this.now();
    if (now >= this.sweepAt) this.sweep(now);
    let order = this.rooms.get(roomId);
    if (!order) this.rooms.set(roomId, (order = new RoomOrder()));
    order.lastActive = now;
    return order;
  }

  private sweep(now: number): void {
    this.sweepAt = now + Math.min(60_000, this.ttlMs);
    for (const [roomId, order] of this.rooms) if (now - order.lastActive > this.ttlMs) this.rooms.delete(roomId);
  }
}

const topicKey = (topic: FeedTopic): string => ('room' in topic ? `room:${topic.room}` : `user:${topic.user}`);
const signalTopic = (signal: RoomSignal | UserSignal): string =>
  signal.kind === 'room' ? `user:${signal.userId}` : `room:${signal.roomId}`;

/**
 * The in-process RoomFeed: the same contract as the Redis feed. Entries reach subscribers
 * asynchronously (a microtask), like a real network would, and are shared read-only objects.
 */
export class MemoryFeed implements RoomFeed {
  private readonly queue: Array<() => void> = [];
  private flushing = false;
  private closed = false;

  private readonly window: number;
  private readonly windowBytes: number;

  /**
   * `window`: committed positions kept per room, `windowBytes`: at most this many bytes of their
   * messages (embedded mode needs few: the store has every message at once).
   */
  constructor(private readonly hub: MemoryFeedHub = new MemoryFeedHub(), options: { window?: number; windowBytes?: number } = {}) {
    this.window = options.window ?? 256;
    this.windowBytes = options.windowBytes ?? 65_536;
  }

  async reserve(roomId: RoomId, candidates: ReserveCandidate[], options: ReserveOptions): Promise<Reservation[]> {
    const order = this.hub.room(roomId);
    const deadline = this.hub.now() + options.leaseMs;
    return candidates.map(({ messageId, fixed }) => {
      const seq = ++order.head;
      order.pending.set(seq, deadline);
      const { ms, rest } = idParts(messageId);
      const above = ms > order.lastMs || (ms === order.lastMs && rest > order.lastRest);
      if (fixed || above) {
        if (above) [order.lastMs, order.lastRest] = [ms, rest];
        return { seq, messageId };
      }
      // Raised into the next millisecond, which the room then treats as used up entirely.
      const raisedMs = order.lastMs + 1;
      [order.lastMs, order.lastRest] = [raisedMs, MAX_REST];
      return { seq, messageId: options.raisedAt(raisedMs) };
    });
  }

  async renew(roomId: RoomId, seqs: number[], leaseMs: number): Promise<void> {
    const order = this.hub.rooms.get(roomId);
    if (!order) return;
    const deadline = this.hub.now() + leaseMs;
    for (const seq of seqs) if (order.pending.has(seq)) order.pending.set(seq, deadline);
  }

  async commit(roomId: RoomId, entries: FeedEntry[]): Promise<void> {
    const order = this.hub.room(roomId);
    const fresh: FeedEntry[] = [];
    for (const given of entries) {
      let entry = given;
      const known = order.window.get(entry.seq);
      if ('message' in entry && order.ids.has(entry.message.messageId)) {
        // The message holds another position already (a resumed send whose first attempt got there
        // too): this one never will, so it is voided now rather than holding the room until its lease ends.
        if (!order.pending.has(entry.seq)) continue;
        entry = { seq: entry.seq, void: true };
      } else if ('message' in entry) {
        // A late commit of a position already voided (its reserver was presumed dead) still delivers.
        if (known && 'message' in known) continue;
        order.ids.add(entry.message.messageId);
      } else if (known) {
        continue;
      }
      order.pending.delete(entry.seq);
      // Below the floor (trimmed while still pending): delivered, no longer held.
      if (entry.seq >= order.floor) order.keep(entry);
      fresh.push(entry);
    }
    order.advance(this.hub.now());
    order.trim(this.window, this.windowBytes);
    if (fresh.length > 0) this.deliver(`room:${roomId}`, (s) => s.handler.entries(roomId, fresh));
  }

  async signal(signal: RoomSignal | UserSignal): Promise<void> {
    this.deliver(signalTopic(signal), (s) => s.handler.signal(signal));
  }

  async subscribe(topic: FeedTopic, handler: FeedHandler): Promise<FeedSubscription> {
    const key = topicKey(topic);
    let subscribers = this.hub.topics.get(key);
    if (!subscribers) this.hub.topics.set(key, (subscribers = new Set()));
    const subscriber: Subscriber = { feed: this, handler };
    subscribers.add(subscriber);
    let through = 0;
    let epoch = '';
    if ('room' in topic) {
      const order = this.hub.room(topic.room);
      order.advance(this.hub.now());
      ({ through, epoch } = order);
    }
    return {
      through,
      epoch,
      stop: async () => {
        subscribers.delete(subscriber);
        if (subscribers.size === 0 && this.hub.topics.get(key) === subscribers) this.hub.topics.delete(key);
      },
    };
  }

  async replay(roomId: RoomId, fromSeq: number, toSeq = Number.MAX_SAFE_INTEGER): Promise<Replay> {
    const order = this.hub.room(roomId);
    order.advance(this.hub.now());
    const entries = [...order.window.values()].filter((e) => e.seq >= fromSeq && e.seq <= toSeq).sort((a, b) => a.seq - b.seq);
    return { entries, through: order.through, floor: order.floor, head: order.head, epoch: order.epoch };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscribers of this.hub.topics.values()) {
      for (const subscriber of subscribers) if (subscriber.feed === this) subscribers.delete(subscriber);
    }
  }

  /** Every feed of the hub delivers to its own subscribers, in one microtask per burst of publishes. */
  private deliver(key: string, call: (subscriber: Subscriber) => void): void {
    const subscribers = this.hub.topics.get(key);
    if (!subscribers || this.closed) return;
    for (const subscriber of subscribers) subscriber.feed.enqueue(() => call(subscriber));
  }

  private enqueue(task: () => void): void {
    if (this.closed) return;
    this.queue.push(task);
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      for (const run of this.queue.splice(0)) {
        try {
          run();
        } catch (error) {
          // A subscriber's bug must not stop delivery to the others.
          process.emitWarning(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
  }
}
