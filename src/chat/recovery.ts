import type { RoomEventBus } from '../infra/ports/bus.ts';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { ChatMessage, MessageId, RoomId } from './model.ts';
import { compareIds } from './snowflake.ts';

export interface Recovery {
  /** Oldest first, at most the limit (the newest ones when more were missed). */
  missed: ChatMessage[];
  /** True only when `missed` is exactly everything after `since`. */
  recovered: boolean;
}

export interface RecoveryPorts {
  store: ChatStore;
  bus: RoomEventBus;
  feed: RoomFeed;
}

/** The persister group's name on the bus: its backlog says whether the store has every message yet. */
export const PERSISTER_GROUP = 'persister';

/** What a room actor delivered lately, oldest first. */
export interface RecentMessages {
  messages: readonly ChatMessage[];
  /**
   * The last message delivered before the latest void position. A void can still be filled (a
   * sender presumed dead whose message was durable after all, committed later by the persister),
   * so the recent messages are not the whole story of a client that saw no later message than this.
   */
  holeAfter?: MessageId;
}

/**
 * What a reconnecting client missed after `since`, from the closest source that holds all of it:
 * the room actor's recent messages, then the feed's window, then the store, which is trusted only
 * once the persister has stored every message of the room's partition (otherwise a client told
 * `recovered: true` could miss what is still on its way to the store).
 */
export async function missedSince(ports: RecoveryPorts, roomId: RoomId, since: MessageId, limit: number, recent: RecentMessages): Promise<Recovery> {
  const after = (m: ChatMessage): boolean => compareIds(m.messageId, since) > 0;
  const found = new Map<MessageId, ChatMessage>();
  const add = (messages: Iterable<ChatMessage>): void => {
    for (const m of messages) if (after(m)) found.set(m.messageId, m);
  };
  const result = (covered: boolean): Recovery => {
    const all = [...found.values()].sort((a, b) => compareIds(a.messageId, b.messageId));
    return { missed: all.slice(-limit), recovered: covered && all.length <= limit };
  };

  add(recent.messages);
  const holeAfterSince = recent.holeAfter !== undefined && compareIds(recent.holeAfter, since) >= 0;
  if (!holeAfterSince && recent.messages.length > 0 && !after(recent.messages[0]!)) return result(true);

  // The feed's window is complete after `since` if no position after the last message up to it is void.
  const window = await ports.feed.replay(roomId, 1);
  let seen = -1;
  window.entries.forEach((e, i) => {
    if ('message' in e) {
      if (!after(e.message)) seen = i;
      else found.set(e.message.messageId, e.message);
    }
  });
  if (seen >= 0 && window.entries.slice(seen + 1).every((e) => 'message' in e)) return result(true);

  try {
    const stored = ports.bus.durable ? ports.bus.backlog(PERSISTER_GROUP, roomId).then((n) => n === 0) : Promise.resolve(true);
    const [complete, history] = await Promise.all([stored, ports.store.history(roomId, { after: since, limit: limit + 1 })]);
    add(history);
    return result(complete);
  } catch {
    return result(false);
  }
}
