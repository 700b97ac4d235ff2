import type { Logger } from 'pino';
import { ChatError } from '../chat/errors.ts';
import { messageDto } from '../chat/dto.ts';
import type { MessageService, Sender } from '../chat/messages.ts';
import type { ChatMessage, EventOrigin, MessageId, RoomEvent, RoomId, UserId } from '../chat/model.ts';
import type { RoomEventBus } from '../infra/ports/bus.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';
import type { Metrics } from '../metrics.ts';
import type { ServerFrame } from '../ws/native-protocol.ts';
import type { RoomDirectory } from './room-directory.ts';
import type { ActorRef, ActorRuntime, Behavior } from './runtime.ts';
import type { SessionMessage } from './session.ts';
import { roomTopic, type SocketHandle, type TopicPublisher } from './socket-handle.ts';

/** A session of this node that joined the room. */
export interface LocalMember {
  session: ActorRef<SessionMessage>;
  socket: SocketHandle;
  userId: UserId;
}

export type RoomMessage =
  | { type: 'join'; member: LocalMember; ref?: string; since?: MessageId }
  /** `reply` is false when the socket is gone and nobody waits for `left`. */
  | { type: 'leave'; connectionId: string; reply: boolean; ref?: string }
  | { type: 'send'; connectionId: string; sender: Sender; ref?: string; clientMsgId: string; messageType: 'TALK' | 'FILE'; contents: string; fileUrl?: string; startedAt: number }
  | { type: 'typing'; connectionId: string; userId: UserId }
  | { type: 'read'; connectionId: string; userId: UserId; messageId: MessageId }
  /** Bus events for this room, in bus order. */
  | { type: 'events'; events: RoomEvent[] }
  /** This node's presence lease lapsed: enter every local member again. */
  | { type: 'reenter' }
  | { type: 'idle' };

export interface RoomDeps {
  nodeId: string;
  runtime: ActorRuntime;
  directory: () => RoomDirectory;
  presence: PresenceStore;
  bus: RoomEventBus;
  messages: MessageService;
  publisher: TopicPublisher;
  metrics: Metrics;
  logger: Logger;
  recoveryLimit: number;
  roomIdleMs: number;
}

interface RoomState {
  members: Map<string, LocalMember>;
  /** Recent messages seen on the bus, for recovery before the store has them. */
  recent: ChatMessage[];
  idleTimer?: NodeJS.Timeout;
}

/**
 * One room on this node: its local sessions, their presence, publishing their events to the bus
 * and fanning bus events out to local sockets with one topic publish. Handlers never wait for
 * I/O: they start it and report back by message, so one slow backend call does not hold up the
 * room.
 */
