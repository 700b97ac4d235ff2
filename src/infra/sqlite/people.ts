import type { Statement } from 'better-sqlite3';
import type { RoomId, UserId } from '../../chat/model.ts';
import type {
  FeedId, FeedItem, FileId, Friend, OpenProfile, OpenProfileId, OpenRoom, Profile, ProfileId, RoomAlias, StoredFile,
} from '../../people/model.ts';
import {
  CodeTakenError, type FriendPatch, type OpenProfilePatch, type PeopleStore, type ProfilePatch,
} from '../ports/people.ts';
import type { SqliteDatabase } from './database.ts';

const PROFILE = 'profile_id, user_id, is_default, nickname, description, image_url, background_url, stickers, created_at';
const FEED = 'feed_id, profile_id, user_id, image_url, locked, created_at';
const FRIEND = 'user_id, friend_id, marked, hidden, blocked, assigned_profile_id, created_at';
const OPEN_PROFILE = 'open_profile_id, user_id, nickname, description, image_url, created_at';
const OPEN_ROOM = 'room_id, code, title, created_at';
const FILE = 'file_id, uploader_id, room_id, title, extension, size, content_type, created_at';

type Row = Record<string, any>;

const profileFromRow = (r: Row): Profile => ({
  profileId: r.profile_id, userId: r.user_id, isDefault: r.is_default === 1, nickname: r.nickname, description: r.description,
  imageUrl: r.image_url, backgroundUrl: r.background_url, stickers: JSON.parse(r.stickers), createdAt: r.created_at,
});
const feedFromRow = (r: Row): FeedItem => ({
  feedId: r.feed_id, profileId: r.profile_id, userId: r.user_id, imageUrl: r.image_url, locked: r.locked === 1, createdAt: r.created_at,
});
const friendFromRow = (r: Row): Friend => ({
  userId: r.user_id, friendId: r.friend_id, marked: r.marked === 1, hidden: r.hidden === 1, blocked: r.blocked === 1,
  assignedProfileId: r.assigned_profile_id, createdAt: r.created_at,
});
const openProfileFromRow = (r: Row): OpenProfile => ({
  openProfileId: r.open_profile_id, userId: r.user_id, nickname: r.nickname, description: r.description, imageUrl: r.image_url, createdAt: r.created_at,
});
const openRoomFromRow = (r: Row): OpenRoom => ({ roomId: r.room_id, code: r.code, title: r.title, createdAt: r.created_at });
const fileFromRow = (r: Row): StoredFile => ({
  fileId: r.file_id, uploaderId: r.uploader_id, roomId: r.room_id, title: r.title, extension: r.extension, size: r.size,
  contentType: r.content_type, createdAt: r.created_at,
});

const PROFILE_COLUMNS = { nickname: 'nickname', description: 'description', imageUrl: 'image_url', backgroundUrl: 'background_url', stickers: 'stickers' } as const;
const FRIEND_COLUMNS = { marked: 'marked', hidden: 'hidden', blocked: 'blocked', assignedProfileId: 'assigned_profile_id' } as const;
const OPEN_PROFILE_COLUMNS = { nickname: 'nickname', description: 'description', imageUrl: 'image_url' } as const;

function sqlValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (Array.isArray(value)) return JSON.stringify(value);
  return value;
}

