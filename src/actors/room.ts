import type { Logger } from 'pino';
import { ChatError } from '../chat/errors.ts';
import { messageDto } from '../chat/dto.ts';
import { namedMessage, realIds, type MemberNaming } from '../chat/member-ids.ts';
import { approximateBytes, type ChatMessage, type EventOrigin, type MessageId, type RoomEvent, type RoomId, type RoomSignal, type UserId } from '../chat/model.ts';
import { missedSince, type RecoveryPorts } from '../chat/recovery.ts';
import { compareIds } from '../chat/snowflake.ts';
import type { FeedEntry, FeedHandler, FeedSubscription } from '../infra/ports/feed.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';
import type { Metrics } from '../metrics.ts';
import type { Ref, ServerFrame } from '../ws/native-protocol.ts';
import type { RoomDirectory } from './room-directory.ts';
import { RoomOrder } from './room-order.ts';
import type { ActorRef, ActorRuntime, Behavior } from './runtime.ts';
import type { SessionMessage } from './session.ts';
import { roomTopic, type SocketHandle, type TopicPublisher } from './socket-handle.ts';

/** A session of this node that joined the room. */
export interface LocalMember {
  session: ActorRef<SessionMessage>;
  socket: SocketHandle;
  userId: UserId;
}

interface Joining {
  member: LocalMember;
  ref?: Ref;
  since?: MessageId;
}

export type RoomMessage =
  | { type: 'join'; member: LocalMember; ref?: Ref; since?: MessageId }
  /** `reply` is false when the socket is gone and nobody waits for `left`. */
  | { type: 'leave'; connectionId: string; reply: boolean; ref?: Ref }
  /** This node's presence lease lapsed: enter every local member again. */
  | { type: 'reenter' }
  | { type: 'idle' }
  /** Time to see whether the room went quiet: a quiet room lets its recent messages go. */
  | { type: 'quiet' }
  // From here on: sent by the room to itself.
  | { type: 'subscribed'; subscription: FeedSubscription; name: MemberNaming }
  | { type: 'subscribe-failed'; error: unknown }
  | { type: 'ready'; joining: Joining; present: string[]; missed: ChatMessage[]; recovered: boolean }
  | { type: 'entries'; entries: FeedEntry[] }
  | { type: 'signals'; signals: RoomSignal[] }
  /** Live delivery may have missed entries, or a gap is still open: ask the feed. */
  | { type: 'repair' };

export interface RoomDeps {
  nodeId: string;
  runtime: ActorRuntime;
  directory: () => RoomDirectory;
  presence: PresenceStore;
  recovery: RecoveryPorts;
  /** How the room names its members in what it sends (per-room ids in an open room); read once, before the feed. */
  naming: (roomId: RoomId) => Promise<MemberNaming>;
  publisher: TopicPublisher;
  metrics: Metrics;
  logger: Logger;
  /** Every event delivered to this node's sockets, for an embedding host. */
  emit: (event: RoomEvent) => void;
  recoveryLimit: number;
  /** Bytes of recent messages a room keeps for recovery, whatever their number. */
  recentBytes: number;
  roomIdleMs: number;
  /** How long a missing position may hold later ones back before the room asks the feed for it. */
  gapRepairMs: number;
  /** How long before a missing position is given up on (it is delivered late if it comes). */
  gapSkipMs: number;
}

interface RoomState {
  members: Map<string, LocalMember>;
  /** Connections whose sockets are subscribed to the room's topic (joined, not just joining). */
  live: Set<string>;
  subscription?: FeedSubscription;
  /** How frames name members, known with the subscription: every member sees the same ids, so a frame is encoded once. */
  name: MemberNaming;
  /** Joins waiting for the feed subscription. */
  waiting: Joining[];
  order?: RoomOrder;
  /** Recent messages delivered here, oldest first, for recovery before the feed or store is asked. */
  recent: ChatMessage[];
  recentBytes: number;
  /** performance.now() of the last message delivered. */
  lastDeliveredAt: number;
  quietTimer?: NodeJS.Timeout;
  /** Joins whose recovery is being looked up: they need the recent messages delivered meanwhile (see `ready`). */
  preparing: number;
  /** The last message delivered before the latest void position ('0' before any message): see RecentMessages. */
  holeAfter?: MessageId;
  lastDelivered: MessageId;
  idleTimer?: NodeJS.Timeout;
  repairTimer?: NodeJS.Timeout;
  repairing: boolean;
}

/**
 * One room on this node: its local sessions and their presence, and the delivery of the room's
 * feed to their sockets, in the room's order, with one topic publish per event. The room subscribes
 * to the feed while it has local members, so a node receives only its rooms' events. Handlers never
 * wait for I/O: they start it and report back by message.
 */
