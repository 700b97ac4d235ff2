import type { Client, QueryOptions, types } from 'cassandra-driver';
import type { RoomId, UserId } from '../../chat/model.ts';
import type {
  FeedId, FeedItem, FileId, Friend, OpenProfile, OpenProfileId, OpenRoom, Profile, ProfileId, RoomAlias, StoredFile,
} from '../../people/model.ts';
import {
  CodeTakenError, type FriendPatch, type OpenProfilePatch, type PeopleStore, type ProfilePatch,
} from '../ports/people.ts';
import { mapLimit } from './concurrency.ts';

const IDEMPOTENT: QueryOptions = { prepare: true, isIdempotent: true };
const LWT: QueryOptions = { prepare: true, isIdempotent: false };
const LOGGED: QueryOptions = { prepare: true, isIdempotent: true, logged: true };
const CONCURRENCY = 32;
/** Open rooms scanned for a title search: the directory is small next to the rooms themselves. */
const SEARCH_SCAN_MAX = 10_000;

type Row = types.Row;

const PROFILE = 'user_id, profile_id, is_default, nickname, description, image_url, background_url, stickers, created_at';
const FEED = 'profile_id, feed_id, user_id, image_url, locked, created_at';
const FRIEND = 'user_id, friend_id, marked, hidden, blocked, assigned_profile_id, created_at';
const OPEN_PROFILE = 'user_id, open_profile_id, nickname, description, image_url, created_at';
const FILE = 'file_id, uploader_id, room_id, title, extension, size, content_type, created_at';

