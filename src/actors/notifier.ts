import type { Logger } from 'pino';
import { realIds, type MemberNaming } from '../chat/member-ids.ts';
import type { ChatMessage, DeviceId, Membership, MessageEvent, RoomId, User, UserId } from '../chat/model.ts';
import { defaultTitle } from '../chat/rooms.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';
import type { PushNotification, Pusher } from '../infra/ports/push.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { Metrics } from '../metrics.ts';
import type { ActorRef, ActorRuntime, Behavior } from './runtime.ts';

export type NotifierMessage =
  | { type: 'events'; events: MessageEvent[]; done: (error?: unknown) => void }
  | { type: 'flush' };

export interface NotifierDeps {
  runtime: ActorRuntime;
  presence: PresenceStore;
  store: ChatStore;
  pusher: Pusher;
  metrics: Metrics;
  logger: Logger;
  /** Within this window a device gets one push per room; 0 sends one per message. */
  coalesceMs: number;
  /** The recipients who must not be pushed this sender's messages in this room (they blocked the sender in a 1:1 room). */
  blockedRecipients?: (roomId: RoomId, senderId: string, recipients: string[]) => Promise<Set<string>>;
  /** An open room's own title, which its members see instead of each other's (real) names. */
  openRoomTitle?: (roomId: RoomId) => Promise<string | undefined>;
  /** How a room names its members to clients: a push names the sender as the room does (an open room's own id). */
  naming?: (roomId: RoomId) => Promise<MemberNaming>;
}

/** Who a push goes to, and what this recipient calls the room. */
interface Target {
  token: string;
  userId: UserId;
  deviceId: DeviceId;
  /** The notification title: the room's title for this member (group rooms), the sender's nickname (1:1). */
  title: string;
  /** Group room: the body names the sender, since the title does not. */
  group: boolean;
  /** How the room names the sender in `senderId`. */
  name: MemberNaming;
}

/** A device's push state for one room within the coalescing window. */
interface Window {
  openedAt: number;
  /** Messages that arrived after the push that opened the window. */
  held: ChatMessage[];
  target: Target;
}

interface NotifierState {
  windows: Map<string, Window>;
  /** Recently pushed message ids: the bus delivers at least once, a phone should buzz once. */
  pushed: Set<string>;
  flushTimer?: NodeJS.Timeout;
}

/** A room's members as one batch of messages sees them (muted flags, titles), read once per batch. */
interface RoomContext {
  members: Map<UserId, Membership>;
  name: MemberNaming;
  users?: Array<Pick<User, 'userId' | 'nickname'>>;
  /** Looked up once per batch, for group rooms only; null: not an open room. */
  openTitle?: string | null;
}

const FILE_BODY = 'sent a file';

function notification(target: Target, message: ChatMessage, count = 1): PushNotification {
  const text = message.messageType === 'FILE' ? FILE_BODY : message.contents;
  const body = target.group ? `${message.nickname}: ${text}` : text;
  return {
    token: target.token,
    userId: target.userId,
    deviceId: target.deviceId,
    title: target.title,
    body: count > 1 ? `${body} (+${count - 1} more)` : body,
    data: { type: 'message', roomId: message.roomId, messageId: message.messageId, senderId: target.name(message.senderId), count: String(count) },
  };
}

/**
 * Pushes each message to the room members who are not in the room: members − present − sender,
 * one set difference in the presence store, less the members who muted the room. Runs on the
 * notifier consumer group, so each message is handled once across the cluster and never on the
 * delivery path. Bursts are coalesced: the first message of a window is pushed at once, later
 * ones in one summary when the window ends. Only devices with a registered token get pushes, and
 * signing out, revocation and leaving delete the token (AccountService), so they get none.
 */
