import type { Logger } from 'pino';
import type { SessionMessage, SessionIdentity } from '../actors/session.ts';
import type { ActorRef } from '../actors/runtime.ts';
import type { SocketHandle, TopicPublisher } from '../actors/socket-handle.ts';
import { isPromise, type AuthRequest, type Identity } from '../auth/authenticator.ts';
import { ChatError } from '../chat/errors.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE, parseCommand, type Ref } from './native-protocol.ts';
import { TokenBucket } from './token-bucket.ts';
import { nativeUws, type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_listen_socket, type us_socket_context_t } from './uws.ts';

export interface SocketLimits {
  maxFrameBytes: number;
  maxBufferedBytes: number;
  idleTimeoutSeconds: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
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
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * uWS hands each handler its own copy of the user data object, so state lives in the
 * Connection it points to, never on the user data itself.
 */
interface UserData {
  connection: Connection;
}

let connections = 0;

/** One client socket and its state. */
class Connection implements SocketHandle {
  /** Unique on this node (presence entries and event origins also carry the node). */
  readonly connectionId = (++connections).toString(36);
  ws: WebSocket<UserData> | undefined;
  session: ActorRef<SessionMessage> | undefined;
  /** Known at the upgrade for flametalk's tokens, once admitted for a host's asynchronous auth. */
  identity: Identity | undefined;
  admission!: Promise<SessionIdentity>;

  constructor(readonly bucket: TokenBucket) {}

  get isOpen(): boolean {
    return this.ws !== undefined;
  }

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
}

function upgradeRequest(req: HttpRequest): AuthRequest {
  return {
    headers: { authorization: req.getHeader('authorization') || undefined, 'access-token': req.getHeader('access-token') || undefined },
    query: new URLSearchParams(req.getQuery() ?? ''),
  };
}

function refuse(res: HttpResponse, status: string, code: string, message: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json')
      // A refused upgrade has nothing more to say on this connection.
      .end(JSON.stringify({ status: Number.parseInt(status, 10), message, data: { code } }), true);
  });
}

/**
 * The uWebSockets.js server: authenticates upgrades (401 before any socket exists), enforces the
 * transport limits (frame size, rate, outbound buffer), parses frames and hands commands to the
 * connection's session actor. Fan-out is uWS topic publishing.
 */
export class SocketServer implements TopicPublisher {
  readonly app: TemplatedApp;
  private readonly connections = new Map<string, Connection>();
  private listenSocket: us_listen_socket | undefined;
  private readonly expirySweep = setInterval(() => this.closeExpired(), 1_000).unref();
  private draining = false;
  private readonly uws = nativeUws();

