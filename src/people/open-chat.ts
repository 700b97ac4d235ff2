import { randomBytes } from 'node:crypto';
import { forbidden, notFound } from '../chat/errors.ts';
import type { Room, RoomId, UserId } from '../chat/model.ts';
import { CodeTakenError, type PeopleStore } from '../infra/ports/people.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { OpenRoom } from './model.ts';

/** What the other members of an open room see of a member who joined with an open profile. */
export interface Alias {
  nickname: string;
  imageUrl: string | null;
}

export interface OpenRoomView extends OpenRoom {
  memberCount: number;
}

/** Link codes: 8 characters of an alphabet without look-alikes (no 0/O, 1/l/I). */
const CODE_ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CODE_PATTERN = '^[a-zA-Z0-9]{4,16}$';

function newCode(): string {
  return [...randomBytes(8)].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
}

const SEARCH_LIMIT = 50;
const CACHE_MAX = 50_000;

/**
 * Open chat: the directory of open rooms (link codes, search by title) and the aliases members
 * show in them. Every place that names a member of an open room (messages, member lists, titles,
 * pushes through the stored message) asks `aliases` or `senderName` first.
 */
export class OpenChat {
  /** Rooms known not to be open: they never become open, so no alias lookups for them again. */
  private readonly closedRooms = new Set<RoomId>();
  /** Recent alias maps of open rooms; an alias, once set, is trusted from here (a miss reads the store again). */
  private readonly recent = new Map<RoomId, Map<UserId, Alias>>();

  /** `room` reads a room (default: the store; the server passes its store cache, so sends need no store read). */
  constructor(
    private readonly store: ChatStore,
    private readonly people: PeopleStore,
    private readonly room: (roomId: RoomId) => Promise<Room | undefined> = (roomId) => store.getRoom(roomId),
  ) {}

  /** Lists a new open room in the directory under a fresh link code. */
  async register(room: Room, title: string): Promise<OpenRoom> {
    for (let attempt = 0; ; attempt++) {
      const entry: OpenRoom = { roomId: room.roomId, code: newCode(), title, createdAt: room.createdAt };
      try {
        await this.people.createOpenRoom(entry);
        return entry;
      } catch (error) {
        if (!(error instanceof CodeTakenError) || attempt >= 5) throw error;
      }
    }
  }

  async search(query: string): Promise<OpenRoomView[]> {
    return this.withCounts(await this.people.searchOpenRooms(query, SEARCH_LIMIT));
  }

  async byCode(code: string): Promise<OpenRoomView> {
    const room = await this.people.openRoomByCode(code);
    if (!room) throw notFound('no open room with this link code', 'open_room_not_found');
    return (await this.withCounts([room]))[0]!;
  }

  async entry(roomId: RoomId): Promise<OpenRoom | undefined> {
    return this.people.openRoom(roomId);
  }

  /** Records which open profile `userId` shows in the room; the profile must be the user's own. */
  async setAlias(roomId: RoomId, userId: UserId, openProfileId: string): Promise<void> {
    const profile = await this.people.getOpenProfile(openProfileId);
    if (!profile || profile.userId !== userId) throw forbidden('openProfileId is not one of your open profiles', 'open_profile_not_yours');
    await this.people.setRoomAlias({ roomId, userId, openProfileId });
    this.recent.delete(roomId);
  }

  /** The aliases of a room's members (empty for rooms that are not open). */
  async aliases(roomId: RoomId): Promise<Map<UserId, Alias>> {
    if (this.closedRooms.has(roomId)) return new Map();
    const room = await this.room(roomId);
    if (room && !room.isOpen) {
      if (this.closedRooms.size >= CACHE_MAX) this.closedRooms.clear();
      this.closedRooms.add(roomId);
      return new Map();
    }
    const out = new Map<UserId, Alias>();
    for (const alias of await this.people.roomAliases(roomId)) {
      const profile = await this.people.getOpenProfile(alias.openProfileId);
      // A deleted open profile still hides its owner.
      out.set(alias.userId, profile ? { nickname: profile.nickname, imageUrl: profile.imageUrl } : { nickname: '(anonymous)', imageUrl: null });
    }
    return out;
  }

  /** The name a sender's message carries in this room: the open profile's nickname, if they joined with one. */
  async senderName(roomId: RoomId, userId: UserId): Promise<string | undefined> {
    if (this.closedRooms.has(roomId)) return undefined;
    const cached = this.recent.get(roomId)?.get(userId);
    if (cached) return cached.nickname;
    const aliases = await this.aliases(roomId);
    if (aliases.size > 0) {
      if (this.recent.size >= CACHE_MAX) this.recent.clear();
      this.recent.set(roomId, aliases);
    }
    return aliases.get(userId)?.nickname;
  }

  private async withCounts(rooms: OpenRoom[]): Promise<OpenRoomView[]> {
    return Promise.all(rooms.map(async (r) => ({ ...r, memberCount: (await this.store.members(r.roomId)).length })));
  }
}
