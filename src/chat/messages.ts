import type { RoomEventBus } from '../infra/ports/bus.ts';
import type { ClaimResult, SendDeduplicator } from '../infra/ports/dedup.ts';
import type { FeedEntry, Reservation, RoomFeed } from '../infra/ports/feed.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import { badRequest, ChatError } from './errors.ts';
import type { ChatMessage, DeviceId, EventOrigin, MessageId, MessageType, RoomId, UserId } from './model.ts';
import { withDeletedSenders } from './purge.ts';
import { SendLease } from './send-lease.ts';
import { SnowflakeGenerator, snowflakeTime } from './snowflake.ts';

/** How long a device's client message id is remembered for de-duplication. */
const DEDUP_TTL_MS = 24 * 3_600_000;
/**
 * How long one attempt holds its room position and its claim without renewing them (it renews both
 * while it works, see SendLease): after its node dies, a resend takes the message over, and the
 * room's later messages are delivered, within this.
 */
export const SEND_LEASE_MS = 10_000;
/** The longest a durable step takes before it fails (the Kafka bus's publish window). */
const DURABLE_STEP_MAX_MS = 30_000;

export interface Sender {
  userId: UserId;
  deviceId: DeviceId;
  nickname: string;
}

export interface Draft {
  roomId: RoomId;
  messageType: MessageType;
  contents: string;
  fileUrl?: string | null;
  /** The client's own id for this send; a resend with the same id is not stored twice. */
  clientMsgId?: string;
  /** System messages: the users the message is about. */
  userIds?: UserId[];
}

export interface Posted {
  messageId: MessageId;
  createdAt: number;
  /** True when this was a resend of a message already accepted. */
  duplicate: boolean;
  message?: ChatMessage;
}

export interface HistoryPage {
  messages: ChatMessage[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  nextCursor: MessageId | null;
}

export interface MessagePorts {
  store: ChatStore;
  bus: RoomEventBus;
  feed: RoomFeed;
  dedup: SendDeduplicator;
  /** When given, a FILE message must name a file of its room (rejects with a ChatError otherwise). */
  files?: { checkFileMessage(roomId: RoomId, fileUrl: string): Promise<void> };
  /**
   * When given, a send from a socket (one with an origin) is refused unless this resolves: the
   * sender is still a member (a removal that failed half-way must not leave them sending).
   */
  requireMember?: (userId: UserId, roomId: RoomId) => Promise<void>;
  /** When given, the name a sender goes by in a room (an open profile's nickname in an open room). */
  senderName?: (roomId: RoomId, userId: UserId) => Promise<string | undefined>;
  /** When given, history shows messages of purged accounts (no longer in the store) under this name. */
  deletedSenderName?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Posting and reading messages. Posting is the one path every protocol uses: a position in the
 * room's order, a de-duplication claim, the durable step (the bus when it is durable, else the
 * store), then the feed commit that delivers it. It resolves, and the client is acked, only once
 * the message is durable; a failure on the way voids the position and leaves the claim to be
 * resumed under the same id, so an ack never points at nothing.
 */
export class MessageService {
  private inFlight = 0;
  private readonly settledWaiters: Array<() => void> = [];
  private readonly raisedAt: (ms: number) => MessageId;

  constructor(
    private readonly ports: MessagePorts,
    private readonly ids: SnowflakeGenerator,
    private readonly maxTextLength: number,
    private readonly leaseMs = SEND_LEASE_MS,
  ) {
    this.raisedAt = (ms) => ids.raisedAt(ms);
  }

