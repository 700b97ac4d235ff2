import type {
  ChatMessage, DeviceId, DeviceToken, Membership, MessageId, Room, RoomId, User, UserId,
} from '../../chat/model.ts';
import { compareIds } from '../../chat/snowflake.ts';
import {
  EmailTakenError, IdTakenError, PhoneTakenError, type ChatStore, type HistoryQuery, type MembershipPatch, type UserPatch,
} from '../ports/store.ts';

/** Index of the first message whose id is not lower than `id` (messages sorted by id). */
function lowerBound(messages: ChatMessage[], id: MessageId): number {
  let lo = 0;
  let hi = messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(messages[mid]!.messageId, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A patch's fields that are set: `{ title: undefined }` leaves the title alone, as in the other drivers. */
function definedFields<P extends object>(patch: P): Partial<P> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Partial<P>;
}

/** In-process store (tests and embedding hosts): everything in memory, same contract as the SQLite and Cassandra stores. */
export class MemoryStore implements ChatStore {
  private readonly users = new Map<UserId, User>();
  private readonly emails = new Map<string, UserId>();
  private readonly phones = new Map<string, UserId>();
  private readonly rooms = new Map<RoomId, Room>();
  private readonly memberships = new Map<RoomId, Map<UserId, Membership>>();
  private readonly userRooms = new Map<UserId, Set<RoomId>>();
  /** per room, sorted by message id */
  private readonly messages = new Map<RoomId, ChatMessage[]>();
  private readonly reads = new Map<string, MessageId>();
  private readonly devices = new Map<UserId, Map<DeviceId, string>>();

  async createUser(user: User): Promise<void> {
    const email = user.email.toLowerCase();
    if (this.users.has(user.userId)) throw new IdTakenError('user', user.userId);
    if (this.emails.has(email)) throw new EmailTakenError(user.email);
    if (user.phoneNumber !== null && this.phones.has(user.phoneNumber)) throw new PhoneTakenError(user.phoneNumber);
    this.emails.set(email, user.userId);
    if (user.phoneNumber !== null) this.phones.set(user.phoneNumber, user.userId);
    this.users.set(user.userId, { ...user });
  }

  async getUser(userId: UserId): Promise<User | undefined> {
    const user = this.users.get(userId);
    return user && { ...user };
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const userId = this.emails.get(email.toLowerCase());
    return userId === undefined ? undefined : this.getUser(userId);
  }

  async getUserByPhone(phoneNumber: string): Promise<User | undefined> {
    const userId = this.phones.get(phoneNumber);
    return userId === undefined ? undefined : this.getUser(userId);
  }

  async getUsers(userIds: UserId[]): Promise<User[]> {
    return userIds.flatMap((id) => {
      const user = this.users.get(id);
      return user ? [{ ...user }] : [];
    });
  }

  async updateUser(userId: UserId, patch: UserPatch): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    const phone = patch.phoneNumber;
    if (phone !== undefined && phone !== user.phoneNumber) {
      if (phone !== null && this.phones.has(phone)) throw new PhoneTakenError(phone);
      if (user.phoneNumber !== null) this.phones.delete(user.phoneNumber);
      if (phone !== null) this.phones.set(phone, userId);
    }
    Object.assign(user, definedFields(patch));
  }

  async usersLeftBefore(leftBefore: number, limit: number): Promise<User[]> {
    return [...this.users.values()].filter((u) => u.leftAt !== null && u.leftAt <= leftBefore).slice(0, limit).map((u) => ({ ...u }));
  }

  async deleteUser(userId: UserId): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    this.emails.delete(user.email.toLowerCase());
    if (user.phoneNumber !== null && this.phones.get(user.phoneNumber) === userId) this.phones.delete(user.phoneNumber);
    this.devices.delete(userId);
    this.users.delete(userId);
  }

  async createRoom(room: Room, members: Membership[]): Promise<void> {
    if (this.rooms.has(room.roomId)) throw new IdTakenError('room', room.roomId);
    this.rooms.set(room.roomId, { ...room });
    for (const member of members) await this.addMember(member);
  }

  async getRoom(roomId: RoomId): Promise<Room | undefined> {
    const room = this.rooms.get(roomId);
    return room && { ...room };
  }

  async addMember(member: Membership): Promise<void> {
    let members = this.memberships.get(member.roomId);
    if (!members) this.memberships.set(member.roomId, (members = new Map()));
    members.set(member.userId, { ...member });
    let rooms = this.userRooms.get(member.userId);
    if (!rooms) this.userRooms.set(member.userId, (rooms = new Set()));
    rooms.add(member.roomId);
  }

  async removeMember(roomId: RoomId, userId: UserId): Promise<void> {
    this.memberships.get(roomId)?.delete(userId);
    this.userRooms.get(userId)?.delete(roomId);
  }

  async getMembership(roomId: RoomId, userId: UserId): Promise<Membership | undefined> {
    const member = this.memberships.get(roomId)?.get(userId);
    return member && { ...member };
  }

  async updateMembership(roomId: RoomId, userId: UserId, patch: MembershipPatch): Promise<void> {
    const member = this.memberships.get(roomId)?.get(userId);
    if (member) Object.assign(member, definedFields(patch));
  }

  async members(roomId: RoomId): Promise<Membership[]> {
    return [...(this.memberships.get(roomId)?.values() ?? [])].map((m) => ({ ...m }));
  }

  async roomsOf(userId: UserId): Promise<Membership[]> {
    return [...(this.userRooms.get(userId) ?? [])].flatMap((roomId) => {
      const member = this.memberships.get(roomId)?.get(userId);
      return member ? [{ ...member }] : [];
    });
  }

  async appendMessages(messages: ChatMessage[]): Promise<void> {
    for (const message of messages) {
      let log = this.messages.get(message.roomId);
      if (!log) this.messages.set(message.roomId, (log = []));
      const at = lowerBound(log, message.messageId);
      if (log[at]?.messageId === message.messageId) log[at] = { ...message };
      else log.splice(at, 0, { ...message });
    }
  }

  async history(roomId: RoomId, query: HistoryQuery): Promise<ChatMessage[]> {
    const log = this.messages.get(roomId) ?? [];
    const end = query.before === undefined ? log.length : lowerBound(log, query.before);
    let start = 0;
    if (query.after !== undefined) {
      start = lowerBound(log, query.after);
      if (log[start]?.messageId === query.after) start++;
    }
    return log.slice(Math.max(start, end - query.limit), end).reverse().map((m) => ({ ...m }));
  }

  async lastMessage(roomId: RoomId): Promise<ChatMessage | undefined> {
    const last = this.messages.get(roomId)?.at(-1);
    return last && { ...last };
  }

  async countAfter(roomId: RoomId, after: MessageId | undefined, cap: number): Promise<number> {
    const log = this.messages.get(roomId) ?? [];
    if (after === undefined) return Math.min(cap, log.length);
    let start = lowerBound(log, after);
    if (log[start]?.messageId === after) start++;
    return Math.min(cap, log.length - start);
  }

  async setReadPosition(roomId: RoomId, userId: UserId, messageId: MessageId): Promise<void> {
    const key = `${roomId}\t${userId}`;
    const current = this.reads.get(key);
    if (current === undefined || compareIds(messageId, current) > 0) this.reads.set(key, messageId);
  }

  async getReadPosition(roomId: RoomId, userId: UserId): Promise<MessageId | undefined> {
    return this.reads.get(`${roomId}\t${userId}`);
  }

  async setDeviceToken(token: DeviceToken): Promise<void> {
    for (const [userId, devices] of this.devices) {
      for (const [deviceId, held] of devices) {
        if (held === token.token && (userId !== token.userId || deviceId !== token.deviceId)) devices.delete(deviceId);
      }
    }
    let devices = this.devices.get(token.userId);
    if (!devices) this.devices.set(token.userId, (devices = new Map()));
    devices.set(token.deviceId, token.token);
  }

  async removeDeviceToken(userId: UserId, deviceId: DeviceId): Promise<void> {
    this.devices.get(userId)?.delete(deviceId);
  }

  async deviceTokens(userIds: UserId[]): Promise<DeviceToken[]> {
    return userIds.flatMap((userId) =>
      [...(this.devices.get(userId) ?? [])].map(([deviceId, token]) => ({ userId, deviceId, token })),
    );
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
