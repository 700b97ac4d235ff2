import type { SessionMessage, SessionIdentity } from '../actors/session.ts';
import type { ActorRef } from '../actors/runtime.ts';
import type { SocketHandle } from '../actors/socket-handle.ts';
import { isPromise, type AuthRequest, type Identity } from '../auth/authenticator.ts';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { parseCommand, type Ref, type ServerFrame } from './native-protocol.ts';
import { CLOSE } from './native-protocol.ts';
import type { ConnectionCapSettings, ConnectionCaps, Counted } from './connection-caps.ts';
import { TokenBucket } from './token-bucket.ts';
import type { WebSocket } from './uws.ts';

export interface SocketLimits extends ConnectionCapSettings {
  maxFrameBytes: number;
  maxBufferedBytes: number;
  idleTimeoutSeconds: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** STOMP heart-beat offered both ways in CONNECTED; 0 for none. */
  stompHeartbeatMs?: number;
  /** Proxies whose X-Forwarded-For names the client address the caps count. */
  trustedProxies?: string[];
}

export interface SocketServerDeps {
  logger: Logger;
  metrics: Metrics;
  limits: SocketLimits;
  /** Decides the upgrade; throwing a 401 ChatError refuses it. A promise is settled after the upgrade. */
  authenticate(request: AuthRequest): Identity | Promise<Identity>;
  /** The checks that need I/O (revocation, the account), run once the socket is open. */
  admit(identity: Identity): Promise<SessionIdentity>;
  openSession(socket: SocketHandle, admission: Promise<SessionIdentity>): ActorRef<SessionMessage>;
  tell(session: ActorRef<SessionMessage>, message: SessionMessage): void;
  /** The id a user goes by in an open room, which a client may name itself by there (the presence socket's userId). */
  openRoomIdOf?(roomId: string, userId: string): string;
}

/** What every connection may use of its server. */
export interface ConnectionContext {
  deps: SocketServerDeps;
  /** Publishes to every subscriber of a topic (as the app: no socket left out). */
  publish(topic: string, frame: string): void;
  caps: ConnectionCaps;
}

/**
 * uWS hands each handler its own copy of the user data object, so state lives in the
 * Connection it points to, never on the user data itself.
 */
export interface UserData {
  connection: Connection;
  /** The client's address, as the connection caps count it. */
  address: string;
}

let connections = 0;
export const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One client socket and its state. Subclasses are the wire protocols: each parses its own frames
 * into the session actor's commands and encodes the session's replies; the session and room actors
 * are the same for all of them.
 */
export abstract class Connection implements SocketHandle, Counted {
  /** Unique on this node (presence entries and event origins also carry the node). */
  readonly connectionId = (++connections).toString(36);
  ws: WebSocket<UserData> | undefined;
  session: ActorRef<SessionMessage> | undefined;
  /** Known at the upgrade for flametalk's tokens, once admitted for a host's asynchronous auth. */
  identity: Identity | undefined;
  admission!: Promise<SessionIdentity>;
  readonly bucket: TokenBucket;
  countedAddress: string | undefined;
  countedUser: string | undefined;

  constructor(protected readonly context: ConnectionContext) {
    const { limits } = context.deps;
    this.bucket = new TokenBucket(limits.rateLimitPerSecond, limits.rateLimitBurst);
  }

  get isOpen(): boolean {
    return this.ws !== undefined;
  }

  /** Whether the upgrade must carry a valid token (STOMP may authenticate in CONNECT instead). */
  get tokenOnUpgrade(): boolean {
    return true;
  }

  /** Accepts an identity (from the upgrade or a later handshake) and starts the I/O admission checks. */
  authenticated(outcome: Identity | Promise<Identity>): void {
    if (!isPromise(outcome)) this.identity = outcome;
    this.admission = Promise.resolve(outcome).then((identity) => {
      this.identity = identity;
      // An identity known only now (STOMP's CONNECT, a host's asynchronous auth) counts now; one
      // from the upgrade was counted when the socket opened. A closed socket counts for nothing.
      if (this.isOpen) this.context.caps.countUser(this, identity.userId);
      return this.context.deps.admit(identity);
    });
  }

  /** uWS opened the socket. */
  opened(): void {
    this.session = this.context.deps.openSession(this, this.admission);
  }

  abstract reply(frame: ServerFrame): void;

  /** One WebSocket message, already checked against the frame size limit. */
  abstract receive(data: ArrayBuffer, isBinary: boolean, receivedAt: number): void;

  /** uWS closed the socket. */
  closed(): void {}

  /** Called about once a second (and more often when a protocol asks), for timers without a timer per socket. */
  tick(_now: number): void {}

  send(frame: string): void {
    this.ws?.send(frame, false);
  }

  end(code: number, reason: string): void {
    this.ws?.end(code, reason);
  }

  subscribe(topic: string): void {
    this.ws?.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.ws?.unsubscribe(topic);
  }

  publishToOthers(topic: string, frame: string): void {
    this.ws?.publish(topic, frame, false);
  }

  protected tell(command: SessionMessage): void {
    if (this.session) this.context.deps.tell(this.session, command);
  }

  /** The transport rate limit: false (and the socket closed with 4008) when exceeded. */
  protected takeToken(): boolean {
    if (this.bucket.take()) return true;
    this.context.deps.metrics.framesRejected.labels('rate_limited').inc();
    this.end(CLOSE.rateLimited, 'rate limit exceeded');
    return false;
  }
}

/** The native protocol (SPEC §5.1): one JSON command per text frame. */
export class NativeConnection extends Connection {
  reply(frame: ServerFrame): void {
    this.send(JSON.stringify(frame));
  }

  receive(data: ArrayBuffer, isBinary: boolean, receivedAt: number): void {
    if (!this.takeToken()) return;
    const reject = (code: string, message: string, ref?: Ref): void => {
      this.context.deps.metrics.framesRejected.labels(code).inc();
      this.send(JSON.stringify({ type: 'error', ref, code, message }));
    };
    if (isBinary) return reject('bad_frame', 'frames must be text (JSON)');
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      return reject('bad_frame', 'frame is not valid UTF-8');
    }
    const parsed = parseCommand(text);
    if ('error' in parsed) return reject(parsed.error.code, parsed.error.message, parsed.error.ref);
    this.tell({ type: 'command', command: parsed.command, receivedAt });
  }
}
