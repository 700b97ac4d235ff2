import { badRequest, forbidden, notFound } from '../chat/errors.ts';
import type { User, UserId } from '../chat/model.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { FriendPatch, OpenProfilePatch, PeopleStore, ProfilePatch } from '../infra/ports/people.ts';
import type { FeedItem, Friend, OpenProfile, Profile, ProfileId, Sticker } from './model.ts';
import { normalizePhone } from './phone.ts';

export const FRIEND_FILTERS = ['birthday', 'marked', 'hidden', 'blocked'] as const;
export type FriendFilter = (typeof FRIEND_FILTERS)[number];
/** Numbers one contact sync may carry. */
export const MAX_SYNC_NUMBERS = 1_000;

/** A profile as others see it: without its owner and creation time. */
export type PublicProfile = Omit<Profile, 'userId' | 'createdAt'>;

export interface FoundUser {
  userId: UserId;
  nickname: string;
  profile: PublicProfile | null;
}

export interface FriendView {
  userId: UserId;
  nickname: string;
  birthday: string | null;
  marked: boolean;
  hidden: boolean;
  blocked: boolean;
  /** Which of my profiles this friend sees (null: my default). */
  assignedProfileId: ProfileId | null;
  /** The profile this friend shows me: the one they assigned to me, else their default. */
  profile: PublicProfile | null;
  createdAt: number;
}

export interface ProfileInput {
  nickname: string;
  description?: string;
  imageUrl?: string | null;
  backgroundUrl?: string | null;
  stickers?: Sticker[];
}

export interface PeopleOptions {
  newId: () => string;
  defaultCountryCode: string;
  now?: () => number;
  /** Told after a friend row changes (block caches forget it). */
  onFriendChanged?: (userId: UserId, friendId: UserId) => void;
}

export const publicProfile = (p: Profile): PublicProfile => ({
  profileId: p.profileId, isDefault: p.isDefault, nickname: p.nickname, description: p.description,
  imageUrl: p.imageUrl, backgroundUrl: p.backgroundUrl, stickers: p.stickers,
});

const DESCRIPTION_MAX = 60;

/** FlameTalk's membership service: finding people, friends and contact sync, profiles and their feeds, open profiles. */
export class PeopleService {
  private readonly now: () => number;

  constructor(private readonly store: ChatStore, private readonly people: PeopleStore, private readonly options: PeopleOptions) {
    this.now = options.now ?? Date.now;
  }

  normalizePhone(raw: string): string {
    return normalizePhone(raw, this.options.defaultCountryCode);
  }

  // ---- profiles ----

  /** The default profile, created from the account when it has none yet (sign-up creates it; older accounts get it here). */
  async defaultProfile(user: Pick<User, 'userId' | 'nickname'>): Promise<Profile> {
    const existing = (await this.people.profilesOf(user.userId)).find((p) => p.isDefault);
    if (existing) return existing;
    const profile: Profile = {
      profileId: this.options.newId(), userId: user.userId, isDefault: true, nickname: user.nickname, description: '',
      imageUrl: null, backgroundUrl: null, stickers: [], createdAt: this.now(),
    };
    await this.people.putProfile(profile);
    return profile;
  }

  async myProfiles(userId: UserId): Promise<Profile[]> {
    const user = await this.user(userId);
    const profiles = await this.people.profilesOf(userId);
    if (!profiles.some((p) => p.isDefault)) profiles.unshift(await this.defaultProfile(user));
    return profiles;
  }

  async createProfile(userId: UserId, input: ProfileInput): Promise<Profile> {
    const user = await this.user(userId);
    await this.defaultProfile(user);
    checkDescription(input.description);
    const profile: Profile = {
      profileId: this.options.newId(), userId, isDefault: false, nickname: input.nickname, description: input.description ?? '',
      imageUrl: input.imageUrl ?? null, backgroundUrl: input.backgroundUrl ?? null, stickers: input.stickers ?? [], createdAt: this.now(),
    };
    await this.people.putProfile(profile);
    await this.recordImages(profile, profile);
    return profile;
  }

  /** Mine, a default profile, or one its owner assigned to the viewer as a friend; 403 otherwise. */
  async viewProfile(viewerId: UserId, profileId: ProfileId): Promise<Profile> {
    const profile = await this.people.getProfile(profileId);
    if (!profile) throw notFound('no profile with this id', 'profile_not_found');
    if (!(await this.canSee(viewerId, profile))) throw forbidden('this profile is not shown to you', 'profile_hidden');
    return profile;
  }

  async updateProfile(userId: UserId, profileId: ProfileId, patch: ProfilePatch): Promise<Profile> {
    await this.ownProfile(userId, profileId);
    checkDescription(patch.description);
    await this.people.updateProfile(profileId, patch);
    const updated = (await this.people.getProfile(profileId))!;
    await this.recordImages(updated, patch);
    return updated;
  }

