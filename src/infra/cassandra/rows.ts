import type { types } from 'cassandra-driver';
import type { ChatMessage, Membership, MessageId, MessageType, Room, User } from '../../chat/model.ts';
import { snowflakeTime } from '../../chat/snowflake.ts';

/*
 * Rows to domain objects and back. The client decodes bigint as BigInt (useBigIntAsLong) and
 * timestamp as Date; the domain carries ids as decimal strings and times as epoch milliseconds.
 */

type Row = types.Row;

const DAY_MS = 86_400_000;
/** The largest bigint; snowflakes are never negative, so ids live in [0, MAX_ID]. */
export const MAX_ID = (1n << 63n) - 1n;

/** The history partition of an id: its UTC day, counted from 1970-01-01. */
export function bucketOf(id: MessageId | bigint): number {
  return Math.floor(snowflakeTime(id.toString()) / DAY_MS);
}

/** Inclusive bounds on message ids for a query with exclusive `before`/`after`; undefined when nothing can match. */
export function idRange(before?: MessageId, after?: MessageId): { low: bigint; high: bigint } | undefined {
  const high = before === undefined ? MAX_ID : BigInt(before) - 1n;
  const low = after === undefined ? 0n : BigInt(after) + 1n;
  const range = { low: low < 0n ? 0n : low, high: high > MAX_ID ? MAX_ID : high };
  return range.low > range.high ? undefined : range;
}

function millis(value: unknown): number {
  return (value as Date).getTime();
}

function nullableMillis(value: unknown): number | null {
  return value == null ? null : millis(value);
}

function nullableText(value: unknown): string | null {
  return value == null ? null : (value as string);
}

export const USER_COLUMNS = 'user_id, email, nickname, password_hash, phone_number, birthday, created_at, left_at';

export function userParams(user: User): unknown[] {
  return [user.userId, user.email, user.nickname, user.passwordHash, user.phoneNumber, user.birthday, user.createdAt, user.leftAt];
}

export function userFromRow(row: Row): User {
  return {
    userId: row.get('user_id'),
    email: row.get('email'),
    nickname: row.get('nickname'),
    passwordHash: row.get('password_hash'),
    phoneNumber: nullableText(row.get('phone_number')),
    birthday: nullableText(row.get('birthday')),
    createdAt: millis(row.get('created_at')),
    leftAt: nullableMillis(row.get('left_at')),
  };
}

export const ROOM_COLUMNS = 'room_id, host_id, is_open, created_at';

export function roomParams(room: Room): unknown[] {
  return [room.roomId, room.hostId, room.isOpen, room.createdAt];
}

export function roomFromRow(row: Row): Room {
  return { roomId: row.get('room_id'), hostId: row.get('host_id'), isOpen: row.get('is_open'), createdAt: millis(row.get('created_at')) };
}

export const MEMBER_COLUMNS = 'room_id, user_id, joined_at, title, input_lock, muted';

/**
 * An UPDATE that races a member's removal can leave a row holding only the updated columns.
 * joined_at is written by every INSERT and by no UPDATE, so a row without it is such a remnant
 * and counts as no membership.
 */
export function memberFromRow(row: Row): Membership | undefined {
  const joinedAt = row.get('joined_at');
  if (joinedAt == null) return undefined;
  return {
    roomId: row.get('room_id'),
    userId: row.get('user_id'),
    joinedAt: millis(joinedAt),
    title: nullableText(row.get('title')),
    inputLock: row.get('input_lock') === true,
    // Rows from before migration 2 have no muted column value: not muted.
    muted: row.get('muted') === true,
  };
}

export const MESSAGE_COLUMNS = 'room_id, bucket, message_id, sender_id, nickname, message_type, contents, file_url, created_at, user_ids';

export function messageParams(message: ChatMessage): unknown[] {
  return [
    message.roomId, bucketOf(message.messageId), BigInt(message.messageId), message.senderId, message.nickname,
    message.messageType, message.contents, message.fileUrl, message.createdAt, message.userIds ?? null,
  ];
}

export function messageFromRow(row: Row): ChatMessage {
  return {
    messageId: (row.get('message_id') as bigint).toString(),
    roomId: row.get('room_id'),
    senderId: row.get('sender_id'),
    nickname: row.get('nickname'),
    messageType: row.get('message_type') as MessageType,
    contents: row.get('contents'),
    fileUrl: nullableText(row.get('file_url')),
    createdAt: millis(row.get('created_at')),
    // Ordinary messages (and every row from before migration 3) have none.
    ...(row.get('user_ids') ? { userIds: row.get('user_ids') as string[] } : {}),
  };
}