export function spawnRoom(roomId: RoomId, deps: RoomDeps): ActorRef<RoomMessage> {
  const topic = roomTopic(roomId);
  // No pino child per room (about a kilobyte each, and most rooms never log): every line names its room.
  const log = deps.logger;
  const { runtime } = deps;
  const { feed } = deps.recovery;
  const origin = (connectionId: string): EventOrigin => ({ nodeId: deps.nodeId, connectionId });
  let self: ActorRef<RoomMessage>;

  const failure = (error: unknown): { code: string; message: string } => {
    if (error instanceof ChatError) return { code: error.code, message: error.message };
    log.error({ roomId, err: error }, 'room operation failed');
    return { code: 'unavailable', message: 'the server could not complete this, try again' };
  };

  const signal = (event: RoomSignal): void => {
    feed.signal(event).catch((error: unknown) => log.warn({ roomId, err: error, kind: event.kind }, 'could not signal a room event'));
  };

  const enterPresence = (member: LocalMember): Promise<void> =>
    deps.presence.enter(roomId, member.userId, member.socket.connectionId).then((arrived) => {
      if (arrived) signal({ kind: 'presence', roomId, userId: member.userId, event: 'enter', origin: origin(member.socket.connectionId) });
    });

  const exitPresence = (member: LocalMember): void => {
    deps.presence.exit(roomId, member.userId, member.socket.connectionId).then((departed) => {
      if (departed) signal({ kind: 'presence', roomId, userId: member.userId, event: 'exit', origin: origin(member.socket.connectionId) });
    }).catch((error: unknown) => log.warn({ roomId, err: error }, 'presence exit failed'));
  };

  // Feed deliveries of one tick reach the actor as one message, so their uWS publishes happen in
  // one turn and uWS writes them to each subscriber together.
  let pendingEntries: FeedEntry[] = [];
  let pendingSignals: RoomSignal[] = [];
  let flushQueued = false;
  const flush = (): void => {
    flushQueued = false;
    if (pendingEntries.length > 0) runtime.tell(self, { type: 'entries', entries: pendingEntries });
    if (pendingSignals.length > 0) runtime.tell(self, { type: 'signals', signals: pendingSignals });
    pendingEntries = [];
    pendingSignals = [];
  };
  const queueFlush = (): void => {
    if (!flushQueued) {
      flushQueued = true;
      queueMicrotask(flush);
    }
  };
  const handler: FeedHandler = {
    entries(_roomId, entries) {
      pendingEntries.push(...entries);
      queueFlush();
    },
    signal(event) {
      if (event.kind === 'room') return;
      pendingSignals.push(event);
      queueFlush();
    },
    interrupted() {
      runtime.tell(self, { type: 'repair' });
    },
  };

  /** One serialization and one uWS publish per event, whatever the number of local subscribers. */
  const fanOut = (state: RoomState, frame: ServerFrame, from?: EventOrigin): void => {
    const payload = JSON.stringify(frame);
    // uWS publishes from a socket only if it subscribes to something: a joining sender publishes as the app.
    const sender = from && from.nodeId === deps.nodeId && state.live.has(from.connectionId) ? state.members.get(from.connectionId) : undefined;
    const subscribers = deps.publisher.subscribers(topic);
    if (sender?.socket.isOpen) sender.socket.publishToOthers(topic, payload);
    else deps.publisher.publish(topic, payload);
    deps.publisher.publishCompat?.(roomId, frame);
    deps.metrics.messagesOut.inc();
    deps.metrics.fanout.inc(sender ? Math.max(0, subscribers - 1) : subscribers);
  };

  const remember = (state: RoomState, message: ChatMessage): void => {
    state.lastDeliveredAt = performance.now();
    if (!state.quietTimer) scheduleQuiet(state, deps.roomIdleMs);
    state.recent.push(message);
    state.recentBytes += approximateBytes(message);
    while (state.recent.length > deps.recoveryLimit || (state.recentBytes > deps.recentBytes && state.recent.length > 1)) {
      state.recentBytes -= approximateBytes(state.recent.shift()!);
    }
  };

  const deliver = (state: RoomState, entries: FeedEntry[]): void => {
    for (const entry of entries) {
      if (!('message' in entry)) {
        state.holeAfter = state.lastDelivered;
        continue;
      }
      if (compareIds(entry.message.messageId, state.lastDelivered) > 0) state.lastDelivered = entry.message.messageId;
      remember(state, entry.message);
      fanOut(state, { type: 'message', roomId, message: messageDto(namedMessage(entry.message, state.name)) }, entry.origin);
      deps.emit({ kind: 'message', roomId, message: entry.message, seq: entry.seq, ...(entry.origin ? { origin: entry.origin } : {}) });
    }
  };

  const scheduleRepair = (state: RoomState): void => {
    if (state.repairTimer || !state.order?.gapSince) return;
    state.repairTimer = setTimeout(() => {
      state.repairTimer = undefined;
      runtime.tell(self, { type: 'repair' });
    }, deps.gapRepairMs);
    state.repairTimer.unref();
  };

  const repair = (state: RoomState): void => {
    const { order } = state;
    if (!order || state.repairing) return;
    state.repairing = true;
    const from = order.expected;
    feed.replay(roomId, from).then(
      (replay) => runtime.tell(self, { type: 'entries', entries: replay.entries }),
      (error: unknown) => log.warn({ roomId, err: error }, 'could not replay the room feed'),
    ).finally(() => {
      state.repairing = false;
      runtime.tell(self, { type: 'entries', entries: [] });
    });
  };

  const onSignal = (state: RoomState, event: RoomSignal): void => {
    deps.emit(event);
    // Before the feed subscription no socket here is subscribed to the room, and the naming is not known yet.
    if (!state.order && event.kind !== 'membership') return;
    const { name } = state;
    switch (event.kind) {
      case 'typing':
        return fanOut(state, { type: 'typing', roomId, userId: name(event.userId) }, event.origin);
      case 'read':
        return fanOut(state, { type: 'read', roomId, userId: name(event.userId), messageId: event.messageId }, event.origin);
      case 'presence':
        return fanOut(state, { type: 'presence', roomId, event: event.event, userId: name(event.userId) }, event.origin);
      case 'membership':
        if (event.change === 'left') {
          for (const member of [...state.members.values()]) {
            if (member.userId !== event.userId) continue;
            removeMember(state, member.socket.connectionId);
            runtime.tell(member.session, { type: 'removed', roomId });
          }
        }
        return;
    }
  };

  /** Presence, who is here, and what a reconnecting client missed; then the `ready` turn subscribes its socket. */
  const prepareJoin = (state: RoomState, joining: Joining, rejoin: boolean): void => {
    const { member, since } = joining;
    const recent = { messages: [...state.recent], holeAfter: state.holeAfter };
    state.preparing++;
    (rejoin ? Promise.resolve() : enterPresence(member))
      .then(() => Promise.all([
        deps.presence.present(roomId),
        since === undefined ? undefined : missedSince(deps.recovery, roomId, since, deps.recoveryLimit, recent),
      ]))
      .then(([present, recovery]) => runtime.tell(self, {
        type: 'ready', joining, present, missed: recovery?.missed ?? [], recovered: recovery?.recovered ?? true,
      }))
      .catch((error: unknown) => {
        runtime.tell(self, { type: 'leave', connectionId: member.socket.connectionId, reply: false });
        runtime.tell(member.session, { type: 'failed', ref: joining.ref, ...failure(error), roomId });
      })
      // After `ready` is in the mailbox, so a later `quiet` is handled after it.
      .finally(() => state.preparing--);
  };

  const removeMember = (state: RoomState, connectionId: string): LocalMember | undefined => {
    const member = state.members.get(connectionId);
    if (!member) return undefined;
    state.members.delete(connectionId);
    state.live.delete(connectionId);
    member.socket.unsubscribe(topic);
    exitPresence(member);
    if (state.members.size === 0) scheduleIdle(state);
    return member;
  };

  /** One timer per active room (not one per message): it looks again when the room was not quiet long enough. */
  const scheduleQuiet = (state: RoomState, ms: number): void => {
    state.quietTimer = setTimeout(() => runtime.tell(self, { type: 'quiet' }), ms);
    state.quietTimer.unref();
  };

  const scheduleIdle = (state: RoomState): void => {
    clearTimeout(state.idleTimer);
    // Timers only send messages: an error thrown inside a timer would take nact, and the process, down.
    state.idleTimer = setTimeout(() => runtime.tell(self, { type: 'idle' }), deps.roomIdleMs);
    state.idleTimer.unref();
  };

  const behavior: Behavior<RoomState, RoomMessage> = {
    initialState: () => ({
      members: new Map(), live: new Set(), name: realIds, waiting: [], recent: [], recentBytes: 0, lastDeliveredAt: 0, preparing: 0, lastDelivered: '0', repairing: false,
    }),
    // A crash skips the message but keeps the members: forgetting them would strand their sockets.
    onCrash: 'resume',
    receive(state, message) {
      switch (message.type) {
        case 'join': {
          clearTimeout(state.idleTimer);
          const joining: Joining = { member: message.member, ref: message.ref, since: message.since };
          const rejoin = state.members.has(message.member.socket.connectionId);
          state.members.set(message.member.socket.connectionId, message.member);
          if (state.order) prepareJoin(state, joining, rejoin);
          else state.waiting.push(joining);
          return state;
        }
        case 'subscribed': {
          state.subscription = message.subscription;
          state.name = message.name;
          state.order = new RoomOrder(message.subscription.through);
          for (const joining of state.waiting.splice(0)) {
            if (state.members.get(joining.member.socket.connectionId) === joining.member) prepareJoin(state, joining, false);
          }
          return state;
        }
        case 'subscribe-failed':
          for (const joining of state.waiting.splice(0)) {
            state.members.delete(joining.member.socket.connectionId);
            runtime.tell(joining.member.session, { type: 'failed', ref: joining.ref, ...failure(message.error), roomId });
          }
          // The next join starts a fresh room that tries again.
          deps.directory().forget(roomId, self);
          runtime.stop(self);
          return state;
        case 'ready': {
          const { joining, present } = message;
          const { member, since } = joining;
          if (state.members.get(member.socket.connectionId) !== member) return state;
          // Messages delivered while the recovery was being looked up are in the recent buffer: the
          // socket gets them in `missed`, and everything after this turn live, with no gap or repeat.
          let missed = message.missed;
          if (since !== undefined) {
            const known = new Set(missed.map((m) => m.messageId));
            const later = state.recent.filter((m) => !known.has(m.messageId) && BigInt(m.messageId) > BigInt(since));
            if (later.length > 0) missed = [...missed, ...later].slice(-deps.recoveryLimit);
          }
          member.socket.subscribe(topic);
          state.live.add(member.socket.connectionId);
          const { name } = state;
          member.socket.reply({
            type: 'joined', ref: joining.ref, roomId, myId: name(member.userId), present: present.map(name),
            missed: missed.map((m) => messageDto(namedMessage(m, name))), recovered: message.recovered,
          });
          runtime.tell(member.session, { type: 'joined', roomId });
          return state;
        }
        case 'leave': {
          const member = removeMember(state, message.connectionId);
          if (member && message.reply) runtime.tell(member.session, { type: 'left', ref: message.ref, roomId });
          return state;
        }
        case 'entries': {
          if (!state.order) return state;
          const now = performance.now();
          deliver(state, state.order.accept(message.entries, now));
          if (state.order.gapSince !== undefined && now - state.order.gapSince >= deps.gapSkipMs) {
            log.warn({ roomId, expected: state.order.expected }, 'gave up waiting for a room position');
            deliver(state, state.order.skipGap(now));
          }
          scheduleRepair(state);
          return state;
        }
        case 'signals':
          for (const event of message.signals) onSignal(state, event);
          return state;
        case 'repair':
          repair(state);
          return state;
        case 'reenter':
          for (const member of state.members.values()) {
            enterPresence(member).catch((error: unknown) => log.warn({ roomId, err: error }, 'presence re-entry failed'));
          }
          return state;
        case 'quiet': {
          state.quietTimer = undefined;
          const quietFor = performance.now() - state.lastDeliveredAt;
          if (state.preparing > 0) scheduleQuiet(state, deps.roomIdleMs);
          else if (quietFor < deps.roomIdleMs) scheduleQuiet(state, deps.roomIdleMs - quietFor);
          else {
            // A join with `since` now asks the feed's window and the store, as after a restart.
            state.recent = [];
            state.recentBytes = 0;
          }
          return state;
        }
        case 'idle':
          if (state.members.size === 0) {
            deps.directory().forget(roomId, self);
            runtime.stop(self);
          }
          return state;
      }
    },
    afterStop(state, unprocessed) {
      stopped = true;
      clearTimeout(state.idleTimer);
      clearTimeout(state.repairTimer);
      clearTimeout(state.quietTimer);
      state.subscription?.stop().catch(() => undefined);
      deps.metrics.rooms.dec();
      // Whatever reached this incarnation after it decided to stop belongs to the next one.
      for (const message of unprocessed) {
        if (message.type === 'join' || message.type === 'leave' || message.type === 'reenter') deps.directory().tell(roomId, message);
      }
    },
  };

  let stopped = false;
  self = runtime.spawn('rooms', `room-${roomId}`, behavior);
  deps.metrics.rooms.inc();
  deps.naming(roomId).then((name) => feed.subscribe({ room: roomId }, handler).then((subscription) => ({ subscription, name }))).then(
    ({ subscription, name }) => {
      if (stopped) subscription.stop().catch(() => undefined);
      else runtime.tell(self, { type: 'subscribed', subscription, name });
    },
    (error: unknown) => runtime.tell(self, { type: 'subscribe-failed', error }),
  );
  return self;
}