  async deleteProfile(userId: UserId, profileId: ProfileId): Promise<void> {
    const profile = await this.ownProfile(userId, profileId);
    if (profile.isDefault) throw badRequest('the default profile cannot be deleted', 'default_profile');
    await this.people.deleteProfile(profileId);
    // Friends who saw it see the default profile again.
    for (const friend of await this.people.friendsOf(userId)) {
      if (friend.assignedProfileId === profileId) await this.people.updateFriend(userId, friend.friendId, { assignedProfileId: null });
    }
  }

  /** The owner sees every item; anyone who may see the profile sees the unlocked ones. Newest first. */
  async feed(viewerId: UserId, profileId: ProfileId): Promise<FeedItem[]> {
    const profile = await this.viewProfile(viewerId, profileId);
    const items = await this.people.feedOf(profileId);
    return profile.userId === viewerId ? items : items.filter((i) => !i.locked);
  }

  async lockFeedItem(userId: UserId, feedId: string, locked: boolean): Promise<FeedItem> {
    const item = await this.people.getFeedItem(feedId);
    if (!item) throw notFound('no feed item with this id', 'feed_not_found');
    if (item.userId !== userId) throw forbidden('only the owner of a profile may lock its feed', 'not_owner');
    await this.people.setFeedLock(feedId, locked);
    return { ...item, locked };
  }

  // ---- finding people ----

  /** Exact match on one normalised phone number or one email; 404 when nobody has it. */
  async search(query: { phoneNumber?: string; email?: string }): Promise<FoundUser> {
    const user = query.phoneNumber !== undefined
      ? await this.store.getUserByPhone(this.normalizePhone(query.phoneNumber))
      : await this.store.getUserByEmail(query.email!);
    if (!user || user.leftAt !== null) throw notFound('no user with this phone number or email', 'user_not_found');
    return { userId: user.userId, nickname: user.nickname, profile: publicProfile(await this.defaultProfile(user)) };
  }

  // ---- friends ----

  /** Adds every registered user among the numbers (never the caller); idempotent. Returns those friends. */
  async syncContacts(userId: UserId, phoneNumbers: string[]): Promise<FriendView[]> {
    if (phoneNumbers.length > MAX_SYNC_NUMBERS) throw badRequest(`body/phoneNumbers must have at most ${MAX_SYNC_NUMBERS} numbers`);
    const numbers = [...new Set(phoneNumbers.map((n) => this.normalizePhone(n)).filter((n) => n.length >= 4))];
    const found = (await Promise.all(numbers.map((n) => this.store.getUserByPhone(n))))
      .filter((u): u is User => u !== undefined && u.leftAt === null && u.userId !== userId);
    const now = this.now();
    await this.people.addFriends(found.map((u) => ({
      userId, friendId: u.userId, marked: false, hidden: false, blocked: false, assignedProfileId: null, createdAt: now,
    })));
    const ids = new Set(found.map((u) => u.userId));
    return (await this.listFriends(userId, 'all')).filter((f) => ids.has(f.userId));
  }

  async addByPhone(userId: UserId, phoneNumber: string): Promise<FriendView> {
    const user = await this.store.getUserByPhone(this.normalizePhone(phoneNumber));
    if (!user || user.leftAt !== null) throw notFound('no user with this phone number', 'user_not_found');
    if (user.userId === userId) throw badRequest('you cannot add yourself as a friend', 'self_friend');
    await this.people.addFriends([{ userId, friendId: user.userId, marked: false, hidden: false, blocked: false, assignedProfileId: null, createdAt: this.now() }]);
    return (await this.friendView(userId, (await this.people.getFriend(userId, user.userId))!))!;
  }

  /** Default: neither hidden nor blocked. Sorted by the nickname each friend shows me. */
  async listFriends(userId: UserId, filter: FriendFilter | 'default' | 'all' = 'default'): Promise<FriendView[]> {
    const friends = await this.people.friendsOf(userId);
    const views = (await Promise.all(friends.map((f) => this.friendView(userId, f)))).filter((v): v is FriendView => v !== undefined);
    const today = new Date(this.now()).toISOString().slice(5, 10);
    const keep = (v: FriendView): boolean => {
      switch (filter) {
        case 'all': return true;
        case 'default': return !v.hidden && !v.blocked;
        case 'birthday': return !v.blocked && v.birthday !== null && v.birthday.slice(5, 10) === today;
        default: return v[filter];
      }
    };
    return views.filter(keep).sort((a, b) => a.nickname.localeCompare(b.nickname) || (a.userId < b.userId ? -1 : 1));
  }

  /**
   * Blocking someone who is not a friend yet records them as a (blocked) friend, so a block needs
   * no friendship first. Other changes need the friend.
   */
  async updateFriend(userId: UserId, friendId: UserId, patch: FriendPatch): Promise<FriendView> {
    if (friendId === userId) throw badRequest('you are not your own friend', 'self_friend');
    let friend = await this.people.getFriend(userId, friendId);
    if (!friend) {
      const other = await this.store.getUser(friendId);
      if (!other || !patch.blocked) throw notFound('no friend with this user id', 'friend_not_found');
      friend = { userId, friendId, marked: false, hidden: false, blocked: true, assignedProfileId: null, createdAt: this.now() };
      await this.people.addFriends([friend]);
    }
    if (patch.assignedProfileId) await this.ownProfile(userId, patch.assignedProfileId, 'body/assignedProfileId');
    await this.people.updateFriend(userId, friendId, patch);
    this.options.onFriendChanged?.(userId, friendId);
    return (await this.friendView(userId, (await this.people.getFriend(userId, friendId))!))!;
  }

