import type { FeedEntry, RoomFeed } from '../infra/ports/feed.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { MessageEvent, RoomId } from './model.ts';

/**
 * The persister consumer group's handler: every message on the bus goes to the store, once per
 * event across the cluster. A failing store rejects the batch, and the bus redelivers it later;
 * inserts are idempotent by message id, so redelivery never duplicates history.
 *
 * It also commits each message to its room's feed position: a sender that died between the bus
 * and its own commit left the position reserved, and this delivers the message anyway (the feed
 * ignores a second commit of a message, and a late one replaces the void its expired lease left).
 */
export function persister(store: ChatStore, feed: RoomFeed) {
  return async (events: MessageEvent[]): Promise<void> => {
    if (events.length === 0) return;
    await store.appendMessages(events.map((event) => event.message));
    const byRoom = new Map<RoomId, FeedEntry[]>();
    for (const { roomId, message, seq, origin } of events) {
      if (seq === undefined) continue;
      const entries = byRoom.get(roomId) ?? byRoom.set(roomId, []).get(roomId)!;
      entries.push({ seq, message, ...(origin ? { origin } : {}) });
    }
    await Promise.all([...byRoom].map(([roomId, entries]) => feed.commit(roomId, entries).catch(() => undefined)));
  };
}
