import type { RoomId, UserId } from '../../chat/model.ts';
import { compareIds } from '../../chat/snowflake.ts';
import type {
  FeedId, FeedItem, FileId, Friend, OpenProfile, OpenProfileId, OpenRoom, Profile, ProfileId, RoomAlias, StoredFile,
} from '../../people/model.ts';
import {
  CodeTakenError, type FriendPatch, type OpenProfilePatch, type PeopleStore, type ProfilePatch,
} from '../ports/people.ts';

function definedFields<P extends object>(patch: P): Partial<P> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<P>;
}

const copyProfile = (p: Profile): Profile => ({ ...p, stickers: p.stickers.map((s) => ({ ...s })) });
/** Ids are snowflakes: a higher id is a newer row. */
const newestFirst = (a: { createdAt: number }, b: { createdAt: number }): number => b.createdAt - a.createdAt;
const byIdDesc = <T>(id: (row: T) => string) => (a: T, b: T): number => compareIds(id(b), id(a));

/** In-process PeopleStore (tests and embedding hosts), same contract as the SQLite and Cassandra drivers. */
export class MemoryPeopleStore implements PeopleStore {
  private readonly profiles = new Map<ProfileId, Profile>();
  private readonly feed = new Map<FeedId, FeedItem>();
  private readonly friends = new Map<UserId, Map<UserId, Friend>>();
  private readonly openProfiles = new Map<OpenProfileId, OpenProfile>();
  private readonly openRooms = new Map<RoomId, OpenRoom>();
  private readonly codes = new Map<string, RoomId>();
  private readonly aliases = new Map<RoomId, Map<UserId, RoomAlias>>();
  private readonly files = new Map<FileId, StoredFile>();

  async putProfile(profile: Profile): Promise<void> {
    this.profiles.set(profile.profileId, copyProfile(profile));
  }

  async getProfile(profileId: ProfileId): Promise<Profile | undefined> {
    const profile = this.profiles.get(profileId);
    return profile && copyProfile(profile);
  }

  async profilesOf(userId: UserId): Promise<Profile[]> {
    return [...this.profiles.values()].filter((p) => p.userId === userId).sort((a, b) => compareIds(a.profileId, b.profileId)).map(copyProfile);
  }

  async defaultProfiles(userIds: UserId[]): Promise<Profile[]> {
    const defaults = new Map([...this.profiles.values()].filter((p) => p.isDefault).map((p) => [p.userId, p]));
    return userIds.flatMap((id) => {
      const profile = defaults.get(id);
      return profile ? [copyProfile(profile)] : [];
    });
  }

  async updateProfile(profileId: ProfileId, patch: ProfilePatch): Promise<void> {
    const profile = this.profiles.get(profileId);
    if (profile) Object.assign(profile, copyProfile({ ...profile, ...definedFields(patch) }));
  }

  async deleteProfile(profileId: ProfileId): Promise<void> {
    this.profiles.delete(profileId);
    for (const [id, item] of this.feed) if (item.profileId === profileId) this.feed.delete(id);
  }

  async addFeedItem(item: FeedItem): Promise<void> {
    this.feed.set(item.feedId, { ...item });
  }

  async getFeedItem(feedId: FeedId): Promise<FeedItem | undefined> {
    const item = this.feed.get(feedId);
    return item && { ...item };
  }

  async feedOf(profileId: ProfileId): Promise<FeedItem[]> {
    return [...this.feed.values()].filter((f) => f.profileId === profileId).sort(byIdDesc((f) => f.feedId)).map((f) => ({ ...f }));
  }

  async setFeedLock(feedId: FeedId, locked: boolean): Promise<void> {
    const item = this.feed.get(feedId);
    if (item) item.locked = locked;
  }

  async addFriends(friends: Friend[]): Promise<Friend[]> {
    const added: Friend[] = [];
    for (const friend of friends) {
      let mine = this.friends.get(friend.userId);
      if (!mine) this.friends.set(friend.userId, (mine = new Map()));
      if (mine.has(friend.friendId)) continue;
      mine.set(friend.friendId, { ...friend });
      added.push({ ...friend });
    }
    return added;
  }