function statements(db: SqliteDatabase) {
  const p = (sql: string) => db.prepare(sql);
  return {
    putProfile: p(`INSERT OR REPLACE INTO profiles (${PROFILE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getProfile: p(`SELECT ${PROFILE} FROM profiles WHERE profile_id = ?`),
    profilesOf: p(`SELECT ${PROFILE} FROM profiles WHERE user_id = ? ORDER BY CAST(profile_id AS INTEGER)`),
    defaultProfiles: p(`SELECT ${PROFILE} FROM profiles WHERE is_default = 1 AND user_id IN (SELECT value FROM json_each(?))`),
    deleteProfile: p('DELETE FROM profiles WHERE profile_id = ?'),
    deleteFeedOf: p('DELETE FROM profile_feed WHERE profile_id = ?'),

    addFeed: p(`INSERT OR REPLACE INTO profile_feed (${FEED}) VALUES (?, ?, ?, ?, ?, ?)`),
    getFeed: p(`SELECT ${FEED} FROM profile_feed WHERE feed_id = ?`),
    feedOf: p(`SELECT ${FEED} FROM profile_feed WHERE profile_id = ? ORDER BY CAST(feed_id AS INTEGER) DESC`),
    lockFeed: p('UPDATE profile_feed SET locked = ? WHERE feed_id = ?'),

    addFriend: p(`INSERT OR IGNORE INTO friends (${FRIEND}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    getFriend: p(`SELECT ${FRIEND} FROM friends WHERE user_id = ? AND friend_id = ?`),
    friendsOf: p(`SELECT ${FRIEND} FROM friends WHERE user_id = ?`),
    removeFriend: p('DELETE FROM friends WHERE user_id = ? AND friend_id = ?'),
    removeFromAllFriends: p('DELETE FROM friends WHERE friend_id IN (SELECT value FROM json_each(?))'),

    putOpenProfile: p(`INSERT OR REPLACE INTO open_profiles (${OPEN_PROFILE}) VALUES (?, ?, ?, ?, ?, ?)`),
    getOpenProfile: p(`SELECT ${OPEN_PROFILE} FROM open_profiles WHERE open_profile_id = ?`),
    openProfilesOf: p(`SELECT ${OPEN_PROFILE} FROM open_profiles WHERE user_id = ? ORDER BY CAST(open_profile_id AS INTEGER)`),
    deleteOpenProfile: p('DELETE FROM open_profiles WHERE open_profile_id = ?'),

    codeHolder: p('SELECT room_id FROM open_rooms WHERE code = ?').pluck(),
    putOpenRoom: p(`INSERT OR REPLACE INTO open_rooms (${OPEN_ROOM}) VALUES (?, ?, ?, ?)`),
    openRoom: p(`SELECT ${OPEN_ROOM} FROM open_rooms WHERE room_id = ?`),
    openRoomByCode: p(`SELECT ${OPEN_ROOM} FROM open_rooms WHERE code = ?`),
    // instr on lower(): a substring match without LIKE's wildcards in the user's query.
    searchOpenRooms: p(`SELECT ${OPEN_ROOM} FROM open_rooms WHERE instr(lower(title), ?) > 0 ORDER BY created_at DESC LIMIT ?`),
    putAlias: p('INSERT OR REPLACE INTO room_aliases (room_id, user_id, open_profile_id) VALUES (?, ?, ?)'),
    aliases: p('SELECT room_id, user_id, open_profile_id FROM room_aliases WHERE room_id = ?'),

    putFile: p(`INSERT OR REPLACE INTO files (${FILE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    getFile: p(`SELECT ${FILE} FROM files WHERE file_id = ?`),
    filesOfRoom: p(`SELECT ${FILE} FROM files WHERE room_id = ? ORDER BY CAST(file_id AS INTEGER) DESC LIMIT ?`),
    deleteFile: p('DELETE FROM files WHERE file_id = ?'),
  };
}

/** The embedded-mode PeopleStore, in the data directory's database (schema migration 3). */
export class SqlitePeopleStore implements PeopleStore {
  private readonly q: ReturnType<typeof statements>;
  private readonly updates = new Map<string, Statement>();
  private closed = false;

  constructor(private readonly db: SqliteDatabase, private readonly options: { onClose?: () => void } = {}) {
    this.q = statements(db);
  }

  /** UPDATE of the columns a patch sets; statements are cached per column set. */
  private update<P extends object>(table: string, key: string, id: unknown[], patch: P, columns: Record<keyof P, string>): void {
    const fields = (Object.keys(columns) as Array<keyof P>).filter((f) => patch[f] !== undefined);
    if (fields.length === 0) return;
    const sql = `UPDATE ${table} SET ${fields.map((f) => `${columns[f]} = ?`).join(', ')} WHERE ${key}`;
    let statement = this.updates.get(sql);
    if (!statement) this.updates.set(sql, (statement = this.db.prepare(sql)));
    statement.run([...fields.map((f) => sqlValue(patch[f])), ...id]);
  }

  async putProfile(p: Profile): Promise<void> {
    this.q.putProfile.run(p.profileId, p.userId, p.isDefault ? 1 : 0, p.nickname, p.description, p.imageUrl, p.backgroundUrl, JSON.stringify(p.stickers), p.createdAt);
  }

  async getProfile(profileId: ProfileId): Promise<Profile | undefined> {
    const row = this.q.getProfile.get(profileId) as Row | undefined;
    return row && profileFromRow(row);
  }

  async profilesOf(userId: UserId): Promise<Profile[]> {
    return (this.q.profilesOf.all(userId) as Row[]).map(profileFromRow);
  }

  async defaultProfiles(userIds: UserId[]): Promise<Profile[]> {
    const found = new Map((this.q.defaultProfiles.all(JSON.stringify(userIds)) as Row[]).map((r) => [r.user_id as string, profileFromRow(r)]));
    return userIds.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
  }

  async updateProfile(profileId: ProfileId, patch: ProfilePatch): Promise<void> {
    this.update('profiles', 'profile_id = ?', [profileId], patch, PROFILE_COLUMNS);
  }

  async deleteProfile(profileId: ProfileId): Promise<void> {
    this.db.transaction(() => {
      this.q.deleteFeedOf.run(profileId);
      this.q.deleteProfile.run(profileId);
    })();
  }

  async addFeedItem(f: FeedItem): Promise<void> {
    this.q.addFeed.run(f.feedId, f.profileId, f.userId, f.imageUrl, f.locked ? 1 : 0, f.createdAt);
  }

  async getFeedItem(feedId: FeedId): Promise<FeedItem | undefined> {
    const row = this.q.getFeed.get(feedId) as Row | undefined;
    return row && feedFromRow(row);
  }

  async feedOf(profileId: ProfileId): Promise<FeedItem[]> {
    return (this.q.feedOf.all(profileId) as Row[]).map(feedFromRow);
  }

  async setFeedLock(feedId: FeedId, locked: boolean): Promise<void> {
    this.q.lockFeed.run(locked ? 1 : 0, feedId);
  }

  async addFriends(friends: Friend[]): Promise<Friend[]> {
    return this.db.transaction(() => friends.filter((f) =>
      this.q.addFriend.run(f.userId, f.friendId, f.marked ? 1 : 0, f.hidden ? 1 : 0, f.blocked ? 1 : 0, f.assignedProfileId, f.createdAt).changes > 0,
    ))();
  }

  async getFriend(userId: UserId, friendId: UserId): Promise<Friend | undefined> {
    const row = this.q.getFriend.get(userId, friendId) as Row | undefined;
    return row && friendFromRow(row);
  }

  async friendsOf(userId: UserId): Promise<Friend[]> {
    return (this.q.friendsOf.all(userId) as Row[]).map(friendFromRow);
  }

  async updateFriend(userId: UserId, friendId: UserId, patch: FriendPatch): Promise<void> {
    this.update('friends', 'user_id = ? AND friend_id = ?', [userId, friendId], patch, FRIEND_COLUMNS);
  }

  async removeFriend(userId: UserId, friendId: UserId): Promise<void> {
    this.q.removeFriend.run(userId, friendId);
  }

  async removeFromAllFriends(friendIds: UserId[]): Promise<void> {
    if (friendIds.length > 0) this.q.removeFromAllFriends.run(JSON.stringify(friendIds));
  }

  async putOpenProfile(p: OpenProfile): Promise<void> {
    this.q.putOpenProfile.run(p.openProfileId, p.userId, p.nickname, p.description, p.imageUrl, p.createdAt);
  }

  async getOpenProfile(openProfileId: OpenProfileId): Promise<OpenProfile | undefined> {
    const row = this.q.getOpenProfile.get(openProfileId) as Row | undefined;
    return row && openProfileFromRow(row);
  }

  async openProfilesOf(userId: UserId): Promise<OpenProfile[]> {
    return (this.q.openProfilesOf.all(userId) as Row[]).map(openProfileFromRow);
  }

  async updateOpenProfile(openProfileId: OpenProfileId, patch: OpenProfilePatch): Promise<void> {
    this.update('open_profiles', 'open_profile_id = ?', [openProfileId], patch, OPEN_PROFILE_COLUMNS);
  }

  async deleteOpenProfile(openProfileId: OpenProfileId): Promise<void> {
    this.q.deleteOpenProfile.run(openProfileId);
  }

  async createOpenRoom(room: OpenRoom): Promise<void> {
    const holder = this.q.codeHolder.get(room.code) as string | undefined;
    if (holder !== undefined && holder !== room.roomId) throw new CodeTakenError(room.code);
    this.q.putOpenRoom.run(room.roomId, room.code, room.title, room.createdAt);
  }

  async openRoom(roomId: RoomId): Promise<OpenRoom | undefined> {
    const row = this.q.openRoom.get(roomId) as Row | undefined;
    return row && openRoomFromRow(row);
  }

  async openRoomByCode(code: string): Promise<OpenRoom | undefined> {
    const row = this.q.openRoomByCode.get(code) as Row | undefined;
    return row && openRoomFromRow(row);
  }

  async searchOpenRooms(query: string, limit: number): Promise<OpenRoom[]> {
    return (this.q.searchOpenRooms.all(query.toLowerCase(), limit) as Row[]).map(openRoomFromRow);
  }

  async setRoomAlias(alias: RoomAlias): Promise<void> {
    this.q.putAlias.run(alias.roomId, alias.userId, alias.openProfileId);
  }

  async roomAliases(roomId: RoomId): Promise<RoomAlias[]> {
    return (this.q.aliases.all(roomId) as Row[]).map((r) => ({ roomId: r.room_id, userId: r.user_id, openProfileId: r.open_profile_id }));
  }

  async putFile(f: StoredFile): Promise<void> {
    this.q.putFile.run(f.fileId, f.uploaderId, f.roomId, f.title, f.extension, f.size, f.contentType, f.createdAt);
  }

  async getFile(fileId: FileId): Promise<StoredFile | undefined> {
    const row = this.q.getFile.get(fileId) as Row | undefined;
    return row && fileFromRow(row);
  }

  async filesOfRoom(roomId: RoomId, limit: number): Promise<StoredFile[]> {
    return (this.q.filesOfRoom.all(roomId, limit) as Row[]).map(fileFromRow);
  }

  async deleteFile(fileId: FileId): Promise<void> {
    this.q.deleteFile.run(fileId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose?.();
  }
}
