import type {
  ChatMessage, DeviceId, DeviceToken, Membership, MessageId, Room, RoomId, User, UserId,
} from '../../chat/model.ts';

export class EmailTakenError extends Error {
  constructor(email: string) {
    super(`email ${email} is already registered`);
    this.name = 'EmailTakenError';
  }
}

export class PhoneTakenError extends Error {
  constructor(phoneNumber: string) {
    super(`phone number ${phoneNumber} is already registered`);
    this.name = 'PhoneTakenError';
  }
}

/** A user or room id that already exists: ids are never overwritten, so two nodes sharing a node id cannot clobber each other's rows. */
export class IdTakenError extends Error {
  constructor(what: 'user' | 'room', id: string) {
    super(`${what} id ${id} already exists`);
    this.name = 'IdTakenError';
  }
}

export interface HistoryQuery {
  /** Only messages with an id lower than this (the paging cursor). */
  before?: MessageId;
  /** Only messages with an id higher than this (what a reader has not seen yet). */
  after?: MessageId;
  limit: number;
}

export type UserPatch = Partial<Pick<User, 'nickname' | 'leftAt' | 'phoneNumber' | 'birthday' | 'passwordHash'>>;
export type MembershipPatch = Partial<Pick<Membership, 'title' | 'inputLock' | 'muted'>>;

/**
 * Durable chat state: accounts, rooms and members, history, read positions, push tokens.
 * Message inserts are idempotent by message id, so a redelivered event never duplicates history.
 */
export interface ChatStore {
  /**
   * Rejects with EmailTakenError when the email belongs to another account, PhoneTakenError when
   * the (normalised) phone number does, IdTakenError when the user id exists.
   */
  createUser(user: User): Promise<void>;
  getUser(userId: UserId): Promise<User | undefined>;
  /** Case-insensitive. */
  getUserByEmail(email: string): Promise<User | undefined>;
  /** Exact match of the normalised phone number. */
  getUserByPhone(phoneNumber: string): Promise<User | undefined>;
  getUsers(userIds: UserId[]): Promise<User[]>;
  updateUser(userId: UserId, patch: UserPatch): Promise<void>;
  /** Accounts that left at or before `leftBefore` (epoch ms), at most `limit`, in no particular order (for the purge). */
  usersLeftBefore(leftBefore: number, limit: number): Promise<User[]>;
  /**
   * Deletes an account for good: its row and its push tokens; its email and phone number can be
   * registered again. History is not touched (readers show its messages under a neutral name).
   * An unknown id changes nothing.
   */
  deleteUser(userId: UserId): Promise<void>;

  /** Rejects with IdTakenError when the room id exists. */
  createRoom(room: Room, members: Membership[]): Promise<void>;
  getRoom(roomId: RoomId): Promise<Room | undefined>;
  addMember(member: Membership): Promise<void>;
  removeMember(roomId: RoomId, userId: UserId): Promise<void>;
  getMembership(roomId: RoomId, userId: UserId): Promise<Membership | undefined>;
  updateMembership(roomId: RoomId, userId: UserId, patch: MembershipPatch): Promise<void>;
  members(roomId: RoomId): Promise<Membership[]>;
  roomsOf(userId: UserId): Promise<Membership[]>;

  /** Inserts or overwrites by message id. */
  appendMessages(messages: ChatMessage[]): Promise<void>;
  /** Newest first. */
  history(roomId: RoomId, query: HistoryQuery): Promise<ChatMessage[]>;
  lastMessage(roomId: RoomId): Promise<ChatMessage | undefined>;
  /** Messages newer than `after` (all when undefined), counting at most `cap`. */
  countAfter(roomId: RoomId, after: MessageId | undefined, cap: number): Promise<number>;

  /** Moves a reader's position forward; an older id than the stored one is ignored. */
  setReadPosition(roomId: RoomId, userId: UserId, messageId: MessageId): Promise<void>;
  getReadPosition(roomId: RoomId, userId: UserId): Promise<MessageId | undefined>;

  /**
   * A push token belongs to one device: storing it for a device removes it from any other device
   * (of any account) that held it, since a phone that changes hands keeps its FCM token.
   */
  setDeviceToken(token: DeviceToken): Promise<void>;
  removeDeviceToken(userId: UserId, deviceId: DeviceId): Promise<void>;
  deviceTokens(userIds: UserId[]): Promise<DeviceToken[]>;

  /** Reachable right now (for readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
