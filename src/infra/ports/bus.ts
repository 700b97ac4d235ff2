import type { MessageEvent, RoomId } from '../../chat/model.ts';

export interface BusSubscription {
  stop(): Promise<void>;
}

/**
 * The durable log of messages, ordered per room, read by consumer groups: each event of a group
 * is handled by one member across the cluster, at least once, redelivered in order when the
 * handler fails. Persistence and notification are groups, so each happens once per message.
 *
 * Live delivery to the nodes with members in a room does not go through here (see RoomFeed): a
 * node never reads events of rooms it has no members of.
 */
export interface RoomEventBus {
  /** True when publish() resolving means the event survives a crash (Kafka acks=all); false in-process. */
  readonly durable: boolean;
  /** Resolves once the event is held (durably when `durable`). */
  publish(event: MessageEvent): Promise<void>;
  /** The handler gets events in per-room order, in batches; a rejection redelivers the batch later. */
  consume(group: string, handler: (events: MessageEvent[]) => Promise<void>): Promise<BusSubscription>;
  /**
   * How many events of the room's partition `group` has not handled yet; 0 means the group has
   * handled every event of the room published before this call (the persister has stored them).
   */
  backlog(group: string, roomId: RoomId): Promise<number>;
  /** Events published but not yet handled by this node's group members. */
  lag(): Promise<number>;
  close(): Promise<void>;
}
