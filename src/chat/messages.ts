import type { RoomEventBus } from '../infra/ports/bus.ts';
import type { SendDeduplicator } from '../infra/ports/dedup.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import { badRequest } from './errors.ts';
import type { ChatMessage, DeviceId, EventOrigin, MessageId, MessageType, RoomId, UserId } from './model.ts';
import { SnowflakeGenerator, compareIds, snowflakeTime } from './snowflake.ts';

/** How long a device's client message id is remembered for de-duplication. */
const DEDUP_TTL_MS = 24 * 3_600_000;

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

/**
 * Posting and reading messages. Posting is the one path every protocol uses: an id, a
 * de-duplication claim, then the bus; it resolves only once the bus holds the message durably.
 * History reaches the store through the persister group, never from here.
 */
export class MessageService {
  private inFlight = 0;
  private readonly settledWaiters: Array<() => void> = [];

  constructor(
    private readonly store: ChatStore,
    private readonly bus: RoomEventBus,
    private readonly dedup: SendDeduplicator,
    private readonly ids: SnowflakeGenerator,
    private readonly maxTextLength: number,
  ) {}

  async post(sender: Sender, draft: Draft, origin?: EventOrigin): Promise<Posted> {
    this.check(draft);
    this.inFlight++;
    try {
      return await this.publish(sender, draft, origin);
    } finally {
      if (--this.inFlight === 0) for (const wake of this.settledWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no post is on its way to the bus (graceful shutdown waits for this). */
  settled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private async publish(sender: Sender, draft: Draft, origin?: EventOrigin): Promise<Posted> {
    const messageId = this.ids.next();
    const dedupKey = draft.clientMsgId === undefined ? undefined : `${sender.userId}:${sender.deviceId}:${draft.clientMsgId}`;
    if (dedupKey) {
      const earlier = await this.dedup.claim(dedupKey, messageId, DEDUP_TTL_MS);
      if (earlier !== undefined) return { messageId: earlier, createdAt: snowflakeTime(earlier), duplicate: true };
    }
    const message: ChatMessage = {
      messageId, roomId: draft.roomId, senderId: sender.userId, nickname: sender.nickname, messageType: draft.messageType,
      contents: draft.contents, fileUrl: draft.fileUrl ?? null, createdAt: snowflakeTime(messageId),
    };
    try {
      await this.bus.publish({ kind: 'message', roomId: draft.roomId, message, ...(origin ? { origin } : {}) });
    } catch (error) {
      if (dedupKey) await this.dedup.release(dedupKey, messageId).catch(() => undefined);
      throw error;
    }
    return { messageId, createdAt: message.createdAt, duplicate: false, message };
  }

  /** Newest first. `after` (a reader's last read message) limits the page to what came later. */
  async history(roomId: RoomId, query: { before?: MessageId; after?: MessageId; limit: number }): Promise<HistoryPage> {
    const messages = await this.store.history(roomId, query);
    const full = messages.length === query.limit;
    return { messages, nextCursor: full ? messages.at(-1)!.messageId : null };
  }

  /**
   * What a reconnecting client missed after `since`, oldest first. Recovered is false when more
   * than `limit` were missed: the newest `limit` come back and history serves the rest.
   */
  async missedSince(roomId: RoomId, since: MessageId, limit: number, recent: ChatMessage[] = []): Promise<{ missed: ChatMessage[]; recovered: boolean }> {
    const stored = await this.store.history(roomId, { after: since, limit: limit + 1 });
    // Messages on the bus but not yet persisted are in the room actor's recent buffer.
    const byId = new Map(stored.map((m) => [m.messageId, m]));
    for (const message of recent) if (compareIds(message.messageId, since) > 0) byId.set(message.messageId, message);
    const all = [...byId.values()].sort((a, b) => compareIds(a.messageId, b.messageId));
    return { missed: all.slice(-limit), recovered: all.length <= limit };
  }

  async markRead(userId: UserId, roomId: RoomId, messageId: MessageId, origin?: EventOrigin): Promise<void> {
    await this.store.setReadPosition(roomId, userId, messageId);
    await this.bus.publish({ kind: 'read', roomId, userId, messageId, ...(origin ? { origin } : {}) });
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
