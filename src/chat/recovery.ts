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

/**
 * What a reconnecting client missed after `since`, from the closest source that holds all of it:
 * the room actor's recent messages, then the feed's window, then the store, which is trusted only
 * once the persister has stored every message of the room's partition (otherwise a client told
 * `recovered: true` could miss what is still on its way to the store).
 */
export async function missedSince(ports: RecoveryPorts, roomId: RoomId, since: MessageId, limit: number, recent: readonly ChatMessage[]): Promise<Recovery> {
  const after = (m: ChatMessage): boolean => compareIds(m.messageId, since) > 0;
  const found = new Map<MessageId, ChatMessage>();
  const add = (messages: Iterable<ChatMessage>): void => {
    for (const m of messages) if (after(m)) found.set(m.messageId, m);
  };
  const result = (covered: boolean): Recovery => {
    const all = [...found.values()].sort((a, b) => compareIds(a.messageId, b.messageId));
    return { missed: all.slice(-limit), recovered: covered && all.length <= limit };
  };

  add(recent);
  if (recent.length > 0 && !after(recent[0]!)) return result(true);

  const window = await ports.feed.replay(roomId, 1);
  const windowMessages = window.entries.flatMap((e) => ('message' in e ? [e.message] : []));
  add(windowMessages);
  if (windowMessages.some((m) => !after(m))) return result(true);

  try {
    const stored = ports.bus.durable ? ports.bus.backlog(PERSISTER_GROUP, roomId).then((n) => n === 0) : Promise.resolve(true);
    const [complete, history] = await Promise.all([stored, ports.store.history(roomId, { after: since, limit: limit + 1 })]);
    add(history);
    return result(complete);
  } catch {
    return result(false);
  }
}