export function spawnNotifier(deps: NotifierDeps): ActorRef<NotifierMessage> {
  const log = deps.logger.child({ component: 'notifier' });

  async function absentMembers(roomId: RoomId, senderId: string): Promise<string[]> {
    // The membership mirror is a cache: after a Redis restart it is refilled from the store.
    if (!(await deps.presence.hasMembers(roomId))) {
      await deps.presence.setMembers(roomId, (await deps.store.members(roomId)).map((m) => m.userId));
    }
    return deps.presence.absentMembers(roomId, senderId);
  }

  async function roomContext(cache: Map<RoomId, RoomContext>, roomId: RoomId): Promise<RoomContext> {
    let context = cache.get(roomId);
    if (!context) {
      const [members, name] = await Promise.all([deps.store.members(roomId), deps.naming?.(roomId) ?? realIds]);
      context = { members: new Map(members.map((m) => [m.userId, m])), name };
      cache.set(roomId, context);
    }
    return context;
  }

  /** FlameTalk's rule: a 1:1 room is titled by who wrote; a group room by its title as this member sees it. */
  async function targetTitle(context: RoomContext, recipient: Membership, message: ChatMessage): Promise<string> {
    if (context.members.size <= 2) return message.nickname;
    if (recipient.title) return recipient.title;
    if (context.openTitle === undefined) {
      const room = deps.openRoomTitle ? await deps.store.getRoom(message.roomId) : undefined;
      context.openTitle = room?.isOpen ? (await deps.openRoomTitle!(message.roomId)) ?? null : null;
    }
    if (context.openTitle) return context.openTitle;
    context.users ??= await deps.store.getUsers([...context.members.keys()]);
    return defaultTitle(recipient.userId, context.users);
  }

  async function push(notifications: PushNotification[]): Promise<void> {
    for (let i = 0; i < notifications.length; i += deps.pusher.maxBatch) {
      const batch = notifications.slice(i, i + deps.pusher.maxBatch);
      let outcomes: string[];
      try {
        outcomes = await deps.pusher.send(batch);
      } catch (error) {
        // Pushes are best effort: an FCM outage must not stall the notifier group behind it.
        log.warn({ err: error, count: batch.length }, 'push batch failed');
        deps.metrics.pushes.labels('failed').inc(batch.length);
        continue;
      }
      outcomes.forEach((outcome, j) => {
        deps.metrics.pushes.labels(outcome).inc();
        const sent = batch[j]!;
        if (outcome === 'unregistered') {
          deps.store.removeDeviceToken(sent.userId, sent.deviceId)
            .catch((error: unknown) => log.warn({ err: error }, 'could not forget an unregistered push token'));
        }
      });
    }
  }

  async function onMessages(state: NotifierState, messages: ChatMessage[]): Promise<void> {
    const now = Date.now();
    const outgoing: PushNotification[] = [];
    const rooms = new Map<RoomId, RoomContext>();
    for (const message of messages) {
      if (state.pushed.has(message.messageId)) continue;
      state.pushed.add(message.messageId);
      if (state.pushed.size > 10_000) state.pushed.delete(state.pushed.values().next().value!);
      let absent = await absentMembers(message.roomId, message.senderId);
      if (absent.length > 0 && deps.blockedRecipients) {
        const blocked = await deps.blockedRecipients(message.roomId, message.senderId, absent);
        if (blocked.size > 0) absent = absent.filter((userId) => !blocked.has(userId));
      }
      if (absent.length === 0) continue;
      const context = await roomContext(rooms, message.roomId);
      // The store decides who is still a member (the mirror may lag) and who muted the room.
      const recipients = absent.filter((userId) => context.members.get(userId)?.muted === false);
      if (recipients.length === 0) continue;
      for (const token of await deps.store.deviceTokens(recipients)) {
        const membership = context.members.get(token.userId)!;
        const target: Target = {
          token: token.token, userId: token.userId, deviceId: token.deviceId,
          title: await targetTitle(context, membership, message), group: context.members.size > 2, name: context.name,
        };
        if (deps.coalesceMs === 0) {
          outgoing.push(notification(target, message));
          continue;
        }
        const key = `${token.token}\t${message.roomId}`;
        const window = state.windows.get(key);
        if (window && now - window.openedAt < deps.coalesceMs) {
          window.held.push(message);
        } else {
          state.windows.set(key, { openedAt: now, held: [], target });
          outgoing.push(notification(target, message));
        }
      }
    }
    await push(outgoing);
  }

  /** Of the summaries due, those whose device still has this token and whose member has not muted the room since. */
  async function stillWanted(due: Window[]): Promise<Window[]> {
    if (due.length === 0) return due;
    const tokens = await deps.store.deviceTokens([...new Set(due.map((w) => w.target.userId))]);
    const registered = new Set(tokens.map((t) => `${t.userId}\t${t.deviceId}\t${t.token}`));
    const wanted: Window[] = [];
    for (const window of due) {
      const { userId, deviceId, token } = window.target;
      if (!registered.has(`${userId}\t${deviceId}\t${token}`)) continue;
      const membership = await deps.store.getMembership(window.held[0]!.roomId, userId);
      if (membership && !membership.muted) wanted.push(window);
    }
    return wanted;
  }

  async function flush(state: NotifierState): Promise<void> {
    const now = Date.now();
    const due: Window[] = [];
    for (const [key, window] of state.windows) {
      if (now - window.openedAt < deps.coalesceMs) continue;
      state.windows.delete(key);
      if (window.held.length > 0) due.push(window);
    }
    const outgoing = (await stillWanted(due)).map((w) => notification(w.target, w.held.at(-1)!, w.held.length));
    await push(outgoing);
  }

  let self: ActorRef<NotifierMessage>;
  const behavior: Behavior<NotifierState, NotifierMessage> = {
    initialState: () => ({ windows: new Map(), pushed: new Set() }),
    onCrash: 'resume',
    async receive(state, message) {
      if (message.type === 'flush') {
        await flush(state);
      } else {
        try {
          const messages = message.events.map((e) => e.message);
          await onMessages(state, messages);
          message.done();
        } catch (error) {
          message.done(error);
        }
      }
      if (state.windows.size > 0 && !state.flushTimer) {
        state.flushTimer = setTimeout(() => {
          state.flushTimer = undefined;
          deps.runtime.tell(self, { type: 'flush' });
        }, Math.max(50, deps.coalesceMs / 4));
        state.flushTimer.unref();
      }
      return state;
    },
    afterStop(state) {
      clearTimeout(state.flushTimer);
    },
  };
  self = deps.runtime.spawn('services', 'notifier', behavior);
  return self;
}

/** The consumer-group handler that hands each batch to the notifier and waits for it to finish. */
export function notifierHandler(runtime: ActorRuntime, notifier: ActorRef<NotifierMessage>) {
  return (events: MessageEvent[]): Promise<void> =>
    new Promise((resolve, reject) => {
      runtime.tell(notifier, { type: 'events', events, done: (error) => (error === undefined ? resolve() : reject(error)) });
    });
}
