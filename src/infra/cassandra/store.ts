import { hostname } from 'node:os';
import cassandra from 'cassandra-driver';
import type { Client, QueryOptions, types } from 'cassandra-driver';
import type { Logger } from 'pino';
import type {
  ChatMessage, DeviceId, DeviceToken, Membership, MessageId, Room, RoomId, User, UserId,
} from '../../chat/model.ts';
import {
  EmailTakenError, IdTakenError, PhoneTakenError, type ChatStore, type HistoryQuery, type MembershipPatch, type UserPatch,
} from '../ports/store.ts';
import { mapLimit } from './concurrency.ts';
import { CassandraPeopleStore } from './people.ts';
import {
  MEMBER_COLUMNS, MESSAGE_COLUMNS, ROOM_COLUMNS, USER_COLUMNS, bucketOf, idRange, memberFromRow, messageFromRow,
  messageParams, roomFromRow, roomParams, userFromRow, userParams,
} from './rows.ts';
import { assertKeyspaceName, migrate, useKeyspace } from './schema.ts';

export interface CassandraStoreOptions {
  /** host or host:port */
  contactPoints: string[];
  keyspace: string;
  localDataCenter: string;
  /** Used only when the keyspace does not exist yet. */
  replicationFactor: number;
  /** Receives the driver's warnings and errors; without it the driver stays silent. */
  logger?: Logger;
  /** Per-request timeout of the driver (default 12 s, above Cassandra's own 2 s write and 5 s read timeouts). */
  requestTimeoutMs?: number;
  /** TCP connect timeout per host (default 5 s). */
  connectTimeoutMs?: number;
}

/** Reads and idempotent writes: prepared, and safe for the driver to retry or send to another host. */
const IDEMPOTENT: QueryOptions = { prepare: true, isIdempotent: true };
/** Lightweight transactions are not idempotent: a retried CAS can fail against its own first attempt. */
const LWT: QueryOptions = { prepare: true, isIdempotent: false };
/** Logged batches of membership writes: both directions of a membership are applied or neither. */
const LOGGED: QueryOptions = { prepare: true, isIdempotent: true, logged: true };
/** Unlogged batches of one history partition: one mutation for Cassandra, no batch log needed. */
const UNLOGGED: QueryOptions = { prepare: true, isIdempotent: true, logged: false };

/** Requests in flight per call: keeps the connection busy without piling hundreds up in the driver. */
const CONCURRENCY = 64;
/** Messages per unlogged batch: one batch is one partition mutation, which stays far below Cassandra's limits. */
const BATCH_SIZE = 100;
/** (room, day) pairs known to be in room_buckets; bounded so a long-running node does not grow without end. */
const KNOWN_BUCKETS_MAX = 100_000;
/** CQL LIMIT is a 32-bit int. */
const MAX_LIMIT = 2 ** 31 - 1;

