import type { RoomEvent } from './model.ts';
import type { ChatStore } from '../infra/ports/store.ts';

/**
 * The persister consumer group's handler: every message on the bus goes to the store, once per
 * event across the cluster. A failing store rejects the batch, and the bus redelivers it later;
 * inserts are idempotent by message id, so redelivery never duplicates history.
 */
export function persister(store: ChatStore) {
  return async (events: RoomEvent[]): Promise<void> => {
    const messages = events.flatMap((event) => (event.kind === 'message' ? [event.message] : []));
    if (messages.length > 0) await store.appendMessages(messages);
  };
}