  async post(sender: Sender, draft: Draft, origin?: EventOrigin): Promise<Posted> {
    this.check(draft);
    this.inFlight++;
    try {
      return await this.publish(sender, draft, origin);
    } finally {
      if (--this.inFlight === 0) for (const wake of this.settledWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no post is on its way to durability (graceful shutdown waits for this). */
  settled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private async publish(sender: Sender, draft: Draft, origin?: EventOrigin): Promise<Posted> {
    const { roomId } = draft;
    // The checks that need I/O start now and are awaited once the position is reserved: reservations
    // leave in call order, which is what keeps one sender's messages in the order sent.
    const preparing = this.prepare(sender, draft, origin !== undefined);
    preparing.catch(() => undefined);
    const reservation = await this.reserve(roomId, this.ids.next(), false);
    const lease = new SendLease(roomId, this.ports, this.leaseMs);
    lease.seq = reservation.seq;
    try {
      return await this.claimAndPublish(lease, reservation, preparing, sender, draft, origin);
    } finally {
      lease.stop();
    }
  }

  private async claimAndPublish(
    lease: SendLease, reservation: Reservation, preparing: Promise<Sender>, sender: Sender, draft: Draft, origin?: EventOrigin,
  ): Promise<Posted> {
    const { feed, dedup } = this.ports;
    const { roomId } = draft;
    try {
      sender = await preparing;
    } catch (error) {
      await this.voidPosition(roomId, reservation);
      throw error;
    }
    let message = this.compose(sender, draft, reservation.messageId);
    // join makes one flat string: a template makes a tree of four, which the claim keeps for a day.
    const dedupKey = draft.clientMsgId === undefined ? undefined : [sender.userId, sender.deviceId, draft.clientMsgId].join(':');
    if (dedupKey) {
      let claim: ClaimResult;
      try {
        claim = await dedup.claim(dedupKey, message, { ttlMs: DEDUP_TTL_MS, leaseMs: this.leaseMs });
      } catch (error) {
        await this.voidPosition(roomId, reservation);
        throw error;
      }
      if (claim.outcome !== 'won') {
        lease.seq = undefined;
        await this.voidPosition(roomId, reservation);
        if (claim.outcome === 'pending') claim = await this.awaitClaim(dedupKey, message);
        if (claim.outcome === 'committed') {
          return { messageId: claim.messageId, createdAt: snowflakeTime(claim.messageId), duplicate: true };
        }
        if (claim.outcome === 'resume') {
          // An earlier attempt did not finish: this one publishes its message, under its id.
          message = claim.message;
          reservation = await this.reserve(roomId, message.messageId, true);
          lease.seq = reservation.seq;
        }
      }
      lease.claim = { key: dedupKey, messageId: message.messageId };
    }
    try {
      await this.makeDurable(message, reservation.seq, origin);
    } catch (error) {
      await this.voidPosition(roomId, reservation);
      if (dedupKey) await dedup.abandon(dedupKey, message.messageId).catch(() => undefined);
      throw error;
    }
    // Durable from here: the ack stands even if delivery or the claim update fails (the persister
    // commits the position too, and a resend resumes the claim under the same id).
    const entry: FeedEntry = { seq: reservation.seq, message, ...(origin ? { origin } : {}) };
    await Promise.all([
      feed.commit(roomId, [entry]).catch(() => undefined),
      dedupKey ? dedup.commit(dedupKey, message.messageId, DEDUP_TTL_MS).catch(() => undefined) : undefined,
    ]);
    return { messageId: message.messageId, createdAt: message.createdAt, duplicate: false, message };
  }

  /** A socket's sender is a member; a FILE message names a file of its room; a sender goes by their name in the room (an open profile's). */
  private async prepare(sender: Sender, draft: Draft, fromSocket: boolean): Promise<Sender> {
    const { files, senderName, requireMember } = this.ports;
    if (fromSocket && requireMember) await requireMember(sender.userId, draft.roomId);
    if (draft.messageType === 'FILE' && files) await files.checkFileMessage(draft.roomId, draft.fileUrl!);
    const alias = senderName ? await senderName(draft.roomId, sender.userId) : undefined;
    return alias === undefined ? sender : { ...sender, nickname: alias };
  }

  private async reserve(roomId: RoomId, messageId: MessageId, fixed: boolean): Promise<Reservation> {
    const [reservation] = await this.ports.feed.reserve(roomId, [{ messageId, ...(fixed ? { fixed } : {}) }], { leaseMs: this.leaseMs, raisedAt: this.raisedAt });
    return reservation!;
  }

  private async voidPosition(roomId: RoomId, reservation: Reservation): Promise<void> {
    // If this fails too, the position's lease runs out and receivers skip it then.
    await this.ports.feed.commit(roomId, [{ seq: reservation.seq, void: true }]).catch(() => undefined);
  }

  /** Another attempt holds the claim: wait for it to commit, or to fail, or for its lease to run out (its node died). */
  private async awaitClaim(key: string, message: ChatMessage): Promise<ClaimResult> {
    const deadline = Date.now() + DURABLE_STEP_MAX_MS + this.leaseMs + 1_000;
    for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
      await sleep(delay);
      const claim = await this.ports.dedup.claim(key, message, { ttlMs: DEDUP_TTL_MS, leaseMs: this.leaseMs });
      if (claim.outcome !== 'pending') return claim;
    }
    throw new ChatError(503, 'unavailable', 'an earlier send of this message is still in progress, try again');
  }

  private async makeDurable(message: ChatMessage, seq: number, origin?: EventOrigin): Promise<void> {
    const { bus, store } = this.ports;
    const event = { kind: 'message' as const, roomId: message.roomId, message, seq, ...(origin ? { origin } : {}) };
    if (bus.durable) {
      await bus.publish(event);
    } else {
      // In-process bus: the store is what survives, and the bus only feeds the notifier.
      await store.appendMessages([message]);
      bus.publish(event).catch(() => undefined);
    }
  }

  private compose(sender: Sender, draft: Draft, messageId: MessageId): ChatMessage {
    return {
      messageId, roomId: draft.roomId, senderId: sender.userId, nickname: sender.nickname, messageType: draft.messageType,
      contents: draft.contents, fileUrl: draft.fileUrl ?? null, createdAt: snowflakeTime(messageId),
      ...(draft.userIds ? { userIds: draft.userIds } : {}),
    };
  }

  /** Newest first. `after` (a reader's last read message) limits the page to what came later. */
  async history(roomId: RoomId, query: { before?: MessageId; after?: MessageId; limit: number }): Promise<HistoryPage> {
    const stored = await this.ports.store.history(roomId, query);
    const { deletedSenderName } = this.ports;
    const messages = deletedSenderName === undefined ? stored : await withDeletedSenders(this.ports.store, stored, deletedSenderName);
    const full = messages.length === query.limit;
    return { messages, nextCursor: full ? messages.at(-1)!.messageId : null };
  }

  async markRead(userId: UserId, roomId: RoomId, messageId: MessageId, origin?: EventOrigin): Promise<void> {
    await this.ports.store.setReadPosition(roomId, userId, messageId);
    await this.ports.feed.signal({ kind: 'read', roomId, userId, messageId, ...(origin ? { origin } : {}) });
  }

  private check(draft: Draft): void {
    // Code points, not UTF-16 units: an emoji is one character to the person typing it.
    if (draft.contents.length > this.maxTextLength && [...draft.contents].length > this.maxTextLength) {
      throw badRequest(`contents is longer than ${this.maxTextLength} characters`, 'text_too_long');
    }
    if (draft.messageType === 'TALK' && draft.contents.trim() === '') throw badRequest('contents is empty', 'empty_message');
    if (draft.messageType === 'FILE' && !draft.fileUrl) throw badRequest('a FILE message needs fileUrl', 'file_url_required');
  }
}
