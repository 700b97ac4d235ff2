import type { RoomFeed } from '../infra/ports/feed.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';
import type { ChatStore, MembershipPatch } from '../infra/ports/store.ts';
import { badRequest, forbidden, notFound } from './errors.ts';
import { namedMessage, realIds, type MemberIds, type MemberNaming } from './member-ids.ts';
import type { ChatMessage, Membership, Room, RoomId, User, UserId } from './model.ts';
import type { StoreCache } from './store-cache.ts';

/** Unread counts stop at this, the way messengers show "999+". */
export const UNREAD_CAP = 999;

export interface RoomMember {
  userId: UserId;
  nickname: string;
  /** The open profile's image of a member who joined an open room with one; null otherwise. */
  imageUrl: string | null;
  joinedAt: number;
}

/** Rooms as members see them: in an open room every member, the host and the viewer go by their ids in that room. */
export interface RoomDetail {
  roomId: RoomId;
  title: string;
  hostId: UserId;
  /** The id that names the viewer in this room (their user id; in an open room their id there). */
  myId: string;
  isOpen: boolean;
  inputLock: boolean;
  /** My membership is muted: no pushes from this room. */
  muted: boolean;
  createdAt: number;
  members: RoomMember[];
}

export interface RoomSummary {
  roomId: RoomId;
  title: string;
  hostId: UserId;
  isOpen: boolean;
  inputLock: boolean;
  memberCount: number;
  lastMessage: ChatMessage | null;
  unreadCount: number;
  createdAt: number;
}

/** FlameTalk's default title: the other members' nicknames. */
export function defaultTitle(viewer: UserId, users: Array<Pick<User, 'userId' | 'nickname'>>): string {
  // Sorted: stores return users in no particular order, and a title must not change between reads.
  const others = users.filter((u) => u.userId !== viewer).map((u) => u.nickname).sort((a, b) => a.localeCompare(b));
  return others.length > 0 ? others.join(', ') : '(empty room)';
}

/** A change of a room's membership or of a member's own settings, after it is stored. */
export type MembershipChange =
  | { kind: 'created'; roomId: RoomId; actorId: UserId; userIds: UserId[] }
  | { kind: 'invited'; roomId: RoomId; actorId: UserId; userIds: UserId[] }
  | { kind: 'joined'; roomId: RoomId; actorId: UserId }
  | { kind: 'left'; roomId: RoomId; actorId: UserId }
  | { kind: 'updated'; roomId: RoomId; actorId: UserId };

export interface RoomOptions {
  newRoomId: () => string;
  /** Whether `blockerId` blocked `otherId`: a blocked user cannot put the blocker in a new 1:1 room. */
  hasBlocked?: (blockerId: UserId, otherId: UserId) => Promise<boolean>;
  /** Open chat: lists new open rooms, records aliases, and names members of open rooms by their open profiles. */
  openChat?: {
    register(room: Room, title: string): Promise<unknown>;
    setAlias(roomId: RoomId, userId: UserId, openProfileId: string): Promise<void>;
    aliases(roomId: RoomId): Promise<Map<UserId, { nickname: string; imageUrl: string | null }>>;
    /** The directory entry of an open room: its title is the room's default title for every member. */
    entry(roomId: RoomId): Promise<{ title: string } | undefined>;
  };
  /** Per-room ids of open rooms' members; absent: members go by their user ids everywhere. */
  memberIds?: MemberIds;
  now?: () => number;
  /** Copies of rooms and memberships for the checks of sockets (checkMember); the store is asked every time without. */
  cache?: StoreCache;
  /** Told of every membership change once stored (system messages, room events); awaited, never failing the change. */
  onChange?: (change: MembershipChange) => Promise<void>;
}

/** Rooms and membership; keeps the presence store's membership mirror and every node's room actors in step. */
export class RoomService {
  private readonly now: () => number;

