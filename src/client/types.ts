import type { MessageDto } from './protocol.ts';

/** The JSON the HTTP API returns for rooms (src/http/routes/rooms.ts), times as ISO 8601. */
export interface RoomMember {
  userId: string;
  nickname: string;
  /** An open room member's open-profile image; null otherwise. */
  imageUrl: string | null;
  joinedAt: string;
}

export interface Room {
  roomId: string;
  title: string;
  hostId: string;
  /** The id that names me among `members`, in messages and events: my user id, or in an open room my id there. */
  myId: string;
  isOpen: boolean;
  inputLock: boolean;
  createdAt: string;
  members: RoomMember[];
}

export interface RoomSummary {
  roomId: string;
  title: string;
  hostId: string;
  isOpen: boolean;
  inputLock: boolean;
  memberCount: number;
  lastMessage: MessageDto | null;
  unreadCount: number;
  createdAt: string;
}

/** One page of history, newest first. */
export interface HistoryPage {
  messages: MessageDto[];
  /** Where the next (older) page starts; null on the last page. */
  nextCursor: string | null;
}

/** Who is signed in on this client. */
export interface Session {
  userId: string;
  nickname: string;
}

export interface SignUpInput {
  email: string;
  password: string;
  nickname: string;
  phoneNumber?: string;
  birthday?: string;
}

export interface SignInInput {
  email: string;
  password: string;
}

export interface CreateRoomInput {
  /** The other members' user ids (the caller is always a member). */
  users: string[];
  title?: string;
  isOpen?: boolean;
  /** An open room's host shows this open profile instead of their own. */
  openProfileId?: string;
}

export interface SendOptions {
  messageType?: 'TALK' | 'FILE';
  fileUrl?: string;
}

/** The server's acknowledgement: the message is durable and has its id. */
export interface Ack {
  clientMsgId: string;
  messageId: string;
  createdAt: string;
}

/**
 * `connecting`: first connection under way; `connected`: the socket is open and every joined room
 * is rejoined; `reconnecting`: lost, waiting to retry; `idle`: not connected (not asked to, or
 * signed out); `closed`: close() was called, for good.
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';
