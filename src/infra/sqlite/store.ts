import type { Statement } from 'better-sqlite3';
import type {
  ChatMessage, DeviceId, DeviceToken, Membership, MessageId, Room, RoomId, User, UserId,
} from '../../chat/model.ts';
import {
  EmailTakenError, IdTakenError, PhoneTakenError, type ChatStore, type HistoryQuery, type MembershipPatch, type UserPatch,
} from '../ports/store.ts';
import type { SqliteDatabase } from './database.ts';
import { GroupCommit } from './group-commit.ts';
import { sendClaimsOf, type Claim, type CommittingClaim, type SendClaims } from './send-claims.ts';
import {
  MEMBER_COLUMNS, MESSAGE_SELECT, USER_COLUMNS, idParam, idRange, memberFromRow, memberParams, messageFromRow, messageParams,
  roomFromRow, userFromRow, userParams, type MemberRow, type MessageRow, type RoomRow, type UserRow,
} from './rows.ts';

/** Patchable fields and their columns: an UPDATE names only the columns a patch sets. */
const USER_PATCH_COLUMNS = { nickname: 'nickname', leftAt: 'left_at', phoneNumber: 'phone_number', birthday: 'birthday', passwordHash: 'password_hash' } as const;
const MEMBER_PATCH_COLUMNS = { title: 'title', inputLock: 'input_lock', muted: 'muted' } as const;

/** A whole number of rows for LIMIT, at most 2^53 - 1 (Infinity means no limit). */
function rowLimit(value: number): number {
  return Math.min(Math.floor(value), Number.MAX_SAFE_INTEGER);
}