const Q = {
  putProfile: `INSERT INTO profiles_by_user (${PROFILE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  putProfileOwner: 'INSERT INTO profile_owners (profile_id, user_id) VALUES (?, ?)',
  profileOwner: 'SELECT user_id FROM profile_owners WHERE profile_id = ?',
  profile: `SELECT ${PROFILE} FROM profiles_by_user WHERE user_id = ? AND profile_id = ?`,
  profilesOf: `SELECT ${PROFILE} FROM profiles_by_user WHERE user_id = ?`,
  deleteProfile: 'DELETE FROM profiles_by_user WHERE user_id = ? AND profile_id = ?',
  deleteProfileOwner: 'DELETE FROM profile_owners WHERE profile_id = ?',

  addFeed: `INSERT INTO profile_feed (${FEED}) VALUES (?, ?, ?, ?, ?, ?)`,
  addFeedOwner: 'INSERT INTO feed_owners (feed_id, profile_id) VALUES (?, ?)',
  feedOwner: 'SELECT profile_id FROM feed_owners WHERE feed_id = ?',
  feedItem: `SELECT ${FEED} FROM profile_feed WHERE profile_id = ? AND feed_id = ?`,
  feedOf: `SELECT ${FEED} FROM profile_feed WHERE profile_id = ?`,
  lockFeed: 'UPDATE profile_feed SET locked = ? WHERE profile_id = ? AND feed_id = ?',
  deleteFeedOf: 'DELETE FROM profile_feed WHERE profile_id = ?',
  deleteFeedOwner: 'DELETE FROM feed_owners WHERE feed_id = ?',

  addFriend: `INSERT INTO friends (${FRIEND}) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
  friend: `SELECT ${FRIEND} FROM friends WHERE user_id = ? AND friend_id = ?`,
  friendsOf: `SELECT ${FRIEND} FROM friends WHERE user_id = ?`,
  removeFriend: 'DELETE FROM friends WHERE user_id = ? AND friend_id = ?',

  putOpenProfile: `INSERT INTO open_profiles_by_user (${OPEN_PROFILE}) VALUES (?, ?, ?, ?, ?, ?)`,
  putOpenProfileOwner: 'INSERT INTO open_profile_owners (open_profile_id, user_id) VALUES (?, ?)',
  openProfileOwner: 'SELECT user_id FROM open_profile_owners WHERE open_profile_id = ?',
  openProfile: `SELECT ${OPEN_PROFILE} FROM open_profiles_by_user WHERE user_id = ? AND open_profile_id = ?`,
  openProfilesOf: `SELECT ${OPEN_PROFILE} FROM open_profiles_by_user WHERE user_id = ?`,
  deleteOpenProfile: 'DELETE FROM open_profiles_by_user WHERE user_id = ? AND open_profile_id = ?',
  deleteOpenProfileOwner: 'DELETE FROM open_profile_owners WHERE open_profile_id = ?',

  claimCode: 'INSERT INTO open_room_codes (code, room_id) VALUES (?, ?) IF NOT EXISTS',
  putOpenRoom: 'INSERT INTO open_rooms (room_id, code, title, created_at) VALUES (?, ?, ?, ?)',
  openRoom: 'SELECT room_id, code, title, created_at FROM open_rooms WHERE room_id = ?',
  codeHolder: 'SELECT room_id FROM open_room_codes WHERE code = ?',
  allOpenRooms: 'SELECT room_id, code, title, created_at FROM open_rooms',
  putAlias: 'INSERT INTO room_aliases (room_id, user_id, open_profile_id) VALUES (?, ?, ?)',
  aliases: 'SELECT room_id, user_id, open_profile_id FROM room_aliases WHERE room_id = ?',

  putFile: `INSERT INTO files (${FILE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  putRoomFile: 'INSERT INTO files_by_room (room_id, file_id) VALUES (?, ?)',
  file: `SELECT ${FILE} FROM files WHERE file_id = ?`,
  roomFileIds: 'SELECT file_id FROM files_by_room WHERE room_id = ? LIMIT ?',
  deleteFile: 'DELETE FROM files WHERE file_id = ?',
  deleteRoomFile: 'DELETE FROM files_by_room WHERE room_id = ? AND file_id = ?',
} as const;

const id = (value: string): bigint => BigInt(value);
const text = (value: unknown): string | null => (value == null ? null : (value as string));
const millis = (value: unknown): number => (value as Date).getTime();

const profileFromRow = (r: Row): Profile => ({
  profileId: r.get('profile_id').toString(), userId: r.get('user_id'), isDefault: r.get('is_default') === true,
  nickname: r.get('nickname'), description: r.get('description') ?? '', imageUrl: text(r.get('image_url')),
  backgroundUrl: text(r.get('background_url')), stickers: JSON.parse(r.get('stickers') ?? '[]'), createdAt: millis(r.get('created_at')),
});
const feedFromRow = (r: Row): FeedItem => ({
  feedId: r.get('feed_id').toString(), profileId: r.get('profile_id').toString(), userId: r.get('user_id'),
  imageUrl: r.get('image_url'), locked: r.get('locked') === true, createdAt: millis(r.get('created_at')),
});
const friendFromRow = (r: Row): Friend => ({
  userId: r.get('user_id'), friendId: r.get('friend_id'), marked: r.get('marked') === true, hidden: r.get('hidden') === true,
  blocked: r.get('blocked') === true, assignedProfileId: text(r.get('assigned_profile_id')), createdAt: millis(r.get('created_at')),
});
const openProfileFromRow = (r: Row): OpenProfile => ({
  openProfileId: r.get('open_profile_id').toString(), userId: r.get('user_id'), nickname: r.get('nickname'),
  description: r.get('description') ?? '', imageUrl: text(r.get('image_url')), createdAt: millis(r.get('created_at')),
});
const openRoomFromRow = (r: Row): OpenRoom => ({ roomId: r.get('room_id'), code: r.get('code'), title: r.get('title'), createdAt: millis(r.get('created_at')) });
const fileFromRow = (r: Row): StoredFile => ({
  fileId: r.get('file_id').toString(), uploaderId: r.get('uploader_id'), roomId: text(r.get('room_id')), title: r.get('title'),
  extension: r.get('extension'), size: Number(r.get('size')), contentType: r.get('content_type'), createdAt: millis(r.get('created_at')),
});

function assignments<P extends object>(patch: P, columns: Record<keyof P, string>, encode: (field: keyof P, value: unknown) => unknown = (_f, v) => v) {
  const fields = (Object.keys(columns) as Array<keyof P>).filter((field) => patch[field] !== undefined);
  return { set: fields.map((field) => `${columns[field]} = ?`).join(', '), values: fields.map((field) => encode(field, patch[field])) };
}

/**
 * The cluster-mode PeopleStore, in the chat store's keyspace (schema migration 4). Rows a user
 * lists live in that user's partition; rows found by id alone have an owner table that points to it.
 */
export class CassandraPeopleStore implements PeopleStore {
  constructor(private readonly client: Client, private readonly options: { onClose?: () => Promise<void> } = {}) {}

  private execute(query: string, params: unknown[], options: QueryOptions = IDEMPOTENT): Promise<types.ResultSet> {
    return this.client.execute(query, params, options);
  }

  private async all<T>(query: string, params: unknown[], map: (row: Row) => T): Promise<T[]> {
    const out: T[] = [];
    let pageState: string | undefined;
    do {
      const result = await this.client.execute(query, params, { ...IDEMPOTENT, fetchSize: 1000, pageState });
      out.push(...result.rows.map(map));
      pageState = result.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  private async first<T>(query: string, params: unknown[], map: (row: Row) => T): Promise<T | undefined> {
    const row = (await this.execute(query, params)).first();
    return row ? map(row) : undefined;
  }

  private async update<P extends object>(table: string, where: string, key: unknown[], patch: P, columns: Record<keyof P, string>,
    encode?: (field: keyof P, value: unknown) => unknown): Promise<void> {
    const { set, values } = assignments(patch, columns, encode);
    if (!set) return;
    await this.execute(`UPDATE ${table} SET ${set} WHERE ${where}`, [...values, ...key]);
  }

  async putProfile(p: Profile): Promise<void> {
    await this.client.batch([
      { query: Q.putProfile, params: [p.userId, id(p.profileId), p.isDefault, p.nickname, p.description, p.imageUrl, p.backgroundUrl, JSON.stringify(p.stickers), p.createdAt] },
      { query: Q.putProfileOwner, params: [id(p.profileId), p.userId] },
    ], LOGGED);
  }

  private profileOwner(profileId: ProfileId): Promise<UserId | undefined> {
    if (!/^[0-9]{1,19}$/.test(profileId)) return Promise.resolve(undefined);
    return this.first(Q.profileOwner, [id(profileId)], (r) => r.get('user_id') as string);
  }

  async getProfile(profileId: ProfileId): Promise<Profile | undefined> {
    const owner = await this.profileOwner(profileId);
    return owner === undefined ? undefined : this.first(Q.profile, [owner, id(profileId)], profileFromRow);
  }

  profilesOf(userId: UserId): Promise<Profile[]> {
    return this.all(Q.profilesOf, [userId], profileFromRow);
  }

  async defaultProfiles(userIds: UserId[]): Promise<Profile[]> {
    const found = await mapLimit(userIds, CONCURRENCY, async (userId) => (await this.profilesOf(userId)).find((p) => p.isDefault));
    return found.filter((p): p is Profile => p !== undefined);
  }

  async updateProfile(profileId: ProfileId, patch: ProfilePatch): Promise<void> {
    const owner = await this.profileOwner(profileId);
    if (owner === undefined || (await this.getProfile(profileId)) === undefined) return;
    await this.update('profiles_by_user', 'user_id = ? AND profile_id = ?', [owner, id(profileId)], patch,
      { nickname: 'nickname', description: 'description', imageUrl: 'image_url', backgroundUrl: 'background_url', stickers: 'stickers' },
      (field, value) => (field === 'stickers' ? JSON.stringify(value) : value));
  }

  async deleteProfile(profileId: ProfileId): Promise<void> {
    const owner = await this.profileOwner(profileId);
    if (owner === undefined) return;
    const feed = await this.feedOf(profileId);
    await mapLimit(feed, CONCURRENCY, (item) => this.execute(Q.deleteFeedOwner, [id(item.feedId)]));
    await this.execute(Q.deleteFeedOf, [id(profileId)]);
    await this.execute(Q.deleteProfile, [owner, id(profileId)]);
    await this.execute(Q.deleteProfileOwner, [id(profileId)]);
  }

  async addFeedItem(f: FeedItem): Promise<void> {
    await this.client.batch([
      { query: Q.addFeed, params: [id(f.profileId), id(f.feedId), f.userId, f.imageUrl, f.locked, f.createdAt] },
      { query: Q.addFeedOwner, params: [id(f.feedId), id(f.profileId)] },
    ], LOGGED);
  }

  private feedOwner(feedId: FeedId): Promise<bigint | undefined> {
    if (!/^[0-9]{1,19}$/.test(feedId)) return Promise.resolve(undefined);
    return this.first(Q.feedOwner, [id(feedId)], (r) => r.get('profile_id') as bigint);
  }

  async getFeedItem(feedId: FeedId): Promise<FeedItem | undefined> {
    const profileId = await this.feedOwner(feedId);
    return profileId === undefined ? undefined : this.first(Q.feedItem, [profileId, id(feedId)], feedFromRow);
  }

  feedOf(profileId: ProfileId): Promise<FeedItem[]> {
    return this.all(Q.feedOf, [id(profileId)], feedFromRow);
  }

  async setFeedLock(feedId: FeedId, locked: boolean): Promise<void> {
    const profileId = await this.feedOwner(feedId);
    if (profileId !== undefined && (await this.getFeedItem(feedId))) await this.execute(Q.lockFeed, [locked, profileId, id(feedId)]);
  }

  /** One compare-and-set per friend: a friend already there keeps its flags, however syncs and updates interleave. */
  async addFriends(friends: Friend[]): Promise<Friend[]> {
    const applied = await mapLimit(friends, CONCURRENCY, async (f) =>
      (await this.execute(Q.addFriend, [f.userId, f.friendId, f.marked, f.hidden, f.blocked, f.assignedProfileId, f.createdAt], LWT)).wasApplied());
    return friends.filter((_, i) => applied[i]);
  }

  getFriend(userId: UserId, friendId: UserId): Promise<Friend | undefined> {
    return this.first(Q.friend, [userId, friendId], friendFromRow);
  }

  friendsOf(userId: UserId): Promise<Friend[]> {
    return this.all(Q.friendsOf, [userId], friendFromRow);
  }

  async updateFriend(userId: UserId, friendId: UserId, patch: FriendPatch): Promise<void> {
    // UPDATE would create the row: only patch a friend that exists.
    if (!(await this.getFriend(userId, friendId))) return;
    await this.update('friends', 'user_id = ? AND friend_id = ?', [userId, friendId], patch,
      { marked: 'marked', hidden: 'hidden', blocked: 'blocked', assignedProfileId: 'assigned_profile_id' });
  }

  async removeFriend(userId: UserId, friendId: UserId): Promise<void> {
    await this.execute(Q.removeFriend, [userId, friendId]);
  }

  /**
   * Friend lists are partitioned by their owner, so finding who lists these users scans the whole
   * table, page by page. Only the purge calls this, once per batch of purged accounts.
   */
  async removeFromAllFriends(friendIds: UserId[]): Promise<void> {
    if (friendIds.length === 0) return;
    const gone = new Set(friendIds);
    let pageState: string | undefined;
    do {
      const result = await this.client.execute('SELECT user_id, friend_id FROM friends', [], { ...IDEMPOTENT, fetchSize: 1000, pageState });
      const matches = result.rows.filter((r) => gone.has(r.get('friend_id') as string));
      await mapLimit(matches, CONCURRENCY, (r) => this.execute(Q.removeFriend, [r.get('user_id'), r.get('friend_id')]));
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }

  async putOpenProfile(p: OpenProfile): Promise<void> {
    await this.client.batch([
      { query: Q.putOpenProfile, params: [p.userId, id(p.openProfileId), p.nickname, p.description, p.imageUrl, p.createdAt] },
      { query: Q.putOpenProfileOwner, params: [id(p.openProfileId), p.userId] },
    ], LOGGED);
  }

  private openProfileOwner(openProfileId: OpenProfileId): Promise<UserId | undefined> {
    if (!/^[0-9]{1,19}$/.test(openProfileId)) return Promise.resolve(undefined);
    return this.first(Q.openProfileOwner, [id(openProfileId)], (r) => r.get('user_id') as string);
  }

  async getOpenProfile(openProfileId: OpenProfileId): Promise<OpenProfile | undefined> {
    const owner = await this.openProfileOwner(openProfileId);
    return owner === undefined ? undefined : this.first(Q.openProfile, [owner, id(openProfileId)], openProfileFromRow);
  }

  openProfilesOf(userId: UserId): Promise<OpenProfile[]> {
    return this.all(Q.openProfilesOf, [userId], openProfileFromRow);
  }

  async updateOpenProfile(openProfileId: OpenProfileId, patch: OpenProfilePatch): Promise<void> {
    const owner = await this.openProfileOwner(openProfileId);
    if (owner === undefined || !(await this.getOpenProfile(openProfileId))) return;
    await this.update('open_profiles_by_user', 'user_id = ? AND open_profile_id = ?', [owner, id(openProfileId)], patch,
      { nickname: 'nickname', description: 'description', imageUrl: 'image_url' });
  }

  async deleteOpenProfile(openProfileId: OpenProfileId): Promise<void> {
    const owner = await this.openProfileOwner(openProfileId);
    if (owner === undefined) return;
    await this.execute(Q.deleteOpenProfile, [owner, id(openProfileId)]);
    await this.execute(Q.deleteOpenProfileOwner, [id(openProfileId)]);
  }

  async createOpenRoom(room: OpenRoom): Promise<void> {
    const claim = await this.execute(Q.claimCode, [room.code, room.roomId], LWT);
    if (!claim.wasApplied() && claim.first()?.get('room_id') !== room.roomId) throw new CodeTakenError(room.code);
    await this.execute(Q.putOpenRoom, [room.roomId, room.code, room.title, room.createdAt]);
  }

  openRoom(roomId: RoomId): Promise<OpenRoom | undefined> {
    return this.first(Q.openRoom, [roomId], openRoomFromRow);
  }

  async openRoomByCode(code: string): Promise<OpenRoom | undefined> {
    const roomId = await this.first(Q.codeHolder, [code], (r) => r.get('room_id') as string);
    return roomId === undefined ? undefined : this.openRoom(roomId);
  }

  /** Cassandra has no substring index before SAI's LIKE: scans the (bounded) directory of open rooms. */
  async searchOpenRooms(query: string, limit: number): Promise<OpenRoom[]> {
    const needle = query.toLowerCase();
    const found: OpenRoom[] = [];
    let pageState: string | undefined;
    let scanned = 0;
    do {
      const result = await this.client.execute(Q.allOpenRooms, [], { ...IDEMPOTENT, fetchSize: 1000, pageState });
      scanned += result.rows.length;
      for (const row of result.rows) {
        const room = openRoomFromRow(row);
        if (room.title.toLowerCase().includes(needle)) found.push(room);
      }
      pageState = result.pageState ?? undefined;
    } while (pageState && scanned < SEARCH_SCAN_MAX);
    return found.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  }

  async setRoomAlias(alias: RoomAlias): Promise<void> {
    await this.execute(Q.putAlias, [alias.roomId, alias.userId, alias.openProfileId]);
  }

  roomAliases(roomId: RoomId): Promise<RoomAlias[]> {
    return this.all(Q.aliases, [roomId], (r) => ({ roomId: r.get('room_id'), userId: r.get('user_id'), openProfileId: r.get('open_profile_id') }));
  }

  async putFile(f: StoredFile): Promise<void> {
    const row = { query: Q.putFile, params: [id(f.fileId), f.uploaderId, f.roomId, f.title, f.extension, BigInt(f.size), f.contentType, f.createdAt] };
    if (f.roomId === null) await this.execute(row.query, row.params);
    else await this.client.batch([row, { query: Q.putRoomFile, params: [f.roomId, id(f.fileId)] }], LOGGED);
  }

  getFile(fileId: FileId): Promise<StoredFile | undefined> {
    if (!/^[0-9]{1,19}$/.test(fileId)) return Promise.resolve(undefined);
    return this.first(Q.file, [id(fileId)], fileFromRow);
  }

  async filesOfRoom(roomId: RoomId, limit: number): Promise<StoredFile[]> {
    const ids = await this.all(Q.roomFileIds, [roomId, Math.min(limit, 2 ** 31 - 1)], (r) => r.get('file_id').toString() as string);
    const files = await mapLimit(ids, CONCURRENCY, (fileId) => this.getFile(fileId));
    return files.filter((f): f is StoredFile => f !== undefined);
  }

  async deleteFile(fileId: FileId): Promise<void> {
    const file = await this.getFile(fileId);
    if (!file) return;
    if (file.roomId !== null) await this.execute(Q.deleteRoomFile, [file.roomId, id(fileId)]);
    await this.execute(Q.deleteFile, [id(fileId)]);
  }

  /** The client belongs to the CassandraStore that made this store (which closes it), unless `onClose` says otherwise. */
  async close(): Promise<void> {
    await this.options.onClose?.();
  }
}
