import type { RoomId, UserId } from '../../chat/model.ts';

/** A user who stopped being present because the node holding their connection died. */
export interface PresenceExit {
  roomId: RoomId;
  userId: UserId;
}

/** One chunk of a sweep of dead nodes' entries. */
export interface PresenceSweep {
  exits: PresenceExit[];
  /** Entries of dead nodes may remain: sweep again. */
  more: boolean;
}

/**
 * Who is in which room right now, across the whole cluster.
 *
 * Presence is counted per connection but reported per user: a user with two devices in a room
 * stays present until both leave. Every entry belongs to the node that made it; a node that dies
 * without cleaning up loses its entries once its lease (renewed by `heartbeat`) runs out and any
 * live node calls `sweep`.
 *
 * The store also mirrors room membership so that "members who are not here" is one set
 * difference (a Redis SDIFF) for the notifier.
 */
export interface PresenceStore {
  /** Records a connection in a room. Resolves true when the user was not present before. */
  enter(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean>;
  /** Removes a connection. Resolves true when it was the user's last connection in the room. */
  exit(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean>;
  present(roomId: RoomId): Promise<UserId[]>;

  /** Replaces the membership mirror of a room. */
  setMembers(roomId: RoomId, userIds: UserId[]): Promise<void>;
  addMember(roomId: RoomId, userId: UserId): Promise<void>;
  removeMember(roomId: RoomId, userId: UserId): Promise<void>;
  /** Whether the membership mirror of a room is populated at all (a cache that may be cold). */
  hasMembers(roomId: RoomId): Promise<boolean>;
  /** Members of the room who are not present, without `exceptUserId`. */
  absentMembers(roomId: RoomId, exceptUserId?: UserId): Promise<UserId[]>;

  /**
   * Renews this node's lease; call well within the lease time. Resolves false when the lease had
   * already run out, so this node's entries may have been swept and should be entered again.
   */
  heartbeat(): Promise<boolean>;
  /**
   * Removes up to `limit` entries of nodes whose lease ran out (a dead node may hold tens of
   * thousands: call again while `more`); resolves the users who thereby left a room. Concurrent
   * sweeps, on any nodes, report each exit once.
   */
  sweep(limit: number): Promise<PresenceSweep>;
  /** Removes every entry this node made (graceful shutdown) and stops its lease. */
  close(): Promise<void>;
}