function sqlValue(value: unknown): unknown {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

function statements(db: SqliteDatabase) {
  const p = (sql: string) => db.prepare(sql);
  return {
    ping: p('SELECT 1'),
    userExists: p('SELECT 1 FROM users WHERE user_id = ?').pluck(),
    userIdByEmail: p('SELECT user_id FROM users WHERE email_key = ?').pluck(),
    userIdByPhone: p('SELECT user_id FROM users WHERE phone_number = ?').pluck(),
    insertUser: p(`INSERT INTO users (${USER_COLUMNS}, email_key) VALUES
      (@user_id, @email, @nickname, @password_hash, @phone_number, @birthday, @created_at, @left_at, @email_key)`),
    selectUser: p(`SELECT ${USER_COLUMNS} FROM users WHERE user_id = ?`),
    selectUserByEmail: p(`SELECT ${USER_COLUMNS} FROM users WHERE email_key = ?`),
    selectUserByPhone: p(`SELECT ${USER_COLUMNS} FROM users WHERE phone_number = ?`),
    selectUsers: p(`SELECT ${USER_COLUMNS} FROM users WHERE user_id IN (SELECT value FROM json_each(?))`),

    roomExists: p('SELECT 1 FROM rooms WHERE room_id = ?').pluck(),
    insertRoom: p('INSERT INTO rooms (room_id, host_id, is_open, created_at) VALUES (?, ?, ?, ?)'),
    selectRoom: p('SELECT room_id, host_id, is_open, created_at FROM rooms WHERE room_id = ?'),
    upsertMember: p(`INSERT OR REPLACE INTO room_members (${MEMBER_COLUMNS})
      VALUES (@room_id, @user_id, @joined_at, @title, @input_lock, @muted)`),
    deleteMember: p('DELETE FROM room_members WHERE room_id = ? AND user_id = ?'),
    selectMember: p(`SELECT ${MEMBER_COLUMNS} FROM room_members WHERE room_id = ? AND user_id = ?`),
    selectMembers: p(`SELECT ${MEMBER_COLUMNS} FROM room_members WHERE room_id = ?`),
    selectRoomsOf: p(`SELECT ${MEMBER_COLUMNS} FROM room_members WHERE user_id = ?`),

    upsertMessage: p(`INSERT OR REPLACE INTO messages (room_id, message_id, sender_id, nickname, message_type, contents, file_url, created_at, user_ids)
      VALUES (@room_id, @message_id, @sender_id, @nickname, @message_type, @contents, @file_url, @created_at, @user_ids)`),
    // Keyset paging on the primary key (room_id, message_id): no OFFSET, each page one index range.
    selectHistory: p(`SELECT ${MESSAGE_SELECT} FROM messages
      WHERE room_id = ? AND message_id BETWEEN ? AND ? ORDER BY message_id DESC LIMIT ?`),
    countRange: p(`SELECT count(*) FROM (SELECT 1 FROM messages
      WHERE room_id = ? AND message_id BETWEEN ? AND ? LIMIT ?)`).pluck(),

    advanceRead: p(`INSERT INTO read_positions (room_id, user_id, message_id) VALUES (?, ?, ?)
      ON CONFLICT (room_id, user_id) DO UPDATE SET message_id = excluded.message_id WHERE excluded.message_id > read_positions.message_id`),
    selectRead: p('SELECT CAST(message_id AS TEXT) FROM read_positions WHERE room_id = ? AND user_id = ?').pluck(),

    upsertToken: p('INSERT OR REPLACE INTO device_tokens (user_id, device_id, push_token) VALUES (?, ?, ?)'),
    takeToken: p('DELETE FROM device_tokens WHERE push_token = ? AND NOT (user_id = ? AND device_id = ?)'),
    deleteTokensOf: p('DELETE FROM device_tokens WHERE user_id = ?'),
    deleteUser: p('DELETE FROM users WHERE user_id = ?'),
    selectUsersLeftBefore: p(`SELECT ${USER_COLUMNS} FROM users WHERE left_at IS NOT NULL AND left_at <= ? LIMIT ?`),
    deleteToken: p('DELETE FROM device_tokens WHERE user_id = ? AND device_id = ?'),
    selectTokens: p(`SELECT user_id, device_id, push_token FROM device_tokens
      WHERE user_id IN (SELECT value FROM json_each(?))`),
  };
}

/** One appendMessages call: its rows, and the send claims committed with them. */
interface Append {
  rows: Record<string, unknown>[];
  committing: CommittingClaim[];
}

export interface SqliteStoreOptions {
  /** Called once by close(), after the last write is committed (the owner of the database closes it). */
  onClose?: () => void;
}

/**
 * The embedded-mode ChatStore: the data directory's SQLite database. better-sqlite3 is
 * synchronous, so every method runs to completion before another starts and a read-then-write is
 * never interleaved with another call. Message appends are group-committed (see GroupCommit).
 */
export class SqliteStore implements ChatStore {
  private readonly q: ReturnType<typeof statements>;
  private readonly updates = new Map<string, Statement>();
  private readonly appends: GroupCommit<Append>;
  private readonly claims: SendClaims;
  private closed = false;

  constructor(private readonly db: SqliteDatabase, private readonly options: SqliteStoreOptions = {}) {
    this.q = statements(db);
    this.claims = sendClaimsOf(db);
    const insertAll = db.transaction((appends: Append[]) => {
      const claims: Array<[string, Claim]> = [];
      for (const { rows, committing } of appends) {
        for (const row of rows) this.q.upsertMessage.run(row);
        for (const claim of committing) claims.push([claim.key, claim.committed]);
      }
      this.claims.write(claims, Date.now());
    });
    this.appends = new GroupCommit((appends) => {
      insertAll.immediate(appends);
      for (const { committing } of appends) for (const claim of committing) this.claims.committed(claim);
    });
  }

  // ---- users ----

  async createUser(user: User): Promise<void> {
    if (this.q.userExists.get(user.userId)) throw new IdTakenError('user', user.userId);
    if (this.q.userIdByEmail.get(user.email.toLowerCase()) !== undefined) throw new EmailTakenError(user.email);
    if (user.phoneNumber !== null && this.q.userIdByPhone.get(user.phoneNumber) !== undefined) throw new PhoneTakenError(user.phoneNumber);
    this.q.insertUser.run(userParams(user));
  }

  async getUser(userId: UserId): Promise<User | undefined> {
    const row = this.q.selectUser.get(userId) as UserRow | undefined;
    return row && userFromRow(row);
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const row = this.q.selectUserByEmail.get(email.toLowerCase()) as UserRow | undefined;
    return row && userFromRow(row);
  }

  async getUserByPhone(phoneNumber: string): Promise<User | undefined> {
    const row = this.q.selectUserByPhone.get(phoneNumber) as UserRow | undefined;
    return row && userFromRow(row);
  }

  /** In the order asked, like the other drivers. */
  async getUsers(userIds: UserId[]): Promise<User[]> {
    if (userIds.length === 0) return [];
    const rows = this.q.selectUsers.all(JSON.stringify(userIds)) as UserRow[];
    const found = new Map(rows.map((row) => [row.user_id, row]));
    return userIds.flatMap((id) => {
      const row = found.get(id);
      return row ? [userFromRow(row)] : [];
    });
  }

  async updateUser(userId: UserId, patch: UserPatch): Promise<void> {
    const phone = patch.phoneNumber;
    if (phone !== undefined && phone !== null) {
      const holder = this.q.userIdByPhone.get(phone);
      if (holder !== undefined && holder !== userId) throw new PhoneTakenError(phone);
    }
    this.update('users', 'user_id = ?', patch, USER_PATCH_COLUMNS, [userId]);
  }

  async usersLeftBefore(leftBefore: number, limit: number): Promise<User[]> {
    return (this.q.selectUsersLeftBefore.all(leftBefore, limit) as UserRow[]).map(userFromRow);
  }

  /** One transaction: the email and phone number are free the moment the row is gone (they live in it). */
  async deleteUser(userId: UserId): Promise<void> {
    this.db.transaction(() => {
      this.q.deleteTokensOf.run(userId);
      this.q.deleteUser.run(userId);
    }).immediate();
  }

  // ---- rooms and members ----

  async createRoom(room: Room, members: Membership[]): Promise<void> {
    const rows = members.map(memberParams);
    this.db.transaction(() => {
      if (this.q.roomExists.get(room.roomId)) throw new IdTakenError('room', room.roomId);
      this.q.insertRoom.run(room.roomId, room.hostId, room.isOpen ? 1 : 0, room.createdAt);
      for (const row of rows) this.q.upsertMember.run(row);
    }).immediate();
  }

  async getRoom(roomId: RoomId): Promise<Room | undefined> {
    const row = this.q.selectRoom.get(roomId) as RoomRow | undefined;
    return row && roomFromRow(row);
  }

  async addMember(member: Membership): Promise<void> {
    this.q.upsertMember.run(memberParams(member));
  }

  async removeMember(roomId: RoomId, userId: UserId): Promise<void> {
    this.q.deleteMember.run(roomId, userId);
  }

  async getMembership(roomId: RoomId, userId: UserId): Promise<Membership | undefined> {
    const row = this.q.selectMember.get(roomId, userId) as MemberRow | undefined;
    return row && memberFromRow(row);
  }

  async updateMembership(roomId: RoomId, userId: UserId, patch: MembershipPatch): Promise<void> {
    this.update('room_members', 'room_id = ? AND user_id = ?', patch, MEMBER_PATCH_COLUMNS, [roomId, userId]);
  }

  async members(roomId: RoomId): Promise<Membership[]> {
    return (this.q.selectMembers.all(roomId) as MemberRow[]).map(memberFromRow);
  }

  async roomsOf(userId: UserId): Promise<Membership[]> {
    return (this.q.selectRoomsOf.all(userId) as MemberRow[]).map(memberFromRow);
  }

  // ---- history ----

  /**
   * Resolves once the transaction holding these messages (and those of every other call in this
   * tick) committed. The pending send claims of these messages are committed in it too.
   */
  appendMessages(messages: ChatMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the SQLite store is closed'));
    let rows: Record<string, unknown>[];
    try {
      rows = messages.map(messageParams);
    } catch (error) {
      return Promise.reject(error);
    }
    if (rows.length === 0) return Promise.resolve();
    return this.appends.add([{ rows, committing: this.claims.committing(messages, Date.now()) }]);
  }

  async history(roomId: RoomId, query: HistoryQuery): Promise<ChatMessage[]> {
    const range = idRange(query.before, query.after);
    const limit = rowLimit(query.limit);
    if (!range || !(limit > 0)) return [];
    return (this.q.selectHistory.all(roomId, range.low, range.high, limit) as MessageRow[]).map(messageFromRow);
  }

  async lastMessage(roomId: RoomId): Promise<ChatMessage | undefined> {
    return (await this.history(roomId, { limit: 1 }))[0];
  }

  /** Counts no further than `cap` rows. */
  async countAfter(roomId: RoomId, after: MessageId | undefined, cap: number): Promise<number> {
    const range = idRange(undefined, after);
    const limit = rowLimit(cap);
    if (!range || !(limit > 0)) return 0;
    return this.q.countRange.get(roomId, range.low, range.high, limit) as number;
  }

  // ---- read positions ----

  async setReadPosition(roomId: RoomId, userId: UserId, messageId: MessageId): Promise<void> {
    this.q.advanceRead.run(roomId, userId, idParam(messageId));
  }

  async getReadPosition(roomId: RoomId, userId: UserId): Promise<MessageId | undefined> {
    return this.q.selectRead.get(roomId, userId) as string | undefined;
  }

  // ---- device tokens ----

  async setDeviceToken(token: DeviceToken): Promise<void> {
    this.db.transaction(() => {
      this.q.takeToken.run(token.token, token.userId, token.deviceId);
      this.q.upsertToken.run(token.userId, token.deviceId, token.token);
    }).immediate();
  }

  async removeDeviceToken(userId: UserId, deviceId: DeviceId): Promise<void> {
    this.q.deleteToken.run(userId, deviceId);
  }

  async deviceTokens(userIds: UserId[]): Promise<DeviceToken[]> {
    if (userIds.length === 0) return [];
    const rows = this.q.selectTokens.all(JSON.stringify(userIds)) as Array<{ user_id: string; device_id: string; push_token: string }>;
    return rows.map((row) => ({ userId: row.user_id, deviceId: row.device_id, token: row.push_token }));
  }

  async ping(): Promise<void> {
    this.q.ping.get();
  }

  /** Commits what is queued, then hands the database back to its owner. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.appends.flush();
    this.options.onClose?.();
  }

  /** An UPDATE of the columns a patch sets; the statement is prepared once per set of columns. */
  private update<P extends object>(table: string, where: string, patch: P, columns: Record<keyof P, string>, key: unknown[]): void {
    const fields = (Object.keys(columns) as Array<keyof P>).filter((field) => patch[field] !== undefined);
    if (fields.length === 0) return;
    const sql = `UPDATE ${table} SET ${fields.map((field) => `${columns[field]} = ?`).join(', ')} WHERE ${where}`;
    let statement = this.updates.get(sql);
    if (!statement) this.updates.set(sql, (statement = this.db.prepare(sql)));
    statement.run(...fields.map((field) => sqlValue(patch[field])), ...key);
  }
}
