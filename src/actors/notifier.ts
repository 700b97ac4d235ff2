import type { Logger } from 'pino';
import type { ChatMessage, MessageEvent, RoomId } from '../chat/model.ts';
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
}

/** A device's push state for one room within the coalescing window. */
interface Window {
  openedAt: number;
  /** Messages that arrived after the push that opened the window. */
  held: ChatMessage[];
  target: Omit<PushNotification, 'title' | 'body' | 'data'>;
}

interface NotifierState {
  windows: Map<string, Window>;
  /** Recently pushed message ids: the bus delivers at least once, a phone should buzz once. */
  pushed: Set<string>;
  flushTimer?: NodeJS.Timeout;
}

const FILE_BODY = 'sent a file';

function notification(target: Window['target'], message: ChatMessage, count = 1): PushNotification {
  const body = message.messageType === 'FILE' ? FILE_BODY : message.contents;
  return {
    ...target,
    title: message.nickname,
    body: count > 1 ? `${body} (+${count - 1} more)` : body,
    data: { type: 'message', roomId: message.roomId, messageId: message.messageId, senderId: message.senderId, count: String(count) },
  };
}

/**
 * Pushes each message to the room members who are not in the room: members − present − sender,
 * one set difference in the presence store. Runs on the notifier consumer group, so each message
 * is handled once across the cluster and never on the delivery path. Bursts are coalesced: the
 * first message of a window is pushed at once, later ones in one summary when the window ends.
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
      for (const token of await deps.store.deviceTokens(absent)) {
        const target = { token: token.token, userId: token.userId, deviceId: token.deviceId };
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

  async function flush(state: NotifierState): Promise<void> {
    const now = Date.now();
    const outgoing: PushNotification[] = [];
    for (const [key, window] of state.windows) {
      if (now - window.openedAt < deps.coalesceMs) continue;
      state.windows.delete(key);
      const last = window.held.at(-1);
      if (last) outgoing.push(notification(window.target, last, window.held.length));
    }
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
