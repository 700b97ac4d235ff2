import type { ChatMessage, EventOrigin, MessageId, RoomId, RoomSignal, UserId, UserSignal } from '../../chat/model.ts';

/** A position taken in a room's order for a message about to be published. */
export interface Reservation {
  /** 1, 2, 3, … per room, without gaps: a receiver that sees 7 after 5 knows 6 is missing. */
  seq: number;
  /** The message's id, raised above every id the room already has, so id order is seq order. */
  messageId: MessageId;
}

/** One position of a room's order: a message, or a reserved position that will never hold one. */
export type FeedEntry =
  | { seq: number; message: ChatMessage; origin?: EventOrigin }
  | { seq: number; void: true };

/** What a subscriber of a room or user topic receives, in the order the feed published it. */
export interface FeedHandler {
  /** Sequenced entries of a room topic (at least once, possibly out of seq order). */
  entries(roomId: RoomId, entries: FeedEntry[]): void;
  /** Unsequenced live events: typing, read, presence, membership (room topics) and room changes (user topics). */
  signal(signal: RoomSignal | UserSignal): void;
  /**
   * Live delivery may have missed entries (the connection to the feed was lost and restored, or the
   * room's order was reset): the subscriber should catch up with `replay` from where it is.
   */
  interrupted(roomId?: RoomId): void;
}

export interface FeedSubscription {
  /**
   * Every position up to this one was committed or voided when the subscription became active:
   * the subscriber receives, live, every entry after it that is committed from now on.
   */
  readonly through: number;
  /** Identifies this incarnation of the room's order: a new epoch means seq numbering started over. */
  readonly epoch: string;
  stop(): Promise<void>;
}

export interface Replay {
  /** Committed and voided entries in the asked range that the feed still holds, by seq. */
  entries: FeedEntry[];
  /** Every position up to here is committed or voided (reservations whose owner died are voided on the way). */
  through: number;
  /** The lowest seq the feed still holds (older ones were trimmed); 1 when it holds the room from its start. */
  floor: number;
  /** The highest seq reserved so far. */
  head: number;
  epoch: string;
}

export interface ReserveCandidate {
  messageId: MessageId;
  /** Keep this id even if the room has higher ones (a message resumed after a failed attempt). */
  fixed?: boolean;
}

export interface ReserveOptions {
  /** How long the reserver may go without committing or renewing; afterwards anyone may void the position. */
  leaseMs: number;
  /**
   * Makes a unique id of the reserving node in the given millisecond (since the snowflake epoch), for
   * a candidate the room's order had to raise above its highest id.
   */
  raisedAt(epochMs: number): MessageId;
}

export type FeedTopic = { room: RoomId } | { user: UserId };

/**
 * A room's live order and its delivery to the nodes that have members in it, and only to those
 * (Redis sharded pub/sub in a cluster; in-process in embedded mode). Publishing a message takes a
 * position first (`reserve`), makes the message durable elsewhere (the bus or the store), then
 * `commit`s it: receivers deliver positions in seq order, hold a later one while an earlier one
 * is still missing, and fill a gap from `replay`. The feed keeps a bounded window of recent
 * entries per room, so a node that just started serving a room can recover what its clients
 * missed before the store has it.
 */
export interface RoomFeed {
  /**
   * Takes the next positions of a room, one per candidate id, in order. A candidate is kept when it
   * is above every id of the room, otherwise raised just above the highest. `fixed` ids are kept as
   * they are (a resumed message keeps its id even when newer ones exist).
   */
  reserve(roomId: RoomId, candidates: ReserveCandidate[], options: ReserveOptions): Promise<Reservation[]>;
  /** The reserver is still at work on these positions: their leases run `leaseMs` from now (final ones stay as they are). */
  renew(roomId: RoomId, seqs: number[], leaseMs: number): Promise<void>;
  /** Makes reserved positions final (messages or voids), then delivers them to every subscribed node. */
  commit(roomId: RoomId, entries: FeedEntry[]): Promise<void>;
  /** Delivers an unsequenced event to every node subscribed to its topic. At most once. */
  signal(signal: RoomSignal | UserSignal): Promise<void>;
  /** Starts receiving a topic on this node; resolves once live delivery is active. */
  subscribe(topic: FeedTopic, handler: FeedHandler): Promise<FeedSubscription>;
  /** What the feed holds for a room from `fromSeq` up to `toSeq` (default: everything it holds from there). */
  replay(roomId: RoomId, fromSeq: number, toSeq?: number): Promise<Replay>;
  close(): Promise<void>;
}
