import type { Logger } from 'pino';
import type { Identity } from '../auth/authenticator.ts';
import { iso } from '../chat/dto.ts';
import { ChatError } from '../chat/errors.ts';
import type { MessageService } from '../chat/messages.ts';
import type { EventOrigin, RoomId } from '../chat/model.ts';
import type { RoomService } from '../chat/rooms.ts';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE, type ClientCommand, type Ref, type ServerFrame } from '../ws/native-protocol.ts';
import type { RoomDirectory } from './room-directory.ts';
import type { ActorRef, ActorRuntime, Behavior } from './runtime.ts';
import type { SocketHandle } from './socket-handle.ts';
import { userTopic, type UserFeeds } from './user-feeds.ts';

export type SessionMessage =
  /** First message of every session: waits for the admission checks (revocation, account) to finish. */
  | { type: 'start' }
  | { type: 'command'; command: ClientCommand; receivedAt: number }
  /** The room sent `joined` to the socket itself (in the turn that subscribed it); this marks it joined. */
  | { type: 'joined'; roomId: RoomId }
  | { type: 'left'; ref?: Ref; roomId: RoomId }
  | { type: 'failed'; ref?: Ref; code: string; message: string; roomId?: RoomId }
  /** The user left the room (possibly from another device): this socket is out of it too. */
  | { type: 'removed'; roomId: RoomId }
  | { type: 'kick'; code: number; reason: string }
  | { type: 'disconnected' };

export interface SessionDeps {
  nodeId: string;
  runtime: ActorRuntime;
  rooms: RoomDirectory;
  roomService: RoomService;
  messages: MessageService;
  feed: RoomFeed;
  metrics: Metrics;
  logger: Logger;
  maxJoinedRooms: number;
  /** Room events for this user's sockets (none for a host that does not want them). */
  userFeeds?: UserFeeds;
}

export interface SessionIdentity extends Identity {
  nickname: string;
}

interface SessionState {
  /** Known once admitted; commands wait in the mailbox until then. */
  identity?: SessionIdentity;
  /** Rooms this connection joined or is joining. */
  joined: Map<RoomId, 'joining' | 'joined'>;
  /** Attached to the user's room events. */
  userFeed?: boolean;
}

/**
 * One client connection: who it is, which rooms it joined, and the handling of its commands.
 * Its socket handle is the only way anything writes to this client. A class rather than closures:
 * a node holds one of these per socket, so what it costs is per socket.
 */
class Session implements Behavior<SessionState, SessionMessage> {
  private readonly origin: EventOrigin;
  self!: ActorRef<SessionMessage>;

  constructor(private readonly socket: SocketHandle, private readonly admission: Promise<SessionIdentity>, private readonly deps: SessionDeps) {
    this.origin = { nodeId: deps.nodeId, connectionId: socket.connectionId };
  }

  initialState(): SessionState {
    return { joined: new Map() };
  }

  async receive(state: SessionState, message: SessionMessage): Promise<SessionState> {
    switch (message.type) {
      case 'start':
        await this.admit(state);
        break;
      case 'command':
        if (state.identity) await this.onCommand(state, state.identity, message.command, message.receivedAt);
        break;
      case 'joined':
        if (state.joined.get(message.roomId) === 'joining') state.joined.set(message.roomId, 'joined');
        break;
      case 'left':
        this.send({ type: 'left', ref: message.ref, roomId: message.roomId });
        break;
      case 'failed':
        if (message.roomId !== undefined && state.joined.get(message.roomId) === 'joining') state.joined.delete(message.roomId);
        this.fail(message.ref, message.code, message.message);
        break;
      case 'removed':
        if (state.identity) this.deps.roomService.memberRemoved(message.roomId, state.identity.userId);
        if (state.joined.delete(message.roomId)) this.send({ type: 'left', roomId: message.roomId });
        break;
      case 'kick':
        this.socket.end(message.code, message.reason);
        break;
      case 'disconnected':
        this.leaveAll(state);
        state.joined.clear();
        this.detachUserFeed(state);
        this.deps.runtime.stop(this.self);
        break;
    }
    return state;
  }

  afterStop(state: SessionState): void {
    // Stopped by a crash: the client must not keep a socket nobody serves.
    this.leaveAll(state);
    this.detachUserFeed(state);
    if (this.socket.isOpen) this.socket.end(CLOSE.internal, 'internal error');
  }

  private send(frame: ServerFrame): void {
    this.socket.reply(frame);
  }

  private fail(ref: Ref | undefined, code: string, message: string): void {
    this.deps.metrics.framesRejected.labels(code).inc();
    this.send({ type: 'error', ref, code, message });
  }