  constructor(private readonly deps: SocketServerDeps) {
    const { limits, logger } = deps;
    this.app = this.uws.App();
    this.app.ws<UserData>('/ws', {
      // uWS drops an oversized frame's connection without a close frame (1006); reading up to 4x
      // the limit lets the server answer the SPEC's 1009, and anything larger is still cut off.
      maxPayloadLength: limits.maxFrameBytes * 4,
      maxBackpressure: limits.maxBufferedBytes,
      // A client that cannot keep up is cut off instead of growing the server's memory.
      closeOnBackpressureLimit: 1,
      idleTimeout: limits.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      close: (ws, code) => this.close(ws, code),
    });
    this.app.any('/*', (res) => refuse(res, '404 Not Found', 'no_route', 'WebSocket endpoint is /ws'));
    logger.debug('uWebSockets.js native binary loaded');
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen for WebSockets on ${host}:${port}`));
        this.listenSocket = socket;
        resolve(this.uws.us_socket_local_port(socket));
      });
    });
  }

  publish(topic: string, frame: string): void {
    this.app.publish(topic, frame, false);
  }

  subscribers(topic: string): number {
    return this.app.numSubscribers(topic);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Outbound bytes waiting in uWS for slow clients, summed over all sockets. */
  bufferedBytes(): number {
    let total = 0;
    for (const connection of this.connections.values()) total += connection.ws?.getBufferedAmount() ?? 0;
    return total;
  }

  /** Closes the sockets matching `predicate` with `code` (sign-out, revocation). */
  closeWhere(predicate: (identity: Identity) => boolean, code: number, reason: string): number {
    let closed = 0;
    for (const connection of this.connections.values()) {
      if (connection.identity && predicate(connection.identity)) {
        connection.end(code, reason);
        closed++;
      }
    }
    return closed;
  }

  /** Stops accepting, then tells every client 4200 in batches so reconnects spread out. */
  async drain(batchSize: number): Promise<void> {
    this.draining = true;
    this.stopListening();
    while (this.connections.size > 0) {
      let batch = 0;
      for (const connection of [...this.connections.values()]) {
        connection.end(CLOSE.draining, 'server draining, reconnect');
        if (++batch >= batchSize) break;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  stopListening(): void {
    clearInterval(this.expirySweep);
    if (this.listenSocket) {
      this.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
  }

  /**
   * Decided synchronously, inside the upgrade callback: uWebSockets.js 20.30 mishandles an
   * upgrade made after an await (corked, about one socket in a few hundred is opened and closed
   * again at once while its client sees a live socket; uncorked, it warns on every upgrade).
   * So tokens are verified here without I/O and the checks that need I/O run right after open.
   */
  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    if (this.draining) return refuse(res, '503 Service Unavailable', 'draining', 'server draining, connect to another node');
    let outcome: Identity | Promise<Identity>;
    try {
      outcome = this.deps.authenticate(upgradeRequest(req));
    } catch (error) {
      if (error instanceof ChatError && error.status === 401) return refuse(res, '401 Unauthorized', error.code, error.message);
      this.deps.logger.error({ err: error }, 'WebSocket authentication failed');
      return refuse(res, '503 Service Unavailable', 'unavailable', 'try again');
    }
    const connection = new Connection(new TokenBucket(this.deps.limits.rateLimitPerSecond, this.deps.limits.rateLimitBurst));
    if (!isPromise(outcome)) connection.identity = outcome;
    connection.admission = Promise.resolve(outcome).then((identity) => {
      connection.identity = identity;
      return this.deps.admit(identity);
    });
    res.upgrade<UserData>(
      { connection },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  }

  private open(ws: WebSocket<UserData>): void {
    const { connection } = ws.getUserData();
    connection.ws = ws;
    this.connections.set(connection.connectionId, connection);
    this.deps.metrics.connections.inc();
    connection.session = this.deps.openSession(connection, connection.admission);
  }

  /**
   * Closes sockets whose credential expired (4001). One sweep a second over all connections
   * instead of a timer each: a timer costs more memory per idle connection than the check costs CPU.
   */
  private closeExpired(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      const expiresAt = connection.identity?.expiresAt;
      if (expiresAt !== undefined && expiresAt <= now) connection.end(CLOSE.tokenInvalid, 'access token expired');
    }
  }

  private message(ws: WebSocket<UserData>, data: ArrayBuffer, isBinary: boolean): void {
    const { connection } = ws.getUserData();
    const receivedAt = performance.now();
    if (data.byteLength > this.deps.limits.maxFrameBytes) {
      this.deps.metrics.framesRejected.labels('too_large').inc();
      return connection.end(CLOSE.tooLarge, 'frame too large');
    }
    if (!connection.bucket.take()) {
      this.deps.metrics.framesRejected.labels('rate_limited').inc();
      return connection.end(CLOSE.rateLimited, 'rate limit exceeded');
    }
    const reject = (code: string, message: string, ref?: Ref): void => {
      this.deps.metrics.framesRejected.labels(code).inc();
      connection.send(JSON.stringify({ type: 'error', ref, code, message }));
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
    this.deps.tell(connection.session!, { type: 'command', command: parsed.command, receivedAt });
  }

  private close(ws: WebSocket<UserData>, _code: number): void {
    const { connection } = ws.getUserData();
    connection.ws = undefined;
    this.connections.delete(connection.connectionId);
    this.deps.metrics.connections.dec();
    if (connection.session) this.deps.tell(connection.session, { type: 'disconnected' });
  }
}