  constructor(
    private readonly store: ChatStore,
    private readonly presence: PresenceStore,
    private readonly feed: RoomFeed,
    private readonly options: RoomOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** With `openProfileId` (open rooms only) the host shows that open profile, as if joining with it; without, their own profile. */
  async create(hostId: UserId, userIds: UserId[], title?: string, isOpen = false, openProfileId?: string): Promise<RoomDetail> {
    if (openProfileId !== undefined && !isOpen) throw badRequest('body/openProfileId is for open rooms (isOpen: true)', 'room_not_open');
    if (openProfileId !== undefined && !this.options.openChat) throw forbidden('open profiles are not available on this server', 'open_chat_unavailable');
    const invited = [...new Set(userIds.filter((id) => id !== hostId))];
    const found = new Set((await this.store.getUsers(invited)).filter((u) => u.leftAt === null).map((u) => u.userId));
    const missing = invited.findIndex((id) => !found.has(id));
    if (missing >= 0) throw badRequest(`body/users/${userIds.indexOf(invited[missing]!)} is not a known user`, 'unknown_user');
    if (invited.length === 1 && (await this.options.hasBlocked?.(invited[0]!, hostId))) {
      throw forbidden('this user does not accept conversations with you', 'blocked');
    }

    const now = this.now();
    const room: Room = { roomId: this.options.newRoomId(), hostId, isOpen, createdAt: now };
    // Before the room exists, so that nothing ever shows the host under their own name.
    if (openProfileId !== undefined) await this.options.openChat?.setAlias(room.roomId, hostId, openProfileId);
    const members: Membership[] = [hostId, ...invited].map((userId) => ({
      roomId: room.roomId, userId, joinedAt: now, title: userId === hostId ? title ?? null : null, inputLock: false, muted: false,
    }));
    await this.store.createRoom(room, members);
    await this.presence.setMembers(room.roomId, members.map((m) => m.userId));
    if (isOpen) await this.options.openChat?.register(room, title ?? 'Open chat');
    await this.changed({ kind: 'created', roomId: room.roomId, actorId: hostId, userIds: invited });
    return this.detail(hostId, room.roomId);
  }

  /** A member adds users to the room; users already in it are left as they are. */
  async invite(userId: UserId, roomId: RoomId, userIds: UserId[]): Promise<RoomDetail> {
    await this.requireMember(userId, roomId);
    const room = await this.room(roomId);
    const members = (await this.store.members(roomId)).map((m) => m.userId);
    const current = new Set(members);
    // In an open room a member may be named by their id there (as every client sees them).
    const ids = this.options.memberIds;
    const asked = ids ? userIds.map((id) => ids.resolve(room, id, members)) : userIds;
    const wanted = [...new Set(asked)].filter((id) => !current.has(id));
    const found = new Set((await this.store.getUsers(wanted)).filter((u) => u.leftAt === null).map((u) => u.userId));
    const missing = wanted.findIndex((id) => !found.has(id));
    if (missing >= 0) throw badRequest(`body/users/${asked.indexOf(wanted[missing]!)} is not a known user`, 'unknown_user');
    const now = this.now();
    for (const invited of wanted) {
      await this.store.addMember({ roomId, userId: invited, joinedAt: now, title: null, inputLock: false, muted: false });
      await this.presence.addMember(roomId, invited);
      await this.feed.signal({ kind: 'membership', roomId, userId: invited, change: 'joined' });
    }
    if (wanted.length > 0) await this.changed({ kind: 'invited', roomId, actorId: userId, userIds: wanted });
    return this.detail(userId, roomId);
  }

  /** Joins an open room; joining a room one already belongs to changes nothing. */
  async join(userId: UserId, roomId: RoomId): Promise<RoomDetail> {
    const room = await this.room(roomId);
    if (!(await this.store.getMembership(roomId, userId))) {
      if (!room.isOpen) throw forbidden('this room is not open: members must invite you', 'room_closed');
      await this.store.addMember({ roomId, userId, joinedAt: this.now(), title: null, inputLock: false, muted: false });
      await this.presence.addMember(roomId, userId);
      await this.feed.signal({ kind: 'membership', roomId, userId, change: 'joined' });
      await this.changed({ kind: 'joined', roomId, actorId: userId });
    }
    return this.detail(userId, roomId);
  }

  /**
   * Joins an open room under one of the user's open profiles: the other members see only its
   * nickname and image (in messages, member lists and titles), never the user's own. The alias is
   * recorded before the membership, so nothing is ever shown under the real name.
   */
  async joinOpenRoom(userId: UserId, roomId: RoomId, openProfileId: string): Promise<RoomDetail> {
    const room = await this.room(roomId);
    if (!room.isOpen) throw forbidden('this room is not open: members must invite you', 'room_closed');
    if (!this.options.openChat) throw forbidden('open profiles are not available on this server', 'open_chat_unavailable');
    await this.options.openChat.setAlias(roomId, userId, openProfileId);
    return this.join(userId, roomId);
  }

  async leave(userId: UserId, roomId: RoomId): Promise<void> {
    await this.requireMember(userId, roomId);
    await this.store.removeMember(roomId, userId);
    // At once: if what follows fails, the user must still not keep sending from this node.
    this.options.cache?.forgetMembership(roomId, userId);
    await this.presence.removeMember(roomId, userId);
    await this.feed.signal({ kind: 'membership', roomId, userId, change: 'left' });
    await this.changed({ kind: 'left', roomId, actorId: userId });
  }

  async updateMine(userId: UserId, roomId: RoomId, patch: MembershipPatch): Promise<RoomDetail> {
    await this.requireMember(userId, roomId);
    await this.store.updateMembership(roomId, userId, patch);
    await this.changed({ kind: 'updated', roomId, actorId: userId });
    return this.detail(userId, roomId);
  }

  private async changed(change: MembershipChange): Promise<void> {
    // The change is stored: what follows from it (system message, room events) must not undo or fail it.
    await this.options.onChange?.(change).catch(() => undefined);
  }

  async detail(userId: UserId, roomId: RoomId): Promise<RoomDetail> {
    const room = await this.room(roomId);
    const members = await this.store.members(roomId);
    const mine = members.find((m) => m.userId === userId);
    if (!mine) throw forbidden('you are not a member of this room', 'not_member');
    const users = await this.named(roomId, await this.store.getUsers(members.map((m) => m.userId)));
    const shown = new Map(users.map((u) => [u.userId, u]));
    const name = this.naming(room);
    return {
      roomId, hostId: name(room.hostId), myId: name(userId), isOpen: room.isOpen, createdAt: room.createdAt, inputLock: mine.inputLock, muted: mine.muted,
      title: mine.title ?? (await this.openTitle(room)) ?? defaultTitle(userId, users),
      members: members
        .map((m) => ({ userId: name(m.userId), nickname: shown.get(m.userId)?.nickname ?? '', imageUrl: shown.get(m.userId)?.imageUrl ?? null, joinedAt: m.joinedAt }))
        .sort((a, b) => a.joinedAt - b.joinedAt),
    };
  }

  /** The members' ids as the room shows them. */
  async memberIds(userId: UserId, roomId: RoomId): Promise<string[]> {
    await this.requireMember(userId, roomId);
    const name = this.naming(await this.room(roomId));
    return (await this.store.members(roomId)).map((m) => name(m.userId));
  }

  /** How a room names its members to clients. */
  naming(room: Room): MemberNaming {
    return this.options.memberIds?.forRoom(room) ?? realIds;
  }

  /** The same, by the room's id. */
  async namingOf(roomId: RoomId): Promise<MemberNaming> {
    return (await this.options.memberIds?.of(roomId)) ?? realIds;
  }

  /** My rooms, most recently active first. */
  async listMine(userId: UserId): Promise<RoomSummary[]> {
    const memberships = await this.store.roomsOf(userId);
    const summaries = await Promise.all(memberships.map((m) => this.summary(userId, m)));
    const activity = (s: RoomSummary): number => s.lastMessage?.createdAt ?? s.createdAt;
    return summaries.filter((s): s is RoomSummary => s !== undefined).sort((a, b) => activity(b) - activity(a));
  }

  /** 404 for an unknown room, 403 for a room the user is not in. */
  async requireMember(userId: UserId, roomId: RoomId): Promise<Membership> {
    const membership = await this.store.getMembership(roomId, userId);
    if (membership) return membership;
    await this.room(roomId);
    throw forbidden('you are not a member of this room', 'not_member');
  }

  /**
   * The membership check of sockets (join, and every send): like requireMember, but from the
   * cache, so that members who were here before can still join and send while the store is away.
   */
  async checkMember(userId: UserId, roomId: RoomId): Promise<void> {
    const { cache } = this.options;
    if (!cache) return void (await this.requireMember(userId, roomId));
    // Read along with the membership, not only when it is missing: a send asks whether the room is
    // open (to name its sender), and that must not need the store either.
    const room = cache.room(roomId);
    room.catch(() => undefined);
    if (await cache.isMember(roomId, userId)) return;
    if (!(await room)) throw notFound('no room with this id', 'room_not_found');
    throw forbidden('you are not a member of this room', 'not_member');
  }

  /** This node heard that the user left the room (on another node): its copy of the membership goes. */
  memberRemoved(roomId: RoomId, userId: UserId): void {
    this.options.cache?.forgetMembership(roomId, userId);
  }

  private async openTitle(room: Room): Promise<string | undefined> {
    return room.isOpen ? (await this.options.openChat?.entry(room.roomId))?.title : undefined;
  }

  /** Members as the room shows them: in an open room, those who joined with an open profile go by its nickname. */
  private async named(roomId: RoomId, users: User[]): Promise<Array<Pick<User, 'userId' | 'nickname'> & { imageUrl?: string | null }>> {
    const aliases = await this.options.openChat?.aliases(roomId);
    if (!aliases || aliases.size === 0) return users;
    return users.map((u) => {
      const alias = aliases.get(u.userId);
      return alias ? { userId: u.userId, nickname: alias.nickname, imageUrl: alias.imageUrl } : { userId: u.userId, nickname: u.nickname };
    });
  }

  private async room(roomId: RoomId): Promise<Room> {
    const room = await this.store.getRoom(roomId);
    if (!room) throw notFound('no room with this id', 'room_not_found');
    return room;
  }

  private async summary(userId: UserId, membership: Membership): Promise<RoomSummary | undefined> {
    const { roomId } = membership;
    const [room, members, lastMessage, readPosition] = await Promise.all([
      this.store.getRoom(roomId), this.store.members(roomId), this.store.lastMessage(roomId), this.store.getReadPosition(roomId, userId),
    ]);
    if (!room) return undefined;
    const title = membership.title ?? (await this.openTitle(room))
      ?? defaultTitle(userId, await this.named(roomId, await this.store.getUsers(members.map((m) => m.userId))));
    const name = this.naming(room);
    return {
      roomId, title, hostId: name(room.hostId), isOpen: room.isOpen, inputLock: membership.inputLock, createdAt: room.createdAt,
      memberCount: members.length,
      lastMessage: lastMessage ? namedMessage(lastMessage, name) : null,
      unreadCount: await this.store.countAfter(roomId, readPosition, UNREAD_CAP),
    };
  }
}