  async getFriend(userId: UserId, friendId: UserId): Promise<Friend | undefined> {
    const friend = this.friends.get(userId)?.get(friendId);
    return friend && { ...friend };
  }

  async friendsOf(userId: UserId): Promise<Friend[]> {
    return [...(this.friends.get(userId)?.values() ?? [])].map((f) => ({ ...f }));
  }

  async updateFriend(userId: UserId, friendId: UserId, patch: FriendPatch): Promise<void> {
    const friend = this.friends.get(userId)?.get(friendId);
    if (friend) Object.assign(friend, definedFields(patch));
  }

  async removeFriend(userId: UserId, friendId: UserId): Promise<void> {
    this.friends.get(userId)?.delete(friendId);
  }

  async removeFromAllFriends(friendIds: UserId[]): Promise<void> {
    for (const mine of this.friends.values()) for (const id of friendIds) mine.delete(id);
  }

  async putOpenProfile(profile: OpenProfile): Promise<void> {
    this.openProfiles.set(profile.openProfileId, { ...profile });
  }

  async getOpenProfile(openProfileId: OpenProfileId): Promise<OpenProfile | undefined> {
    const profile = this.openProfiles.get(openProfileId);
    return profile && { ...profile };
  }

  async openProfilesOf(userId: UserId): Promise<OpenProfile[]> {
    return [...this.openProfiles.values()].filter((p) => p.userId === userId).sort((a, b) => compareIds(a.openProfileId, b.openProfileId)).map((p) => ({ ...p }));
  }

  async updateOpenProfile(openProfileId: OpenProfileId, patch: OpenProfilePatch): Promise<void> {
    const profile = this.openProfiles.get(openProfileId);
    if (profile) Object.assign(profile, definedFields(patch));
  }

  async deleteOpenProfile(openProfileId: OpenProfileId): Promise<void> {
    this.openProfiles.delete(openProfileId);
  }

  async createOpenRoom(room: OpenRoom): Promise<void> {
    const holder = this.codes.get(room.code);
    if (holder !== undefined && holder !== room.roomId) throw new CodeTakenError(room.code);
    this.codes.set(room.code, room.roomId);
    this.openRooms.set(room.roomId, { ...room });
  }

  async openRoom(roomId: RoomId): Promise<OpenRoom | undefined> {
    const room = this.openRooms.get(roomId);
    return room && { ...room };
  }

  async openRoomByCode(code: string): Promise<OpenRoom | undefined> {
    const roomId = this.codes.get(code);
    return roomId === undefined ? undefined : this.openRoom(roomId);
  }

  async searchOpenRooms(query: string, limit: number): Promise<OpenRoom[]> {
    const needle = query.toLowerCase();
    return [...this.openRooms.values()].filter((r) => r.title.toLowerCase().includes(needle)).sort(newestFirst).slice(0, limit).map((r) => ({ ...r }));
  }

  async setRoomAlias(alias: RoomAlias): Promise<void> {
    let room = this.aliases.get(alias.roomId);
    if (!room) this.aliases.set(alias.roomId, (room = new Map()));
    room.set(alias.userId, { ...alias });
  }

  async roomAliases(roomId: RoomId): Promise<RoomAlias[]> {
    return [...(this.aliases.get(roomId)?.values() ?? [])].map((a) => ({ ...a }));
  }

  async putFile(file: StoredFile): Promise<void> {
    this.files.set(file.fileId, { ...file });
  }

  async getFile(fileId: FileId): Promise<StoredFile | undefined> {
    const file = this.files.get(fileId);
    return file && { ...file };
  }

  async filesOfRoom(roomId: RoomId, limit: number): Promise<StoredFile[]> {
    return [...this.files.values()].filter((f) => f.roomId === roomId)
      .sort(byIdDesc((f) => f.fileId)).slice(0, limit).map((f) => ({ ...f }));
  }

  async deleteFile(fileId: FileId): Promise<void> {
    this.files.delete(fileId);
  }

  async close(): Promise<void> {}
}
