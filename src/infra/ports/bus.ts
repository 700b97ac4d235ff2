import type { RoomEvent } from '../../chat/model.ts';

export interface BusSubscription {
  stop(): Promise<void>;
}

/**
 * Carries room events between nodes, ordered per room.
 *
 * Two kinds of readers: `subscribe` gives this node every event published after it subscribed
 * (each node sees everything); `consume` shares events among all consumers of one group across
 * the cluster (each event handled by one of them), at least once, redelivering in order when the
 * handler fails. Persistence and notification are groups, so they happen once per event.
 */
export interface RoomEventBus {
  /** Resolves once the event is durable (Kafka: acknowledged by all in-sync replicas). */
  publish(event: RoomEvent): Promise<void>;
  subscribe(handler: (event: RoomEvent) => void): Promise<BusSubscription>;
  /** The handler gets events in per-room order, in batches; a rejection redelivers the batch later. */
  consume(group: string, handler: (events: RoomEvent[]) => Promise<void>): Promise<BusSubscription>;
  /** Events published but not yet handled by this node's readers (subscription and groups). */
  lag(): Promise<number>;
  close(): Promise<void>;
}