export function spawnRoom(roomId: RoomId, deps: RoomDeps): ActorRef<RoomMessage> {
  const topic = roomTopic(roomId);
  const log = deps.logger.child({ roomId });
  const { runtime } = deps;
  const origin = (connectionId: string): EventOrigin => ({ nodeId: deps.nodeId, connectionId });

  const reply = (member: LocalMember | undefined, message: SessionMessage): void => {
    if (member) runtime.tell(member.session, message);
  };

  const failure = (error: unknown): { code: string; message: string } => {
    if (error instanceof ChatError) return { code: error.code, message: error.message };
    log.error({ err: error }, 'room operation failed');
    return { code: 'unavailable', message: 'the server could not complete this, try again' };
  };

  const publishEvent = (event: RoomEvent): void => {
    deps.bus.publish(event).catch((error: unknown) => log.warn({ err: error, kind: event.kind }, 'could not publish a room event'));
  };

  const enterPresence = (member: LocalMember): Promise<void> =>
    deps.presence.enter(roomId, member.userId, member.socket.connectionId).then((arrived) => {
      if (arrived) publishEvent({ kind: 'presence', roomId, userId: member.userId, event: 'enter', origin: origin(member.socket.connectionId) });
    });

  const exitPresence = (member: LocalMember): void => {
    deps.presence.exit(roomId, member.userId, member.socket.connectionId).then((departed) => {
      if (departed) publishEvent({ kind: 'presence', roomId, userId: member.userId, event: 'exit', origin: origin(member.socket.connectionId) });
    }).catch((error: unknown) => log.warn({ err: error }, 'presence exit failed'));
  };

  /** One serialization and one uWS publish per event, whatever the number of local subscribers. */
  const fanOut = (state: RoomState, frame: ServerFrame, from?: EventOrigin): void => {
    const payload = JSON.stringify(frame);
    const sender = from && from.nodeId === deps.nodeId ? state.members.get(from.connectionId) : undefined;
    const subscribers = deps.publisher.subscribers(topic);
    if (sender?.socket.isOpen) sender.socket.publishToOthers(topic, payload);
    else deps.publisher.publish(topic, payload);
    deps.metrics.messagesOut.inc();
    deps.metrics.fanout.inc(sender ? Math.max(0, subscribers - 1) : subscribers);
  };

  const removeMember = (state: RoomState, connectionId: string): LocalMember | undefined => {
    const member = state.members.get(connectionId);
    if (!member) return undefined;
    state.members.delete(connectionId);
    member.socket.unsubscribe(topic);
    exitPresence(member);
    if (state.members.size === 0) scheduleIdle(state);
    return member;
  };

  let self: ActorRef<RoomMessage>;
  const scheduleIdle = (state: RoomState): void => {
    clearTimeout(state.idleTimer);
    // Timers only send messages: an error thrown inside a timer would take nact, and the process, down.
    state.idleTimer = setTimeout(() => runtime.tell(self, { type: 'idle' }), deps.roomIdleMs);
    state.idleTimer.unref();
  };

  const onEvent = (state: RoomState, event: RoomEvent): void => {
    switch (event.kind) {
      case 'message':
        // The bus delivers at least once; a redelivered message must not reach sockets twice.
        if (state.recent.some((m) => m.messageId === event.message.messageId)) return;
        state.recent.push(event.message);
        if (state.recent.length > deps.recoveryLimit) state.recent.splice(0, state.recent.length - deps.recoveryLimit);
        fanOut(state, { type: 'message', roomId, message: messageDto(event.message) }, event.origin);
        return;
      case 'typing':
        fanOut(state, { type: 'typing', roomId, userId: event.userId }, event.origin);
        return;
      case 'read':
        fanOut(state, { type: 'read', roomId, userId: event.userId, messageId: event.messageId }, event.origin);
        return;
      case 'presence':
        fanOut(state, { type: 'presence', roomId, event: event.event, userId: event.userId }, event.origin);
        return;
      case 'membership':
        if (event.change === 'left') {
          for (const member of [...state.members.values()]) {
            if (member.userId !== event.userId) continue;
            removeMember(state, member.socket.connectionId);
            reply(member, { type: 'removed', roomId });
          }
        }
        return;
    }
  };

  const behavior: Behavior<RoomState, RoomMessage> = {
    initialState: () => ({ members: new Map(), recent: [] }),
    // A crash skips the message but keeps the members: forgetting them would strand their sockets.
    onCrash: 'resume',
    receive(state, message) {
      switch (message.type) {
        case 'join': {
          const { member, ref, since } = message;
          clearTimeout(state.idleTimer);
          const connectionId = member.socket.connectionId;
          const rejoin = state.members.has(connectionId);
          state.members.set(connectionId, member);
          member.socket.subscribe(topic);
          const recent = [...state.recent];
          (rejoin ? Promise.resolve() : enterPresence(member))
            .then(() => Promise.all([
              deps.presence.present(roomId),
              since === undefined ? undefined : deps.messages.missedSince(roomId, since, deps.recoveryLimit, recent),
            ]))
            .then(([present, recovery]) => reply(member, {
              type: 'joined', ref, roomId, present, missed: recovery?.missed ?? [], recovered: recovery?.recovered ?? true,
            }))
            .catch((error: unknown) => {
              runtime.tell(self, { type: 'leave', connectionId, reply: false });
              reply(member, { type: 'failed', ref, ...failure(error), roomId });
            });
          return state;
        }
        case 'leave': {
          const member = removeMember(state, message.connectionId);
          if (member && message.reply) reply(member, { type: 'left', ref: message.ref, roomId });
          return state;
        }
        case 'send': {
          const member = state.members.get(message.connectionId);
          if (!member) return state;
          const { sender, ref, clientMsgId, messageType, contents, fileUrl, startedAt } = message;
          deps.metrics.messagesIn.inc();
          deps.messages
            .post(sender, { roomId, messageType, contents, fileUrl, clientMsgId }, origin(message.connectionId))
            .then((posted) => {
              deps.metrics.sendLatency.observe((performance.now() - startedAt) / 1000);
              reply(member, { type: 'acked', ref, clientMsgId, messageId: posted.messageId, createdAt: posted.createdAt });
            })
            .catch((error: unknown) => reply(member, { type: 'failed', ref, ...failure(error) }));
          return state;
        }
        case 'typing':
          if (state.members.has(message.connectionId)) {
            publishEvent({ kind: 'typing', roomId, userId: message.userId, origin: origin(message.connectionId) });
          }
          return state;
        case 'read': {
          const member = state.members.get(message.connectionId);
          if (member) {
            deps.messages.markRead(message.userId, roomId, message.messageId, origin(message.connectionId))
              .catch((error: unknown) => reply(member, { type: 'failed', ...failure(error) }));
          }
          return state;
        }
        case 'events':
          for (const event of message.events) onEvent(state, event);
          return state;
        case 'reenter':
          for (const member of state.members.values()) {
            enterPresence(member).catch((error: unknown) => log.warn({ err: error }, 'presence re-entry failed'));
          }
          return state;
        case 'idle':
          if (state.members.size === 0) {
            deps.directory().forget(roomId, self);
            runtime.stop(self);
          }
          return state;
      }
    },
    afterStop(state, unprocessed) {
      clearTimeout(state.idleTimer);
      deps.metrics.rooms.dec();
      // Whatever reached this incarnation after it decided to stop belongs to the next one.
      for (const message of unprocessed) if (message.type !== 'idle') deps.directory().tell(roomId, message);
    },
  };

  self = runtime.spawn('rooms', `room-${roomId}`, behavior);
  deps.metrics.rooms.inc();
  return self;
}