  private failWith(ref: Ref | undefined, error: unknown): void {
    if (error instanceof ChatError) return this.fail(ref, error.code, error.message);
    this.deps.logger.error({ err: error, connectionId: this.socket.connectionId }, 'a session command failed');
    this.fail(ref, 'unavailable', 'the server could not complete this, try again');
  }

  private leaveAll(state: SessionState): void {
    for (const roomId of state.joined.keys()) this.deps.rooms.tell(roomId, { type: 'leave', connectionId: this.socket.connectionId, reply: false });
  }

  private detachUserFeed(state: SessionState): void {
    if (state.userFeed && state.identity) this.deps.userFeeds?.detach(state.identity.userId);
    state.userFeed = false;
  }

  private async admit(state: SessionState): Promise<void> {
    const { socket, deps } = this;
    try {
      state.identity = await this.admission;
      if (deps.userFeeds && socket.isOpen) {
        socket.subscribe(userTopic(state.identity.userId));
        deps.userFeeds.attach(state.identity.userId);
        state.userFeed = true;
      }
    } catch (error) {
      if (error instanceof ChatError) {
        const code = error.code === 'token_revoked' ? CLOSE.revoked : error.status === 429 ? CLOSE.rateLimited : CLOSE.tokenInvalid;
        socket.end(code, error.message);
      } else {
        deps.logger.error({ err: error, connectionId: socket.connectionId }, 'admitting a connection failed');
        socket.end(CLOSE.internal, 'try again');
      }
    }
  }

  private async onCommand(state: SessionState, identity: SessionIdentity, command: ClientCommand, receivedAt: number): Promise<void> {
    const { deps, origin } = this;
    const { ref } = command;
    switch (command.type) {
      case 'ping':
        this.send({ type: 'pong', ref });
        return;
      case 'join': {
        const { roomId, since } = command;
        if (!state.joined.has(roomId) && state.joined.size >= deps.maxJoinedRooms) {
          this.fail(ref, 'too_many_rooms', `a connection may join at most ${deps.maxJoinedRooms} rooms`);
          return;
        }
        try {
          await deps.roomService.checkMember(identity.userId, roomId);
        } catch (error) {
          // Not a member, no such room, or a store that cannot answer (and no copy here): an error frame, the socket stays.
          return this.failWith(ref, error);
        }
        if (!state.joined.has(roomId)) state.joined.set(roomId, 'joining');
        deps.rooms.tell(roomId, { type: 'join', member: { session: this.self, socket: this.socket, userId: identity.userId }, ref, since });
        return;
      }
      case 'leave':
        if (!state.joined.delete(command.roomId)) return this.fail(ref, 'not_joined', 'this connection has not joined that room');
        deps.rooms.tell(command.roomId, { type: 'leave', connectionId: this.socket.connectionId, reply: true, ref });
        return;
      case 'send': {
        if (!state.joined.has(command.roomId)) return this.fail(ref, 'not_joined', 'join the room before sending to it');
        const { roomId, clientMsgId, messageType, contents, fileUrl } = command;
        deps.metrics.messagesIn.inc();
        // Not awaited: a session's sends are in flight together, each acked when durable.
        deps.messages
          .post({ userId: identity.userId, deviceId: identity.deviceId, nickname: identity.nickname }, { roomId, messageType, contents, fileUrl, clientMsgId }, origin)
          .then((posted) => {
            deps.metrics.sendLatency.observe((performance.now() - receivedAt) / 1000);
            this.send({ type: 'ack', ref, clientMsgId, messageId: posted.messageId, createdAt: iso(posted.createdAt) });
          })
          .catch((error: unknown) => this.failWith(ref, error));
        return;
      }
      case 'typing':
        if (!state.joined.has(command.roomId)) return this.fail(ref, 'not_joined', 'join the room first');
        deps.feed.signal({ kind: 'typing', roomId: command.roomId, userId: identity.userId, origin })
          .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not signal typing'));
        return;
      case 'read':
        if (!state.joined.has(command.roomId)) return this.fail(ref, 'not_joined', 'join the room first');
        deps.messages.markRead(identity.userId, command.roomId, command.messageId, origin).catch((error: unknown) => this.failWith(ref, error));
        return;
    }
  }
}

export function spawnSession(socket: SocketHandle, admission: Promise<SessionIdentity>, deps: SessionDeps): ActorRef<SessionMessage> {
  const session = new Session(socket, admission, deps);
  session.self = deps.runtime.spawn('sessions', `session-${socket.connectionId}`, session);
  deps.runtime.tell(session.self, { type: 'start' });
  return session.self;
}