  async removeFriend(userId: UserId, friendId: UserId): Promise<void> {
    if (!(await this.people.getFriend(userId, friendId))) throw notFound('no friend with this user id', 'friend_not_found');
    await this.people.removeFriend(userId, friendId);
    this.options.onFriendChanged?.(userId, friendId);
  }

  /** Whether `blockerId` blocked `otherId`. */
  async hasBlocked(blockerId: UserId, otherId: UserId): Promise<boolean> {
    return (await this.people.getFriend(blockerId, otherId))?.blocked === true;
  }

  // ---- open profiles ----

  openProfiles(userId: UserId): Promise<OpenProfile[]> {
    return this.people.openProfilesOf(userId);
  }

  async createOpenProfile(userId: UserId, input: { nickname: string; description?: string; imageUrl?: string | null }): Promise<OpenProfile> {
    checkDescription(input.description);
    const profile: OpenProfile = {
      openProfileId: this.options.newId(), userId, nickname: input.nickname, description: input.description ?? '',
      imageUrl: input.imageUrl ?? null, createdAt: this.now(),
    };
    await this.people.putOpenProfile(profile);
    return profile;
  }

  async ownOpenProfile(userId: UserId, openProfileId: string): Promise<OpenProfile> {
    const profile = await this.people.getOpenProfile(openProfileId);
    if (!profile || profile.userId !== userId) throw notFound('no open profile of yours with this id', 'open_profile_not_found');
    return profile;
  }

  async updateOpenProfile(userId: UserId, openProfileId: string, patch: OpenProfilePatch): Promise<OpenProfile> {
    await this.ownOpenProfile(userId, openProfileId);
    checkDescription(patch.description);
    await this.people.updateOpenProfile(openProfileId, patch);
    return (await this.people.getOpenProfile(openProfileId))!;
  }

  async deleteOpenProfile(userId: UserId, openProfileId: string): Promise<void> {
    await this.ownOpenProfile(userId, openProfileId);
    await this.people.deleteOpenProfile(openProfileId);
  }

  // ---- helpers ----

  private async user(userId: UserId): Promise<User> {
    const user = await this.store.getUser(userId);
    if (!user) throw notFound('no user with this id', 'user_not_found');
    return user;
  }

  private async ownProfile(userId: UserId, profileId: ProfileId, field?: string): Promise<Profile> {
    const profile = await this.people.getProfile(profileId);
    if (!profile || profile.userId !== userId) {
      if (field) throw badRequest(`${field} is not one of your profiles`, 'profile_not_found');
      throw notFound('no profile of yours with this id', 'profile_not_found');
    }
    return profile;
  }

  private async canSee(viewerId: UserId, profile: Profile): Promise<boolean> {
    if (profile.userId === viewerId || profile.isDefault) return true;
    const relation = await this.people.getFriend(profile.userId, viewerId);
    return relation !== undefined && !relation.blocked && relation.assignedProfileId === profile.profileId;
  }

  /** The profile `ownerId` shows `viewerId`. */
  private async shownTo(ownerId: UserId, viewerId: UserId, owner: Pick<User, 'userId' | 'nickname'>): Promise<Profile> {
    const relation = await this.people.getFriend(ownerId, viewerId);
    if (relation?.assignedProfileId && !relation.blocked) {
      const assigned = await this.people.getProfile(relation.assignedProfileId);
      if (assigned) return assigned;
    }
    return this.defaultProfile(owner);
  }

  private async friendView(userId: UserId, friend: Friend): Promise<FriendView | undefined> {
    const user = await this.store.getUser(friend.friendId);
    if (!user || user.leftAt !== null) return undefined;
    const profile = await this.shownTo(friend.friendId, userId, user);
    return {
      userId: friend.friendId, nickname: profile.nickname, birthday: user.birthday, marked: friend.marked, hidden: friend.hidden,
      blocked: friend.blocked, assignedProfileId: friend.assignedProfileId, profile: publicProfile(profile), createdAt: friend.createdAt,
    };
  }

  /** A profile's feed keeps every image it has shown. */
  private async recordImages(profile: Profile, changed: Partial<Pick<Profile, 'imageUrl' | 'backgroundUrl'>>): Promise<void> {
    for (const url of [changed.imageUrl, changed.backgroundUrl]) {
      if (!url) continue;
      await this.people.addFeedItem({
        feedId: this.options.newId(), profileId: profile.profileId, userId: profile.userId, imageUrl: url, locked: false, createdAt: this.now(),
      });
    }
  }
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && [...description].length > DESCRIPTION_MAX) {
    throw badRequest(`description is longer than ${DESCRIPTION_MAX} characters`, 'description_too_long');
  }
}

