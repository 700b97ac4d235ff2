import { createHmac } from 'node:crypto';
import type { ChatMessage, Room, RoomId, UserId } from './model.ts';

/** How one room names its members to clients: the id a member goes by there. */
export type MemberNaming = (userId: UserId) => string;

/** Rooms that are not open: members go by their user ids. */
export const realIds: MemberNaming = (userId) => userId;

/** A message as the room shows it: sender and the users it is about under the room's ids. */
export function namedMessage(message: ChatMessage, name: MemberNaming): ChatMessage {
  if (name === realIds) return message;
  return { ...message, senderId: name(message.senderId), ...(message.userIds ? { userIds: message.userIds.map(name) } : {}) };
}

/** Per-room ids start with this, which no snowflake user id does. */
const PREFIX = 'o';
const CACHE_MAX = 50_000;

/**
 * Per-room member ids of open rooms. In an open room every member goes by an id of that room
 * alone, HMAC-SHA256(key, roomId, userId): stable for the member in that room (across sessions,
 * restarts and nodes, since every node derives the key from the same JWT key), different in every
 * other room, and of no use for finding the account (phone search hands out user ids, never these).
 * Nothing is stored: any node turns a user id into its room id without I/O, so a room actor names
 * the members in a frame it encodes once for the whole room, and no frame can go out before the
 * id is known. The reverse (an id a client sends) is found among the room's members.
 */
export class MemberIds {
  /** Whether each room asked about is open; a room never changes kind. */
  private readonly open = new Map<RoomId, boolean>();

  constructor(private readonly key: Buffer, private readonly rooms: { getRoom(roomId: RoomId): Promise<Room | undefined> }) {}

  /** The id `userId` goes by in the open room `roomId`. */
  inOpenRoom(roomId: RoomId, userId: UserId): string {
    return PREFIX + createHmac('sha256', this.key).update(`${roomId}\n${userId}`).digest('base64url').slice(0, 22);
  }

  /** The naming of a room whose kind is known. */
  forRoom(room: Pick<Room, 'roomId' | 'isOpen'>): MemberNaming {
    if (!room.isOpen) return realIds;
    const { roomId } = room;
    // Computed each time (one HMAC per id named, once per frame for the whole room): a room actor keeps no map that grows with its members.
    return (userId) => this.inOpenRoom(roomId, userId);
  }

  /** The naming of a room by its id (read once per room; an unknown room names nobody differently). */
  async of(roomId: RoomId): Promise<MemberNaming> {
    let isOpen = this.open.get(roomId);
    if (isOpen === undefined) {
      const room = await this.rooms.getRoom(roomId);
      if (!room) return realIds;
      if (this.open.size >= CACHE_MAX) this.open.clear();
      this.open.set(roomId, (isOpen = room.isOpen));
    }
    return this.forRoom({ roomId, isOpen });
  }

  /** The user a client means by `id` in this room: a member's room id, or else `id` itself (a user id). */
  resolve(room: Pick<Room, 'roomId' | 'isOpen'>, id: string, members: UserId[]): UserId {
    if (!room.isOpen || !id.startsWith(PREFIX)) return id;
    return members.find((userId) => this.inOpenRoom(room.roomId, userId) === id) ?? id;
  }
}
