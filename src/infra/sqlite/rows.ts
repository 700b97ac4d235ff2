import type { ChatMessage, Membership, MessageId, MessageType, Room, User } from '../../chat/model.ts';

/*
 * Rows to domain objects and back. Booleans are 0/1, times epoch milliseconds, message ids
 * INTEGER bound as BigInt and selected as text (see migrations.ts).
 */

/** The largest INTEGER; snowflakes are never negative, so ids live in [0, MAX_ID]. */
const MAX_ID = (1n << 63n) - 1n;

/** A message id as an INTEGER parameter; rejects what is not a decimal id. */
export function idParam(id: MessageId): bigint {
  if (!/^[0-9]{1,19}$/.test(id)) throw new TypeError(`invalid message id ${JSON.stringify(id)}: expected a decimal snowflake`);
  const value = BigInt(id);
  if (value > MAX_ID) throw new TypeError(`invalid message id ${id}: above 2^63 - 1`);
  return value;
}

/** Inclusive bounds for exclusive `before`/`after`; undefined when nothing can match. */
export function idRange(before?: MessageId, after?: MessageId): { low: bigint; high: bigint } | undefined {
  const high = before === undefined ? MAX_ID : idParam(before) - 1n;
  const low = after === undefined ? 0n : idParam(after) + 1n;
  return low > high ? undefined : { low, high };
}

export interface UserRow {
  user_id: string; email: string; nickname: string; password_hash: string; phone_number: string | null;
  birthday: string | null; created_at: number; left_at: number | null;
}

export const USER_COLUMNS = 'user_id, email, nickname, password_hash, phone_number, birthday, created_at, left_at';

export function userFromRow(row: UserRow): User {
  return {
    userId: row.user_id, email: row.email, nickname: row.nickname, passwordHash: row.password_hash,
    phoneNumber: row.phone_number, birthday: row.birthday, createdAt: row.created_at, leftAt: row.left_at,
  };
}

export function userParams(user: User): Record<string, unknown> {
  return {
    user_id: user.userId, email: user.email, email_key: user.email.toLowerCase(), nickname: user.nickname,
    password_hash: user.passwordHash, phone_number: user.phoneNumber, birthday: user.birthday,
    created_at: user.createdAt, left_at: user.leftAt,
  };
}

export interface RoomRow { room_id: string; host_id: string; is_open: number; created_at: number }

export function roomFromRow(row: RoomRow): Room {
  return { roomId: row.room_id, hostId: row.host_id, isOpen: row.is_open === 1, createdAt: row.created_at };
}

export interface MemberRow {
  room_id: string; user_id: string; joined_at: number; title: string | null; input_lock: number; muted: number;
}

export const MEMBER_COLUMNS = 'room_id, user_id, joined_at, title, input_lock, muted';

export function memberFromRow(row: MemberRow): Membership {
  return {
    roomId: row.room_id, userId: row.user_id, joinedAt: row.joined_at, title: row.title,
    inputLock: row.input_lock === 1, muted: row.muted === 1,
  };
}

export function memberParams(member: Membership): Record<string, unknown> {
  return {
    room_id: member.roomId, user_id: member.userId, joined_at: member.joinedAt, title: member.title,
    input_lock: member.inputLock ? 1 : 0, muted: member.muted ? 1 : 0,
  };
}

export interface MessageRow {
  room_id: string; message_id: string; sender_id: string; nickname: string; message_type: string;
  contents: string; file_url: string | null; created_at: number; user_ids: string | null;
}

export const MESSAGE_SELECT = `room_id, CAST(message_id AS TEXT) AS message_id, sender_id, nickname, message_type,
  contents, file_url, created_at, user_ids`;

export function messageFromRow(row: MessageRow): ChatMessage {
  return {
    messageId: row.message_id, roomId: row.room_id, senderId: row.sender_id, nickname: row.nickname,
    messageType: row.message_type as MessageType, contents: row.contents, fileUrl: row.file_url, createdAt: row.created_at,
    ...(row.user_ids === null ? {} : { userIds: JSON.parse(row.user_ids) as string[] }),
  };
}

/** Validates while converting, so that one bad message fails its own call, not a whole group commit. */
export function messageParams(message: ChatMessage): Record<string, unknown> {
  return {
    room_id: message.roomId, message_id: idParam(message.messageId), sender_id: message.senderId, nickname: message.nickname,
    message_type: message.messageType, contents: message.contents, file_url: message.fileUrl, created_at: message.createdAt,
    user_ids: message.userIds ? JSON.stringify(message.userIds) : null,
  };
}