const Q = {
  ping: 'SELECT release_version FROM system.local',

  insertUser: `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
  deleteUser: 'DELETE FROM users WHERE user_id = ? IF EXISTS',
  claimEmail: 'INSERT INTO users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS',
  releaseEmail: 'DELETE FROM users_by_email WHERE email = ? IF user_id = ?',
  claimPhone: 'INSERT INTO users_by_phone (phone_number, user_id) VALUES (?, ?) IF NOT EXISTS',
  takeOverPhone: 'UPDATE users_by_phone SET user_id = ? WHERE phone_number = ? IF user_id = ?',
  releasePhone: 'DELETE FROM users_by_phone WHERE phone_number = ? IF user_id = ?',
  selectUser: `SELECT ${USER_COLUMNS} FROM users WHERE user_id = ?`,
  selectUserIdByEmail: 'SELECT user_id FROM users_by_email WHERE email = ?',
  selectUserIdByPhone: 'SELECT user_id FROM users_by_phone WHERE phone_number = ?',

  insertRoom: `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
  selectRoom: `SELECT ${ROOM_COLUMNS} FROM rooms WHERE room_id = ?`,
  insertMember: `INSERT INTO room_members (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`,
  insertRoomOfUser: `INSERT INTO rooms_by_user (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`,
  deleteMember: 'DELETE FROM room_members WHERE room_id = ? AND user_id = ?',
  deleteRoomOfUser: 'DELETE FROM rooms_by_user WHERE user_id = ? AND room_id = ?',
  selectMember: `SELECT ${MEMBER_COLUMNS} FROM room_members WHERE room_id = ? AND user_id = ?`,
  selectMembers: `SELECT ${MEMBER_COLUMNS} FROM room_members WHERE room_id = ?`,
  selectRoomsOfUser: `SELECT ${MEMBER_COLUMNS} FROM rooms_by_user WHERE user_id = ?`,

  insertMessage: `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  insertBucket: 'INSERT INTO room_buckets (room_id, bucket) VALUES (?, ?)',
  selectBuckets: 'SELECT bucket FROM room_buckets WHERE room_id = ? AND bucket <= ? AND bucket >= ?',
  selectMessages: `SELECT ${MESSAGE_COLUMNS} FROM messages
    WHERE room_id = ? AND bucket = ? AND message_id >= ? AND message_id <= ? LIMIT ?`,
  selectMessageIds: `SELECT message_id FROM messages
    WHERE room_id = ? AND bucket = ? AND message_id >= ? AND message_id <= ? LIMIT ?`,

  advanceRead: 'UPDATE read_positions SET message_id = ? WHERE room_id = ? AND user_id = ? IF message_id < ?',
  insertRead: 'INSERT INTO read_positions (room_id, user_id, message_id) VALUES (?, ?, ?) IF NOT EXISTS',
  selectRead: 'SELECT message_id FROM read_positions WHERE room_id = ? AND user_id = ?',

  insertToken: 'INSERT INTO device_tokens (user_id, device_id, push_token) VALUES (?, ?, ?)',
  deleteToken: 'DELETE FROM device_tokens WHERE user_id = ? AND device_id = ?',
  selectTokens: 'SELECT device_id, push_token FROM device_tokens WHERE user_id = ?',
  selectToken: 'SELECT push_token FROM device_tokens WHERE user_id = ? AND device_id = ?',
  selectTokenHolder: 'SELECT user_id, device_id FROM device_tokens_by_token WHERE push_token = ?',
  insertTokenHolder: 'INSERT INTO device_tokens_by_token (push_token, user_id, device_id) VALUES (?, ?, ?)',
  deleteTokenHolder: 'DELETE FROM device_tokens_by_token WHERE push_token = ?',
  scanUsers: `SELECT ${USER_COLUMNS} FROM users`,
} as const;

/** Patchable fields and their columns: an UPDATE names only the columns a patch sets. */
const USER_PATCH_COLUMNS = { nickname: 'nickname', leftAt: 'left_at', phoneNumber: 'phone_number', birthday: 'birthday', passwordHash: 'password_hash' } as const;
const MEMBER_PATCH_COLUMNS = { title: 'title', inputLock: 'input_lock', muted: 'muted' } as const;

function assignments<P extends object>(patch: P, columns: Record<keyof P, string>): { set: string; values: unknown[] } {
  const fields = (Object.keys(columns) as Array<keyof P>).filter((field) => patch[field] !== undefined);
  return { set: fields.map((field) => `${columns[field]} = ?`).join(', '), values: fields.map((field) => patch[field]) };
}

function describe(error: unknown): string {
  if (error instanceof cassandra.errors.NoHostAvailableError && error.innerErrors && typeof error.innerErrors === 'object') {
    // Its own message embeds the inspected first inner error, stack and all: name each host's reason instead.
    const reasons = Object.entries(error.innerErrors as Record<string, unknown>).map(([host, inner]) => `${host}: ${describe(inner)}`);
    if (reasons.length > 0) return `every contact point failed (${reasons.join('; ')})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The first connection failed (no contact point answered, or none in the local data center); `reason` says why, per host. */
export class CassandraUnreachableError extends Error {
  override readonly name = 'CassandraUnreachableError';

  constructor(message: string, readonly reason: string, cause: unknown) {
    super(message, { cause });
  }
}

/**
 * cassandra-driver 4.10 leaves the control connection's socket open when connect() fails after
 * that socket opened (a wrong data center name, for one), which would keep the process alive.
 */
function closeControlConnection(client: Client): void {
  const internal = client as unknown as { controlConnection?: { connection?: { close(): void } | null } };
  internal.controlConnection?.connection?.close();
}

/**
 * The cluster-mode ChatStore. Consistency is LOCAL_QUORUM for reads and writes (read-your-writes
 * within the data center for any replication factor: with RF 1 a quorum is the one replica) and
 * LOCAL_SERIAL for lightweight transactions.
 */
export class CassandraStore implements ChatStore {
  private readonly knownBuckets = new Set<string>();

  private constructor(private readonly client: Client) {}

  /** Connects, creates the keyspace when missing and migrates it; rejects with a message naming the contact points when unreachable. */
  static async connect(options: CassandraStoreOptions): Promise<CassandraStore> {
    const { contactPoints, keyspace, localDataCenter, replicationFactor, logger } = options;
    assertKeyspaceName(keyspace);
    const client = new cassandra.Client({
      contactPoints,
      localDataCenter,
      socketOptions: { connectTimeout: options.connectTimeoutMs ?? 5_000, readTimeout: options.requestTimeoutMs ?? 12_000 },
      queryOptions: {
        consistency: cassandra.types.consistencies.localQuorum,
        serialConsistency: cassandra.types.consistencies.localSerial,
      },
      encoding: { useBigIntAsLong: true },
      // The driver's default backoff doubles up to 10 minutes: after an outage of a minute or two a
      // node would go on failing for minutes once Cassandra is back. Tries every 10 s at most instead.
      policies: { reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(1_000, 10_000, false) },
    });
    // The driver only emits 'log' events (it never prints); forward what an operator must see.
    if (logger) {
      const log = logger.child({ component: 'cassandra' });
      client.on('log', (level: string, className: string, message: string, furtherInfo: unknown) => {
        if (level === 'warning') log.warn({ className, furtherInfo }, message);
        else if (level === 'error') log.error({ className, furtherInfo }, message);
      });
    }
    try {
      await client.connect();
    } catch (error) {
      closeControlConnection(client);
      await client.shutdown().catch(() => undefined);
      throw new CassandraUnreachableError(
        `cannot connect to Cassandra at ${contactPoints.join(', ')} (local data center ${localDataCenter}): ${describe(error)}`,
        describe(error),
        error,
      );
    }
    try {
      await useKeyspace(client, keyspace, localDataCenter, replicationFactor, logger);
      await migrate(client, { owner: `${hostname()}:${process.pid}`, logger });
    } catch (error) {
      await client.shutdown().catch(() => undefined);
      throw new Error(`cannot prepare Cassandra keyspace ${keyspace}: ${describe(error)}`, { cause: error });
    }
    return new CassandraStore(client);
  }

  /** The PeopleStore on this store's connection and keyspace (its tables come with the same migrations). */
  people(options: { onClose?: () => Promise<void> } = {}): CassandraPeopleStore {
    return new CassandraPeopleStore(this.client, options);
  }

  private execute(query: string, params: unknown[], options: QueryOptions): Promise<types.ResultSet> {
    return this.client.execute(query, params, options);
  }

  /** Every row of a query, page by page (a page may come back empty before the last one). */
  private async *rows(query: string, params: unknown[], fetchSize = 1000): AsyncGenerator<types.Row> {
    let pageState: string | undefined;
    do {
      const result = await this.execute(query, params, { ...IDEMPOTENT, fetchSize, pageState });
      yield* result.rows;
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }

  private async all<T>(query: string, params: unknown[], map: (row: types.Row) => T | undefined): Promise<T[]> {
    const out: T[] = [];
    for await (const row of this.rows(query, params)) {
      const value = map(row);
      if (value !== undefined) out.push(value);
    }
    return out;
  }

  private async first<T>(query: string, params: unknown[], map: (row: types.Row) => T | undefined): Promise<T | undefined> {
    const row = (await this.execute(query, params, IDEMPOTENT)).first();
    return row ? map(row) : undefined;
  }

  // ---- users ----

  /**
   * The user row goes first (only if the id is new), then the email claim, then the phone claim.
   * A crash in between leaves a user row no email leads to (harmless: its id was never handed
   * out), or one whose phone is unclaimed; never an email or phone claimed by nobody.
   */
  async createUser(user: User): Promise<void> {
    const inserted = await this.execute(Q.insertUser, userParams(user), LWT);
    if (!inserted.wasApplied()) throw new IdTakenError('user', user.userId);
    const email = user.email.toLowerCase();
    const claim = await this.execute(Q.claimEmail, [email, user.userId], LWT);
    if (!claim.wasApplied() && claim.first()?.get('user_id') !== user.userId) {
      // The claim certainly failed, so nothing points at the row just written.
      await this.execute(Q.deleteUser, [user.userId], LWT);
      throw new EmailTakenError(user.email);
    }
    if (user.phoneNumber !== null && !(await this.claimPhone(user.phoneNumber, user.userId))) {
      await this.execute(Q.releaseEmail, [email, user.userId], LWT);
      await this.execute(Q.deleteUser, [user.userId], LWT);
      throw new PhoneTakenError(user.phoneNumber);
    }
  }

  /**
   * Claims a phone number for a user whose row already shows it. A claim held by a user whose
   * row shows another number is a leftover (a change that stopped between its steps) and is
   * taken over; the compare-and-set makes sure only one claimer takes it.
   */
  private async claimPhone(phoneNumber: string, userId: UserId): Promise<boolean> {
    const claim = await this.execute(Q.claimPhone, [phoneNumber, userId], LWT);
    if (claim.wasApplied()) return true;
    const holder = claim.first()?.get('user_id') as string | undefined;
    if (holder === userId) return true;
    if (holder === undefined || (await this.getUser(holder))?.phoneNumber === phoneNumber) return false;
    return (await this.execute(Q.takeOverPhone, [userId, phoneNumber, holder], LWT)).wasApplied();
  }

  getUser(userId: UserId): Promise<User | undefined> {
    return this.first(Q.selectUser, [userId], userFromRow);
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const userId = await this.first(Q.selectUserIdByEmail, [email.toLowerCase()], (row) => row.get('user_id') as string);
    return userId === undefined ? undefined : this.getUser(userId);
  }

  /** The claim says who; the user's row must agree (a leftover claim of a number changed away finds no one). */
  async getUserByPhone(phoneNumber: string): Promise<User | undefined> {
    const userId = await this.first(Q.selectUserIdByPhone, [phoneNumber], (row) => row.get('user_id') as string);
    const user = userId === undefined ? undefined : await this.getUser(userId);
    return user?.phoneNumber === phoneNumber ? user : undefined;
  }

  /** One single-partition read per user, in parallel: a multi-partition IN would load one coordinator. */
  async getUsers(userIds: UserId[]): Promise<User[]> {
    const unique = [...new Set(userIds)];
    const found = new Map<UserId, User>();
    await mapLimit(unique, CONCURRENCY, async (userId) => {
      const user = await this.getUser(userId);
      if (user) found.set(userId, user);
    });
    return userIds.flatMap((userId) => {
      const user = found.get(userId);
      return user ? [{ ...user }] : [];
    });
  }

  /**
   * An UPDATE of a missing row would create a partial user, so it runs only after the user is
   * seen. Only the purge deletes users, long after they left and were signed out, so the row does not vanish in between.
   * A new phone number follows the sign-up order: row, then claim (the row goes back when the
   * number is taken), then the old number's claim is released.
   */
  async updateUser(userId: UserId, patch: UserPatch): Promise<void> {
    const { set, values } = assignments(patch, USER_PATCH_COLUMNS);
    if (!set) return;
    const current = await this.getUser(userId);
    if (!current) return;
    await this.execute(`UPDATE users SET ${set} WHERE user_id = ?`, [...values, userId], IDEMPOTENT);
    const phone = patch.phoneNumber;
    if (phone === undefined || phone === current.phoneNumber) return;
    if (phone !== null && !(await this.claimPhone(phone, userId))) {
      await this.execute('UPDATE users SET phone_number = ? WHERE user_id = ?', [current.phoneNumber, userId], IDEMPOTENT);
      throw new PhoneTakenError(phone);
    }
    if (current.phoneNumber !== null) await this.execute(Q.releasePhone, [current.phoneNumber, userId], LWT);
  }

  /**
   * Users are partitioned by id, so this scans the users table page by page (no index on left_at):
   * the purge calls it once per run, and stops at `limit` matches.
   */
  async usersLeftBefore(leftBefore: number, limit: number): Promise<User[]> {
    const out: User[] = [];
    for await (const row of this.rows(Q.scanUsers, [])) {
      const user = userFromRow(row);
      if (user.leftAt !== null && user.leftAt <= leftBefore) out.push(user);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Push tokens and the email and phone claims go first, the row last: a purge that stops halfway
   * still finds the row next time and finishes. A claim already taken by a new account is left alone.
   */
  async deleteUser(userId: UserId): Promise<void> {
    const user = await this.getUser(userId);
    if (!user) return;
    for (const token of await this.deviceTokens([userId])) await this.removeDeviceToken(userId, token.deviceId);
    await this.execute(Q.releaseEmail, [user.email.toLowerCase(), userId], LWT);
    if (user.phoneNumber !== null) await this.execute(Q.releasePhone, [user.phoneNumber, userId], LWT);
    await this.execute(Q.deleteUser, [userId], LWT);
  }

  // ---- rooms and members ----

  async createRoom(room: Room, members: Membership[]): Promise<void> {
    const inserted = await this.execute(Q.insertRoom, roomParams(room), LWT);
    if (!inserted.wasApplied()) throw new IdTakenError('room', room.roomId);
    await mapLimit(members, CONCURRENCY, (member) => this.addMember(member));
  }

  getRoom(roomId: RoomId): Promise<Room | undefined> {
    return this.first(Q.selectRoom, [roomId], roomFromRow);
  }

  async addMember(member: Membership): Promise<void> {
    const { roomId, userId, joinedAt, title, inputLock, muted } = member;
    await this.client.batch([
      { query: Q.insertMember, params: [roomId, userId, joinedAt, title, inputLock, muted] },
      { query: Q.insertRoomOfUser, params: [roomId, userId, joinedAt, title, inputLock, muted] },
    ], LOGGED);
  }

  async removeMember(roomId: RoomId, userId: UserId): Promise<void> {
    await this.client.batch([
      { query: Q.deleteMember, params: [roomId, userId] },
      { query: Q.deleteRoomOfUser, params: [userId, roomId] },
    ], LOGGED);
  }

  getMembership(roomId: RoomId, userId: UserId): Promise<Membership | undefined> {
    return this.first(Q.selectMember, [roomId, userId], memberFromRow);
  }

  /** Like updateUser, only for an existing membership, so an UPDATE does not invent one. */
  async updateMembership(roomId: RoomId, userId: UserId, patch: MembershipPatch): Promise<void> {
    const { set, values } = assignments(patch, MEMBER_PATCH_COLUMNS);
    if (!set) return;
    if (!(await this.getMembership(roomId, userId))) return;
    await this.client.batch([
      { query: `UPDATE room_members SET ${set} WHERE room_id = ? AND user_id = ?`, params: [...values, roomId, userId] },
      { query: `UPDATE rooms_by_user SET ${set} WHERE user_id = ? AND room_id = ?`, params: [...values, userId, roomId] },
    ], LOGGED);
  }

  members(roomId: RoomId): Promise<Membership[]> {
    return this.all(Q.selectMembers, [roomId], memberFromRow);
  }

  roomsOf(userId: UserId): Promise<Membership[]> {
    return this.all(Q.selectRoomsOfUser, [userId], memberFromRow);
  }

  // ---- history ----

  /**
   * Indexes the (room, day) partitions first: a listed day without its messages costs one empty
   * read, while messages whose day is not listed would be invisible. Then writes each partition's
   * messages as unlogged batches (one mutation each), partitions in parallel, CONCURRENCY in flight.
   */
  async appendMessages(messages: ChatMessage[]): Promise<void> {
    // The statements of a batch share one write timestamp, so two versions of one message in a
    // call would tie; the last one given wins, as in the in-process store.
    const latest = new Map<string, ChatMessage>();
    for (const message of messages) latest.set(`${message.roomId}\t${message.messageId}`, message);
    const partitions = new Map<string, ChatMessage[]>();
    for (const message of latest.values()) {
      const key = `${message.roomId}\t${bucketOf(message.messageId)}`;
      let group = partitions.get(key);
      if (!group) partitions.set(key, (group = []));
      group.push(message);
    }
    const unknown = [...partitions.keys()].filter((key) => !this.knownBuckets.has(key));
    await mapLimit(unknown, CONCURRENCY, async (key) => {
      const message = partitions.get(key)![0]!;
      await this.execute(Q.insertBucket, [message.roomId, bucketOf(message.messageId)], IDEMPOTENT);
      this.rememberBucket(key);
    });

    const writes: ChatMessage[][] = [];
    for (const group of partitions.values()) {
      for (let i = 0; i < group.length; i += BATCH_SIZE) writes.push(group.slice(i, i + BATCH_SIZE));
    }
    await mapLimit(writes, CONCURRENCY, async (chunk) => {
      if (chunk.length === 1) await this.execute(Q.insertMessage, messageParams(chunk[0]!), IDEMPOTENT);
      else await this.client.batch(chunk.map((m) => ({ query: Q.insertMessage, params: messageParams(m) })), UNLOGGED);
    });
  }

  private rememberBucket(key: string): void {
    // Oldest first out: a forgotten pair only costs one more idempotent write.
    if (this.knownBuckets.size >= KNOWN_BUCKETS_MAX) this.knownBuckets.delete(this.knownBuckets.values().next().value!);
    this.knownBuckets.add(key);
  }

  /**
   * Rows of one room newest first with ids in [low, high], at most `limit`: the room's non-empty
   * days from the newest relevant one down, each day's partition read only as far as needed.
   */
  private async *walk(
    roomId: RoomId, query: string, before: MessageId | undefined, after: MessageId | undefined, limit: number,
  ): AsyncGenerator<types.Row> {
    const range = idRange(before, after);
    let left = Math.min(Math.floor(limit), MAX_LIMIT);
    if (!range || !(left > 0)) return;
    for await (const day of this.rows(Q.selectBuckets, [roomId, bucketOf(range.high), bucketOf(range.low)], 100)) {
      const bucket = day.get('bucket') as number;
      for await (const row of this.rows(query, [roomId, bucket, range.low, range.high, left], Math.min(left, 5000))) {
        yield row;
        if (--left === 0) return;
      }
    }
  }

  async history(roomId: RoomId, query: HistoryQuery): Promise<ChatMessage[]> {
    const out: ChatMessage[] = [];
    for await (const row of this.walk(roomId, Q.selectMessages, query.before, query.after, query.limit)) out.push(messageFromRow(row));
    return out;
  }

  async lastMessage(roomId: RoomId): Promise<ChatMessage | undefined> {
    return (await this.history(roomId, { limit: 1 }))[0];
  }

  /** Reads ids only, and no further than `cap` of them. */
  async countAfter(roomId: RoomId, after: MessageId | undefined, cap: number): Promise<number> {
    let count = 0;
    for await (const _ of this.walk(roomId, Q.selectMessageIds, undefined, after, cap)) count++;
    return count;
  }

  // ---- read positions ----

  /**
   * A lightweight transaction (compare-and-set), not read-then-write: one user's phone and laptop
   * report reads at the same moment, and with read-then-write the slower, older report would win
   * and move the position back. Reads come at human pace, so a Paxos round per report is
   * affordable. Usually one round: the conditional UPDATE; the first report of a reader inserts.
   */
  async setReadPosition(roomId: RoomId, userId: UserId, messageId: MessageId): Promise<void> {
    const id = BigInt(messageId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const advanced = await this.execute(Q.advanceRead, [id, roomId, userId, id], LWT);
      if (advanced.wasApplied()) return;
      // Not applied with a stored id: that one is not older than ours.
      if (advanced.first()?.get('message_id') != null) return;
      const inserted = await this.execute(Q.insertRead, [roomId, userId, id], LWT);
      if (inserted.wasApplied()) return;
      // Another first report won the insert: compare against it.
    }
    throw new Error(`read position of ${userId} in ${roomId} kept changing under contention`);
  }

  getReadPosition(roomId: RoomId, userId: UserId): Promise<MessageId | undefined> {
    return this.first(Q.selectRead, [roomId, userId], (row) => (row.get('message_id') as bigint | null)?.toString());
  }

  // ---- device tokens ----

  /** The previous holder (device_tokens_by_token) loses the token if its row still shows it; then this device gets it. */
  async setDeviceToken(token: DeviceToken): Promise<void> {
    const holder = await this.first(Q.selectTokenHolder, [token.token], (row) => ({
      userId: row.get('user_id') as string, deviceId: row.get('device_id') as string,
    }));
    if (holder && (holder.userId !== token.userId || holder.deviceId !== token.deviceId)) {
      const held = await this.first(Q.selectToken, [holder.userId, holder.deviceId], (row) => row.get('push_token') as string);
      if (held === token.token) await this.execute(Q.deleteToken, [holder.userId, holder.deviceId], IDEMPOTENT);
    }
    await this.execute(Q.insertToken, [token.userId, token.deviceId, token.token], IDEMPOTENT);
    await this.execute(Q.insertTokenHolder, [token.token, token.userId, token.deviceId], IDEMPOTENT);
  }

  async removeDeviceToken(userId: UserId, deviceId: DeviceId): Promise<void> {
    const held = await this.first(Q.selectToken, [userId, deviceId], (row) => row.get('push_token') as string);
    await this.execute(Q.deleteToken, [userId, deviceId], IDEMPOTENT);
    if (held === undefined) return;
    const holder = await this.first(Q.selectTokenHolder, [held], (row) => `${row.get('user_id') as string}\t${row.get('device_id') as string}`);
    if (holder === `${userId}\t${deviceId}`) await this.execute(Q.deleteTokenHolder, [held], IDEMPOTENT);
  }

  /** One partition read per user, CONCURRENCY at a time (never an unbounded multi-partition IN). */
  async deviceTokens(userIds: UserId[]): Promise<DeviceToken[]> {
    const perUser = await mapLimit(userIds, CONCURRENCY, (userId) =>
      this.all(Q.selectTokens, [userId], (row) => ({ userId, deviceId: row.get('device_id') as string, token: row.get('push_token') as string })));
    return perUser.flat();
  }

  async ping(): Promise<void> {
    await this.execute(Q.ping, [], IDEMPOTENT);
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}
