import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RoomId, RoomSignal, UserSignal } from '../../chat/model.ts';
import { idParts } from '../../chat/snowflake.ts';
import type {
  FeedEntry, FeedHandler, FeedSubscription, FeedTopic, Replay, Reservation, ReserveCandidate, ReserveOptions, RoomFeed,
} from '../ports/feed.ts';
import { COMMIT, RENEW, REPLAY, RESERVE } from './feed-scripts.ts';

export interface RedisFeedOptions {
  prefix?: string;
  /** Committed positions kept per room for gap repair and recovery. */
  window?: number;
  /** A room's order is forgotten after this long without activity. */
  ttlMs?: number;
}

interface Envelope {
  ep?: string;
  e?: FeedEntry[];
  g?: RoomSignal | UserSignal;
}

interface Topic {
  roomId?: RoomId;
  handlers: Set<FeedHandler>;
  epoch: string;
  subscribed: Promise<unknown>;
}

/**
 * The cluster RoomFeed on Redis: a room's order is one hash slot (Lua scripts keep it consistent),
 * and live delivery is sharded pub/sub, so a node receives the channels of the rooms and users it
 * subscribed to and nothing else. `subscriber` is put in subscriber mode and used for nothing else.
 */
export class RedisFeed implements RoomFeed {
  private readonly prefix: string;
  private readonly window: number;
  private readonly ttlMs: number;
  private readonly topics = new Map<string, Topic>();
  private connectedOnce = false;

  constructor(private readonly redis: Redis, private readonly subscriber: Redis, options: RedisFeedOptions = {}) {
    this.prefix = options.prefix ?? 'flametalk:';
    this.window = options.window ?? 256;
    this.ttlMs = options.ttlMs ?? 3_600_000;
    this.connectedOnce = subscriber.status === 'ready';
    subscriber.on('smessage', this.onMessage);
    subscriber.on('ready', this.onReady);
  }

  async reserve(roomId: RoomId, candidates: ReserveCandidate[], options: ReserveOptions): Promise<Reservation[]> {
    const args: Array<string | number> = [randomBytes(6).toString('base64url'), options.leaseMs, this.ttlMs];
    for (const { messageId, fixed } of candidates) {
      const { ms, rest } = idParts(messageId);
      args.push(ms, rest, fixed ? '1' : '0');
    }
    const reply = (await RESERVE.run(this.redis, [this.key(roomId, 'head'), this.key(roomId, 'pend')], args)) as Array<string | number>;
    return candidates.map((candidate, i) => {
      const seq = Number(reply[1 + i * 2]);
      const raisedMs = Number(reply[2 + i * 2]);
      return { seq, messageId: raisedMs < 0 ? candidate.messageId : options.raisedAt(raisedMs) };
    });
  }

  async renew(roomId: RoomId, seqs: number[], leaseMs: number): Promise<void> {
    await RENEW.run(this.redis, [this.key(roomId, 'pend')], [leaseMs, ...seqs]);
  }

  async commit(roomId: RoomId, entries: FeedEntry[]): Promise<void> {
    const args: Array<string | number> = [this.window, this.ttlMs];
    for (const entry of entries) args.push(entry.seq, 'message' in entry ? entry.message.messageId : '', JSON.stringify(entry));
    await COMMIT.run(this.redis, this.roomKeys(roomId), args);
  }

  async signal(signal: RoomSignal | UserSignal): Promise<void> {
    const channel = signal.kind === 'room' ? this.userChannel(signal.userId) : this.roomChannel(signal.roomId);
    await this.redis.spublish(channel, JSON.stringify({ g: signal }));
  }

  async subscribe(topic: FeedTopic, handler: FeedHandler): Promise<FeedSubscription> {
    const roomId = 'room' in topic ? topic.room : undefined;
    const channel = roomId !== undefined ? this.roomChannel(roomId) : this.userChannel((topic as { user: string }).user);
    let entry = this.topics.get(channel);
    if (!entry) {
      entry = { roomId, handlers: new Set(), epoch: '', subscribed: this.subscriber.ssubscribe(channel) };
      this.topics.set(channel, entry);
    }
    entry.handlers.add(handler);
    const current = entry;
    try {
      await current.subscribed;
    } catch (error) {
      await this.unsubscribe(channel, current, handler);
      throw error;
    }
    let through = 0;
    if (roomId !== undefined) {
      const state = await this.replay(roomId, Number.MAX_SAFE_INTEGER);
      through = state.through;
      current.epoch = state.epoch;
    }
    return { through, epoch: current.epoch, stop: () => this.unsubscribe(channel, current, handler) };
  }

  async replay(roomId: RoomId, fromSeq: number, toSeq = Number.MAX_SAFE_INTEGER): Promise<Replay> {
    const reply = (await REPLAY.run(
      this.redis,
      [this.key(roomId, 'head'), this.key(roomId, 'log'), this.key(roomId, 'pend')],
      [fromSeq, toSeq === Number.MAX_SAFE_INTEGER ? '+inf' : toSeq],
    )) as Array<string | number>;
    const [through, head, floor, epoch, ...entries] = reply;
    return {
      through: Number(through), head: Number(head), floor: Number(floor), epoch: String(epoch),
      entries: entries.map((json) => JSON.parse(String(json)) as FeedEntry),
    };
  }

  async close(): Promise<void> {
    this.subscriber.off('smessage', this.onMessage);
    this.subscriber.off('ready', this.onReady);
    const channels = [...this.topics.keys()];
    this.topics.clear();
    if (channels.length > 0) await this.subscriber.sunsubscribe(...channels).catch(() => undefined);
  }

  private async unsubscribe(channel: string, topic: Topic, handler: FeedHandler): Promise<void> {
    topic.handlers.delete(handler);
    if (topic.handlers.size > 0 || this.topics.get(channel) !== topic) return;
    this.topics.delete(channel);
    await this.subscriber.sunsubscribe(channel).catch(() => undefined);
  }

  private readonly onMessage = (channel: string, text: string): void => {
    const topic = this.topics.get(channel);
    if (!topic) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    for (const handler of topic.handlers) {
      try {
        if (envelope.g) {
          handler.signal(envelope.g);
        } else if (envelope.e && topic.roomId !== undefined) {
          // The room's order was forgotten and started over: positions from before mean nothing now.
          // (A room that did not exist yet when the subscription started just got its first epoch.)
          if (topic.epoch !== '' && envelope.ep !== topic.epoch) handler.interrupted(topic.roomId);
          else handler.entries(topic.roomId, envelope.e);
        }
      } catch {
        // A handler's bug must not stop delivery to the others.
      }
    }
    if (envelope.e && envelope.ep !== undefined && envelope.ep !== topic.epoch) topic.epoch = envelope.ep;
  };

  /** After a reconnection the subscriptions are back, but whatever was published meanwhile is gone. */
  private readonly onReady = (): void => {
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      return;
    }
    for (const topic of this.topics.values()) for (const handler of topic.handlers) handler.interrupted(topic.roomId);
  };

  private key(roomId: RoomId, part: 'head' | 'log' | 'ids' | 'pend'): string {
    return `${this.prefix}feed:{${roomId}}:${part}`;
  }

  private roomKeys(roomId: RoomId): string[] {
    return [this.key(roomId, 'head'), this.key(roomId, 'log'), this.key(roomId, 'ids'), this.key(roomId, 'pend'), this.roomChannel(roomId)];
  }

  private roomChannel(roomId: RoomId): string {
    return `${this.prefix}feed:{${roomId}}`;
  }

  private userChannel(userId: string): string {
    return `${this.prefix}user:{${userId}}`;
  }
}
