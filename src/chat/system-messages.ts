import type { Logger } from 'pino';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { MemberNaming } from './member-ids.ts';
import type { MessageService } from './messages.ts';
import type { MessageType, Room, RoomId, RoomView, UserId, UserSignal } from './model.ts';
import { defaultTitle, type MembershipChange } from './rooms.ts';

export type SystemMessageLanguage = 'ko' | 'en';
type SystemMessageType = Extract<MessageType, 'INVITE' | 'ENTER' | 'LEAVE'>;

/**
 * The text of system messages. Korean is FlameTalk's own wording; clients that want their own
 * text render it from the message's sender (who acted) and `userIds` (whom it is about).
 */
export const SYSTEM_MESSAGE_TEXT: Record<SystemMessageLanguage, Record<SystemMessageType, (actor: string, others: string[]) => string>> = {
  ko: {
    INVITE: (actor, others) => `${actor}님이 ${others.map((n) => `${n}님`).join(', ')}을 초대했습니다.`,
    ENTER: (actor) => `${actor}님이 입장했습니다.`,
    LEAVE: (actor) => `${actor}님이 나갔습니다.`,
  },
  en: {
    INVITE: (actor, others) => `${actor} invited ${others.join(', ')}.`,
    ENTER: (actor) => `${actor} joined.`,
    LEAVE: (actor) => `${actor} left.`,
  },
};

/** System messages are sent by the user who acted, from no device of theirs. */
export const SYSTEM_DEVICE = 'system';

export interface MembershipEffectsDeps {
  store: ChatStore;
  feed: RoomFeed;
  messages: MessageService;
  language: SystemMessageLanguage;
  logger: Logger;
  /** The name a user goes by in a room when it is not their nickname (an open room's alias). */
  nameInRoom?: (roomId: RoomId, userId: UserId) => Promise<string | undefined>;
  /** How a room names its members to clients (room events carry the host by the id an open room shows). */
  naming?: (room: Room) => MemberNaming;
}

/**
 * What follows a membership change, besides the change itself: the system message INVITE, ENTER
 * or LEAVE, posted like any message (stored, delivered to every kind of client, counted as unread,
 * pushed), and room events for the devices of every user whose room list changed. Failures are
 * logged; the change stands.
 */
export function membershipEffects(deps: MembershipEffectsDeps): (change: MembershipChange) => Promise<void> {
  const { store, feed, messages, logger } = deps;
  const text = SYSTEM_MESSAGE_TEXT[deps.language];

  async function systemMessage(change: MembershipChange): Promise<void> {
    const type: SystemMessageType | undefined = change.kind === 'created' || change.kind === 'invited'
      ? (change.userIds.length > 0 ? 'INVITE' : undefined)
      : change.kind === 'joined' ? 'ENTER' : change.kind === 'left' ? 'LEAVE' : undefined;
    if (!type) return;
    const about = change.kind === 'created' || change.kind === 'invited' ? change.userIds : [change.actorId];
    const ids = [...new Set([change.actorId, ...about])];
    const [users, aliases] = await Promise.all([
      store.getUsers(ids),
      Promise.all(ids.map((id) => deps.nameInRoom?.(change.roomId, id))),
    ]);
    const nickname = (id: UserId): string => aliases[ids.indexOf(id)] ?? users.find((u) => u.userId === id)?.nickname ?? '';
    const actor = nickname(change.actorId);
    const posted = await messages.post(
      { userId: change.actorId, deviceId: SYSTEM_DEVICE, nickname: actor },
      { roomId: change.roomId, messageType: type, contents: text[type](actor, about.map(nickname)), userIds: about },
    );
    // One's own action is not news to oneself: it does not count as unread for the actor.
    if (type !== 'LEAVE') await store.setReadPosition(change.roomId, change.actorId, posted.messageId);
  }

  async function roomEvents(change: MembershipChange): Promise<void> {
    const { roomId } = change;
    const [room, members] = await Promise.all([store.getRoom(roomId), store.members(roomId)]);
    const signals: UserSignal[] = [];
    if (room) {
      const users = await store.getUsers(members.map((m) => m.userId));
      const hostId = deps.naming ? deps.naming(room)(room.hostId) : room.hostId;
      const view = (userId: UserId): RoomView => ({
        roomId, hostId, isOpen: room.isOpen, memberCount: members.length,
        title: members.find((m) => m.userId === userId)?.title ?? defaultTitle(userId, users),
      });
      const added = new Set(change.kind === 'created' ? members.map((m) => m.userId)
        : change.kind === 'invited' ? change.userIds : change.kind === 'joined' ? [change.actorId] : []);
      // A title or input lock is the member's own; membership changes update everyone's count and default title.
      const updated = change.kind === 'updated' ? [change.actorId] : members.map((m) => m.userId).filter((id) => !added.has(id));
      for (const userId of added) signals.push({ kind: 'room', userId, event: 'added', roomId, room: view(userId) });
      for (const userId of updated) signals.push({ kind: 'room', userId, event: 'updated', roomId, room: view(userId) });
    }
    if (change.kind === 'left') signals.push({ kind: 'room', userId: change.actorId, event: 'removed', roomId, room: { roomId } });
    await Promise.all(signals.map((signal) => feed.signal(signal)));
  }

  return async (change) => {
    const results = await Promise.allSettled([systemMessage(change), roomEvents(change)]);
    for (const result of results) {
      if (result.status === 'rejected') logger.warn({ err: result.reason, change }, 'a membership change\'s system message or room events failed');
    }
  };
}
