/** The chat domain as every layer sees it. Times are epoch milliseconds; message ids are snowflakes (decimal strings). */

export type UserId = string;
export type RoomId = string;
export type DeviceId = string;
export type MessageId = string;

export interface User {
  userId: UserId;
  email: string;
  nickname: string;
  passwordHash: string;
  phoneNumber: string | null;
  birthday: string | null;
  createdAt: number;
  /** Set while the account is in its leave grace period; signing in clears it. */
  leftAt: number | null;
}

export interface Room {
  roomId: RoomId;
  hostId: UserId;
  isOpen: boolean;
  createdAt: number;
}

/** A user's own view of a room they belong to. */
export interface Membership {
  roomId: RoomId;
  userId: UserId;
  joinedAt: number;
  /** The member's own title for the room; null means the default title. */
  title: string | null;
  inputLock: boolean;
  /** Muted members get no pushes from the room. */
  muted: boolean;
}

export const MESSAGE_TYPES = ['TALK', 'FILE', 'ENTER', 'INVITE', 'LEAVE'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface ChatMessage {
  messageId: MessageId;
  roomId: RoomId;
  senderId: UserId;
  nickname: string;
  messageType: MessageType;
  contents: string;
  fileUrl: string | null;
  createdAt: number;
  /** System messages (INVITE, ENTER, LEAVE): the users they are about, so clients can render their own text. Absent otherwise. */
  userIds?: UserId[];
}

/** Roughly what a message holds in memory (its strings are UTF-16): what the byte bounds of message buffers count. */
export const approximateBytes = (m: ChatMessage): number => 200 + 2 * (m.contents.length + m.nickname.length + (m.fileUrl?.length ?? 0));

export interface DeviceToken {
  userId: UserId;
  deviceId: DeviceId;
  token: string;
}

/** Where an event came from, so the originating node can leave the originating socket out of echoes. */
export interface EventOrigin {
  nodeId: string;
  connectionId: string;
}

/** A message on its way to history and to every receiver: the one event the durable bus carries. */
export interface MessageEvent {
  kind: 'message';
  roomId: RoomId;
  message: ChatMessage;
  /** The message's position in the room's feed order, so the persister can commit it there if its sender could not. */
  seq?: number;
  origin?: EventOrigin;
}

/** What happens in a room besides messages: live only (never stored by the bus), no position in the room's order. */
export type RoomSignal =
  | { kind: 'typing'; roomId: RoomId; userId: UserId; origin?: EventOrigin }
  | { kind: 'read'; roomId: RoomId; userId: UserId; messageId: MessageId; origin?: EventOrigin }
  | { kind: 'presence'; roomId: RoomId; userId: UserId; event: 'enter' | 'exit'; origin?: EventOrigin }
  | { kind: 'membership'; roomId: RoomId; userId: UserId; change: 'joined' | 'left' };

/** A room as one member's room list shows it (the title is that member's own). */
export type RoomView = {
  roomId: RoomId;
  title: string;
  hostId: UserId;
  isOpen: boolean;
  memberCount: number;
};

/** Changes of a user's rooms, for that user's own sockets (room list kept current without polling). */
export interface UserSignal {
  kind: 'room';
  userId: UserId;
  event: 'added' | 'removed' | 'updated';
  roomId: RoomId;
  /** The room as this user now sees it; only the id once removed. */
  room?: RoomView | { roomId: RoomId };
}

/** Everything that happens in a room, as an embedding host sees it. */
export type RoomEvent = MessageEvent | RoomSignal;

export type RoomEventKind = RoomEvent['kind'];
