import type { TopicPublisher } from '../actors/socket-handle.ts';
import { isPromise, presentedToken, type AuthRequest, type Identity } from '../auth/authenticator.ts';
import { ChatError } from '../chat/errors.ts';
import { clientAddressOf } from './client-address.ts';
import { ConnectionCaps } from './connection-caps.ts';
import { Connection, NativeConnection, type ConnectionContext, type SocketServerDeps, type UserData } from './connection.ts';
import { CLOSE, type ServerFrame } from './native-protocol.ts';
import { PresenceConnection, presenceFrame, presenceTopic } from './presence/presence-connection.ts';
import { StompConnection } from './stomp/stomp-connection.ts';
import { StompFanout } from './stomp/fanout.ts';
import { nativeUws, type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_listen_socket, type us_socket_context_t } from './uws.ts';

export type { SocketLimits, SocketServerDeps } from './connection.ts';

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
  private readonly expirySweep: NodeJS.Timeout;
  private draining = false;
  private readonly uws = nativeUws();
  private readonly context: ConnectionContext;
  private readonly clientAddress: (peer: string, forwardedFor: string) => string;
  readonly stomp: StompFanout;

  constructor(private readonly deps: SocketServerDeps) {
    const { limits, logger } = deps;
    this.app = this.uws.App();
    this.context = { deps, publish: (topic, frame) => this.publish(topic, frame), caps: new ConnectionCaps(limits) };
    this.clientAddress = clientAddressOf(limits.trustedProxies);
    this.stomp = new StompFanout(this.context.publish);
    const routes: Array<[string, (context: ConnectionContext) => Connection]> = [
      ['/ws', (context) => new NativeConnection(context)],
      // /stomp/chat/websocket is the path FlameTalk's Android app (SockJS-style) uses.
      ['/stomp/chat', (context) => new StompConnection(context, this.stomp)],
      ['/stomp/chat/websocket', (context) => new StompConnection(context, this.stomp)],
      ['/presence', (context) => new PresenceConnection(context)],
    ];
    for (const [path, create] of routes) {
      this.app.ws<UserData>(path, {
        // uWS drops an oversized frame's connection without a close frame (1006); reading up to 4x
        // the limit lets the server answer the SPEC's 1009, and anything larger is still cut off.
        maxPayloadLength: limits.maxFrameBytes * 4,
        maxBackpressure: limits.maxBufferedBytes,
        // A client that cannot keep up is cut off instead of growing the server's memory.
        closeOnBackpressureLimit: 1,
        idleTimeout: limits.idleTimeoutSeconds,
        sendPingsAutomatically: true,
        upgrade: (res, req, context) => this.upgrade(res, req, context, create),
        open: (ws) => this.open(ws),
        message: (ws, data, isBinary) => this.message(ws, data, isBinary),
        close: (ws, code) => this.close(ws, code),
      });
    }
    this.app.any('/*', (res) => refuse(res, '404 Not Found', 'no_route', 'WebSocket endpoints are /ws, /stomp/chat and /presence'));
    // STOMP heart-beats need a finer sweep than token expiry; still one timer for all sockets.
    const heartbeat = limits.stompHeartbeatMs ?? 0;
    const sweepMs = heartbeat > 0 ? Math.max(50, Math.min(1_000, Math.floor(heartbeat / 4))) : 1_000;
    this.expirySweep = setInterval(() => this.sweep(), sweepMs).unref();
    logger.debug('uWebSockets.js native binary loaded');
  }

  /** Compatibility protocols' copy of a room event, encoded once per protocol (never per socket). */
  publishCompat(roomId: string, frame: ServerFrame): void {
    if (frame.type === 'message') this.stomp.message(roomId, frame.message);
    else if (frame.type === 'presence') {
      const topic = presenceTopic(roomId);
      if (this.app.numSubscribers(topic) > 0) this.app.publish(topic, presenceFrame(roomId, frame.event, frame.userId), false);
    }
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
  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, create: (context: ConnectionContext) => Connection): void {
    // The path only (uWS keeps the query apart): the query may hold an access token, never logged.
    const path = req.getUrl();
    const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
    const address = ConnectionCaps.addressKey(this.clientAddress(peer, req.getHeader('x-forwarded-for')));
    const refused = (status: string, code: string, message: string): void => {
      this.logUpgrade(path, address, Number.parseInt(status, 10), code);
      refuse(res, status, code, message);
    };
    if (this.draining) return refused('503 Service Unavailable', 'draining', 'server draining, connect to another node');
    const connection = create(this.context);
    const request = upgradeRequest(req);
    try {
      // STOMP clients usually present their token in CONNECT; an upgrade that carries one is checked now.
      const identity = connection.tokenOnUpgrade || presentedToken(request) !== undefined ? this.deps.authenticate(request) : undefined;
      this.context.caps.check(address, identity && !isPromise(identity) ? identity.userId : undefined);
      if (identity) connection.authenticated(identity);
    } catch (error) {
      if (error instanceof ChatError && error.status === 401) return refused('401 Unauthorized', error.code, error.message);
      if (error instanceof ChatError && error.status === 429) return refused('429 Too Many Requests', error.code, error.message);
      this.deps.logger.error({ err: error }, 'WebSocket authentication failed');
      return refused('503 Service Unavailable', 'unavailable', 'try again');
    }
    const offered = req.getHeader('sec-websocket-protocol');
    res.upgrade<UserData>(
      { connection, address },
      req.getHeader('sec-websocket-key'),
      connection instanceof StompConnection ? connection.negotiate(offered) : offered,
      req.getHeader('sec-websocket-extensions'),
      context,
    );
    this.logUpgrade(path, address, 101);
  }

  private logUpgrade(path: string, address: string, status: number, code?: string): void {
    if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ path, address, status, code }, 'WebSocket upgrade');
  }

  private open(ws: WebSocket<UserData>): void {
    const { connection, address } = ws.getUserData();
    connection.ws = ws;
    this.connections.set(connection.connectionId, connection);
    this.deps.metrics.connections.inc();
    try {
      // Checked at the upgrade already; counted here, where the close that gives it back is certain.
      this.context.caps.countAddress(connection, address);
      if (connection.identity) this.context.caps.countUser(connection, connection.identity.userId);
    } catch (error) {
      // No session will wait for this admission: its outcome no longer matters.
      connection.admission?.catch(() => undefined);
      return connection.end(CLOSE.rateLimited, (error as Error).message);
    }
    connection.opened();
  }

  /**
   * Closes sockets whose credential expired (4001). One sweep a second over all connections
   * instead of a timer each: a timer costs more memory per idle connection than the check costs CPU.
   */
  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      const expiresAt = connection.identity?.expiresAt;
      if (expiresAt !== undefined && expiresAt <= now) connection.end(CLOSE.tokenInvalid, 'access token expired');
      else connection.tick(now);
    }
  }

  private message(ws: WebSocket<UserData>, data: ArrayBuffer, isBinary: boolean): void {
    const { connection } = ws.getUserData();
    const receivedAt = performance.now();
    if (data.byteLength > this.deps.limits.maxFrameBytes) {
      this.deps.metrics.framesRejected.labels('too_large').inc();
      return connection.end(CLOSE.tooLarge, 'frame too large');
    }
    connection.receive(data, isBinary, receivedAt);
  }

  private close(ws: WebSocket<UserData>, _code: number): void {
    const { connection } = ws.getUserData();
    connection.ws = undefined;
    this.connections.delete(connection.connectionId);
    this.deps.metrics.connections.dec();
    this.context.caps.release(connection);
    connection.closed();
    if (connection.session) this.deps.tell(connection.session, { type: 'disconnected' });
  }
}
