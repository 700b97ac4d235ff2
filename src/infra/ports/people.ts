import type { RoomId, UserId } from '../../chat/model.ts';
import type {
  FeedId, FeedItem, FileId, Friend, OpenProfile, OpenProfileId, OpenRoom, Profile, ProfileId, RoomAlias, StoredFile,
} from '../../people/model.ts';

export type ProfilePatch = Partial<Pick<Profile, 'nickname' | 'description' | 'imageUrl' | 'backgroundUrl' | 'stickers'>>;
export type FriendPatch = Partial<Pick<Friend, 'marked' | 'hidden' | 'blocked' | 'assignedProfileId'>>;
export type OpenProfilePatch = Partial<Pick<OpenProfile, 'nickname' | 'description' | 'imageUrl'>>;

/** A link code that is already taken by another open room. */
export class CodeTakenError extends Error {
  constructor(code: string) {
    super(`open room code ${code} is already taken`);
    this.name = 'CodeTakenError';
  }
}

/**
 * Durable people state: profiles and their feeds, friends, open profiles, open rooms and the
 * aliases members use in them, and file metadata. Driver rules only: the people service decides
 * who may see what.
 */
export interface PeopleStore {
  /** Inserts or overwrites by profile id. */
  putProfile(profile: Profile): Promise<void>;
  getProfile(profileId: ProfileId): Promise<Profile | undefined>;
  /** A user's profiles, oldest first. */
  profilesOf(userId: UserId): Promise<Profile[]>;
  /** The default profile of each user that has one, in the order asked. */
  defaultProfiles(userIds: UserId[]): Promise<Profile[]>;
  updateProfile(profileId: ProfileId, patch: ProfilePatch): Promise<void>;
  deleteProfile(profileId: ProfileId): Promise<void>;

  addFeedItem(item: FeedItem): Promise<void>;
  getFeedItem(feedId: FeedId): Promise<FeedItem | undefined>;
  /** Newest first. */
  feedOf(profileId: ProfileId): Promise<FeedItem[]>;
  setFeedLock(feedId: FeedId, locked: boolean): Promise<void>;

  /** Adds the ones not there yet; existing friends keep their flags (contact sync is idempotent). Returns the ones added. */
  addFriends(friends: Friend[]): Promise<Friend[]>;
  getFriend(userId: UserId, friendId: UserId): Promise<Friend | undefined>;
  /** Every friend of `userId`, in no particular order. */
  friendsOf(userId: UserId): Promise<Friend[]>;
  updateFriend(userId: UserId, friendId: UserId, patch: FriendPatch): Promise<void>;
  removeFriend(userId: UserId, friendId: UserId): Promise<void>;
  /** Takes these users out of every friend list they are in (the purge of accounts; may scan every list). */
  removeFromAllFriends(friendIds: UserId[]): Promise<void>;

  putOpenProfile(profile: OpenProfile): Promise<void>;
  getOpenProfile(openProfileId: OpenProfileId): Promise<OpenProfile | undefined>;
  openProfilesOf(userId: UserId): Promise<OpenProfile[]>;
  updateOpenProfile(openProfileId: OpenProfileId, patch: OpenProfilePatch): Promise<void>;
  deleteOpenProfile(openProfileId: OpenProfileId): Promise<void>;

  /** Rejects with CodeTakenError when the code belongs to another room. */
  createOpenRoom(room: OpenRoom): Promise<void>;
  openRoom(roomId: RoomId): Promise<OpenRoom | undefined>;
  openRoomByCode(code: string): Promise<OpenRoom | undefined>;
  /** Open rooms whose title contains `query` (case-insensitive), at most `limit`, newest first. */
  searchOpenRooms(query: string, limit: number): Promise<OpenRoom[]>;
  setRoomAlias(alias: RoomAlias): Promise<void>;
  roomAliases(roomId: RoomId): Promise<RoomAlias[]>;

  putFile(file: StoredFile): Promise<void>;
  getFile(fileId: FileId): Promise<StoredFile | undefined>;
  /** A room's files, newest first, at most `limit`. */
  filesOfRoom(roomId: RoomId, limit: number): Promise<StoredFile[]>;
  deleteFile(fileId: FileId): Promise<void>;

  close(): Promise<void>;
}
