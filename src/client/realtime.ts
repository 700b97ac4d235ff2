import { Backoff, type BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { FlametalkError, isRefusal } from './errors.ts';
import { newClientMsgId } from './ids.ts';
import { CLIENT_CLOSE, CLOSE, type IncomingFrame, type MessageDto, type RoomChangeFrame } from './protocol.ts';
import { RoomFeed } from './room-feed.ts';
import { Outbox, type QueuedSend } from './send-queue.ts';
import { Socket, type WebSocketConstructor } from './socket.ts';
import type { Tokens } from './tokens.ts';
import type { Ack, ConnectionState, SendOptions } from './types.ts';

export interface RealtimeOptions {
  wsUrl: string;
  WebSocket: WebSocketConstructor | undefined;
  reconnect: BackoffOptions;
  /** How often the socket is checked with a ping, ms (0: never). */
  heartbeatMs: number;
  /** How long a join, leave or ping may wait for its reply, ms. */
  requestTimeoutMs: number;
}

/** History reads the recovery needs (over HTTP). */
export interface RecoveryHistory {
  /** The room's newest message id, or undefined when it has none. */
  newest(roomId: string): Promise<string | undefined>;
  /** The messages after `after` and before `before` (when given), oldest first. */
  between(roomId: string, after: string, before: string | undefined): Promise<MessageDto[]>;
}

export interface RealtimeEvents {
  state: [ConnectionState];
  room: [RoomChangeFrame];
  /** An error frame that answers no command of this client. */
  error: [FlametalkError];
}

function withToken(wsUrl: string, token: string): string {
  // Browsers cannot set headers on a WebSocket upgrade; the query parameter works everywhere.
  const url = new URL(wsUrl);
  url.searchParams.set('access_token', token);
  return url.toString();
}

/**
 * The realtime side of the client: one socket at a time (two for a moment while a refreshed token
 * takes over), reconnecting with backoff, rejoining every room with `since` so each room's feed
 * gets exactly what it missed, and resending unacknowledged sends on every new socket.
 */
export class Realtime {
  readonly events = new Emitter<RealtimeEvents>();
  private stateValue: ConnectionState = 'idle';
  /** The socket in use: open, every room rejoined. */
  private current: Socket | undefined;
  /** A socket being opened and rejoined: a (re)connect, or a swap to a refreshed token. */
  private establishing: Socket | undefined;
  private wanted = false;
  private stopped: FlametalkError | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private forceRefresh = false;
  private failedOpens = 0;
  private readonly backoff: Backoff;
  private readonly feeds = new Map<string, RoomFeed>();
  private readonly queue = new Outbox({
    current: () => this.current,
    ready: (socket, roomId) => this.ready(socket, roomId),
    acked: (item, ack) => this.deliverOwn(item, ack),
  });
  private readonly unsubscribe: Array<() => void>;

  constructor(private readonly options: RealtimeOptions, private readonly tokens: Tokens, private readonly history: RecoveryHistory) {
    this.backoff = new Backoff(options.reconnect);
    this.unsubscribe = [
      tokens.events.on('refreshed', () => this.swap()),
      tokens.events.on('signedOut', (reason) => this.stop('idle', reason)),
    ];
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get pendingSends(): number {
    return this.queue.size;
  }

  /** Starts connecting (if not yet) and resolves once connected. */
  connect(): Promise<void> {
    if (this.stateValue === 'closed') return Promise.reject(new FlametalkError('closed', 'the client is closed'));
    if (!(this.options.WebSocket ?? globalWebSocket())) {
      return Promise.reject(new FlametalkError('no_websocket', 'no WebSocket here: pass createClient({ WebSocket }) (in Node 20, the `ws` package)'));
    }
    this.wanted = true;
    this.stopped = undefined;
    if (this.stateValue === 'connected') return Promise.resolve();
    if (!this.establishing && this.retryTimer === undefined) void this.open('connect');
    return this.untilConnected();
  }

  /** Joins a room (once per client) and resolves with its feed when the server confirmed. */
  async join(roomId: string, since: string | undefined): Promise<RoomFeed> {
    let feed = this.feeds.get(roomId);
    if (!feed) {
      const joining = this.connect();
      feed = new RoomFeed(roomId, since);
      this.feeds.set(roomId, feed);
      // An establishing socket picks the room up itself; a live one needs the join now.
      if (this.current) this.joinLive(this.current, feed);
      await joining.catch((error: unknown) => {
        this.feeds.delete(roomId);
        throw error;
      });
    }
    await feed.firstJoin;
    return feed;
  }

  async leave(roomId: string): Promise<void> {
    const feed = this.feeds.get(roomId);
    if (!feed) return;
    this.feeds.delete(roomId);
    const left = new FlametalkError('not_joined', `left room ${roomId}`);
    this.queue.fail(left, roomId);
    if (!feed.joinedOnce) feed.end(left);
    const replies: Promise<unknown>[] = [];
    for (const socket of [this.current, this.establishing]) {
      if (socket?.joinedRooms.delete(roomId)) replies.push(socket.call({ type: 'leave', roomId }, this.options.requestTimeoutMs).catch(() => undefined));
    }
    await Promise.all(replies);
  }

  /** Queues a message; resolves with the ack, however many reconnects that takes. */
  send(roomId: string, contents: string, options: SendOptions & { clientMsgId?: string } = {}): Promise<Ack> {
    if (this.stateValue === 'closed') return Promise.reject(new FlametalkError('closed', 'the client is closed'));
    if (!this.feeds.has(roomId)) return Promise.reject(new FlametalkError('not_joined', `join room ${roomId} before sending to it`));
    if (typeof contents !== 'string') return Promise.reject(new FlametalkError('bad_request', 'contents must be a string'));
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    return new Promise((resolve, reject) => {
      const item: QueuedSend = {
        roomId, clientMsgId, inFlight: undefined, resolve, reject,
        command: {
          type: 'send', roomId, clientMsgId, messageType: options.messageType ?? 'TALK', contents,
          ...(options.fileUrl === undefined ? {} : { fileUrl: options.fileUrl }),
        },
      };
      this.queue.add(item);
    });
  }

  /** Typing is momentary: while disconnected it is dropped, not queued. */
  typing(roomId: string): void {
    if (this.current && this.ready(this.current, roomId)) this.current.post({ type: 'typing', roomId });
  }

  read(roomId: string, messageId: string): void {
    if (this.current && this.ready(this.current, roomId)) this.current.post({ type: 'read', roomId, messageId });
  }

  /** Disconnects; `idle` can connect again (a new sign-in), `closed` is final. Pending work fails with `reason`. */
  stop(state: 'idle' | 'closed', reason: FlametalkError): void {
    this.wanted = false;
    this.stopped = reason;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopHeartbeat();
    const sockets = [this.current, this.establishing];
    this.current = this.establishing = undefined;
    for (const socket of sockets) socket?.close(CLIENT_CLOSE.normal, 'client stopped');
    this.queue.fail(reason);
    const feeds = [...this.feeds.values()];
    this.feeds.clear();
    for (const feed of feeds) feed.end(reason);
    if (state === 'closed') for (const off of this.unsubscribe) off();
    this.setState(state);
  }

  private ready(socket: Socket, roomId: string): boolean {
    return socket.joinedRooms.has(roomId) && !socket.isHolding(roomId);
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.events.emit('state', state);
  }

  private untilConnected(): Promise<void> {
    return new Promise((resolve, reject) => {
      const off = this.events.on('state', (state) => {
        if (state === 'connected') {
          off();
          resolve();
        } else if (state === 'idle' || state === 'closed') {
          off();
          reject(this.stopped ?? new FlametalkError('closed', 'the client stopped'));
        }
      });
    });
  }

  /** Opens a socket, rejoins every room on it, then makes it the current one. */
  private async open(kind: 'connect' | 'swap'): Promise<void> {
    const Ctor = (this.options.WebSocket ?? globalWebSocket())!;
    if (kind === 'connect') this.setState(this.current || this.stateValue === 'reconnecting' || this.failedOpens > 0 ? 'reconnecting' : 'connecting');
    let socket: Socket | undefined;
    try {
      const token = this.forceRefresh ? await this.tokens.refresh() : await this.tokens.fresh();
      this.forceRefresh = false;
      if (!this.wanted) return;
      const opening: Socket = new Socket(Ctor, withToken(this.options.wsUrl, token), {
        frame: (frame) => this.onFrame(opening, frame),
        closed: (code) => this.onClosed(opening, code),
      });
      socket = this.establishing = opening;
      await opening.opened;
      await this.rejoinAll(opening);
      if (opening.closed) throw new FlametalkError('disconnected', 'the connection closed while rooms were rejoined');
    } catch (error) {
      if (socket && this.establishing === socket) this.establishing = undefined;
      if (!this.wanted || (kind === 'swap' && this.current)) {
        // A failed swap leaves the current socket in place; if its token runs out, 4001 brings us back here.
        socket?.close(CLIENT_CLOSE.normal, 'not needed');
        return;
      }
      const closeCode = socket?.closed ? socket.closeCode : undefined;
      const opened = socket?.wasOpened ?? false;
      socket?.close(CLIENT_CLOSE.normal, 'giving up on this connection');
      if (error instanceof FlametalkError && (error.status === 401 || error.code === 'not_signed_in' || error.code === 'signed_out')) {
        return this.stop('idle', error);
      }
      if (opened && closeCode !== undefined) return this.lost(closeCode);
      // Browsers do not show why an upgrade failed; a refused token looks like any failure, so renew it now and then.
      if (socket && !opened && ++this.failedOpens % 2 === 0) this.forceRefresh = true;
      return this.retry(this.backoff.next());
    }
    if (this.establishing === socket) this.establishing = undefined;
    if (!this.wanted) return socket.close(CLIENT_CLOSE.normal, 'not needed');
    const previous = this.current;
    this.current = socket;
    previous?.close(CLIENT_CLOSE.replaced, 'replaced by a connection with a fresh token');
    this.backoff.reset();
    this.failedOpens = 0;
    this.setState('connected');
    this.queue.flush(socket);
    this.startHeartbeat();
  }

  /** A refreshed token takes over without a gap: a second socket joins everything, then the first one goes. */
  private swap(): void {
    if (this.stateValue === 'connected' && this.current && !this.establishing && this.wanted) void this.open('swap');
  }

  private retry(delayMs: number): void {
    this.setState('reconnecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.wanted && !this.establishing) void this.open('connect');
    }, delayMs);
  }

  /** The current socket went away with `code`. */
  private lost(code: number): void {
    if (!this.wanted) return;
    if (code === CLOSE.revoked) {
      void this.tokens.clear().finally(() => this.tokens.events.emit('signedOut', new FlametalkError('token_revoked', 'this device was signed out or revoked', 401)));
      return;
    }
    // A swap under way becomes the reconnect (if it fails, open() retries).
    if (this.establishing) return this.setState('reconnecting');
    if (code === CLOSE.tokenInvalid) this.forceRefresh = true;
    // Draining (the node is going away) and an expired token say nothing about the network: retry at once, but only once.
    const atOnce = (code === CLOSE.draining || code === CLOSE.tokenInvalid) && this.backoff.attempts === 0;
    const delay = this.backoff.next();
    this.retry(atOnce ? 0 : delay);
  }

  private onClosed(socket: Socket, code: number): void {
    // An establishing socket's end surfaces in open() through its failed calls.
    if (socket !== this.current) return;
    this.current = undefined;
    this.stopHeartbeat();
    this.lost(code);
  }

  private async rejoinAll(socket: Socket): Promise<void> {
    // Rooms joined while this runs are picked up by the next round.
    for (;;) {
      const todo = [...this.feeds.values()].filter((feed) => !socket.joinedRooms.has(feed.roomId));
      if (todo.length === 0) return;
      await Promise.all(todo.map((feed) => this.joinOn(socket, feed)));
    }
  }

  /** A join on the live socket; if it fails without a refusal, the connection is started over. */
  private joinLive(socket: Socket, feed: RoomFeed): void {
    this.joinOn(socket, feed).catch(() => {
      if (socket === this.current) socket.close(CLIENT_CLOSE.retry, 'a join failed');
    });
  }

  /**
   * Joins `feed`'s room on `socket` with `since` = the last message seen. Live messages that come
   * meanwhile are held and merged with `missed`; when the server recovered only the newest page,
   * history fills the gap first. A refusal ends the room; a connection failure is rethrown.
   */
  private async joinOn(socket: Socket, feed: RoomFeed): Promise<void> {
    const { roomId } = feed;
    socket.joinedRooms.add(roomId);
    socket.hold(roomId);
    try {
      await feed.baseline;
      const since = feed.since;
      const reply = await socket.call({ type: 'join', roomId, ...(since === undefined ? {} : { since }) }, this.options.requestTimeoutMs);
      if (reply.type !== 'joined') throw new FlametalkError('bad_response', `expected joined, got ${reply.type}`);
      let missed = reply.missed;
      if (!reply.recovered && since !== undefined) missed = [...await this.history.between(roomId, since, missed[0]?.messageId), ...missed];
      if (socket.closed) throw new FlametalkError('disconnected', 'the connection closed during the join');
      const held = socket.release(roomId);
      if (this.feeds.get(roomId) !== feed) return;
      const first = !feed.joinedOnce;
      feed.joined(reply.myId, reply.present, [...missed, ...held]);
      if (first && since === undefined) feed.baseline = this.baselineOf(feed);
      if (socket === this.current) this.queue.flush(socket, roomId);
    } catch (error) {
      socket.release(roomId);
      if (!isRefusal(error)) throw error;
      socket.joinedRooms.delete(roomId);
      if (this.feeds.get(roomId) === feed) {
        this.feeds.delete(roomId);
        this.queue.fail(error, roomId);
        feed.end(error);
      }
    }
  }

  /**
   * A room joined without `since` has nothing to resume from until a message arrives; its newest
   * message at join time is that point, so a disconnect before any message still recovers.
   */
  private async baselineOf(feed: RoomFeed): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return feed.noteBaseline(await this.history.newest(feed.roomId));
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
      }
    }
  }

  /**
   * My own message, as the room has it, goes to the room's listeners on its ack. The server also
   * sends it to my other sockets (a second one during a swap) and returns it in `missed` after a
   * reconnect that lost the ack; whichever comes first is delivered and the others dropped by id.
   */
  private deliverOwn(item: QueuedSend, ack: { messageId: string; createdAt: string }): void {
    const me = this.tokens.current;
    const feed = this.feeds.get(item.roomId);
    if (!me || !feed) return;
    const { messageType, contents, fileUrl } = item.command;
    feed.deliverOwn({
      messageId: ack.messageId, messageType, senderId: feed.myId || me.userId, nickname: me.nickname, roomId: item.roomId,
      contents, fileUrl: fileUrl ?? null, createdAt: ack.createdAt,
    });
  }

  private onFrame(socket: Socket, frame: IncomingFrame): void {
    // Ephemeral events come from one socket only, or a swap would deliver them twice; messages are de-duplicated by id.
    const primary = socket === this.current || (!this.current && socket === this.establishing);
    switch (frame.type) {
      case 'message':
        this.feeds.get(frame.roomId)?.deliver(frame.message);
        return;
      case 'presence':
        if (primary) this.feeds.get(frame.roomId)?.presence({ event: frame.event, userId: frame.userId });
        return;
      case 'typing':
        if (primary) this.feeds.get(frame.roomId)?.events.emit('typing', { userId: frame.userId });
        return;
      case 'read':
        if (primary) this.feeds.get(frame.roomId)?.events.emit('read', { userId: frame.userId, messageId: frame.messageId });
        return;
      case 'left': {
        // Unprompted: this user left the room (perhaps on another device) or was removed from it.
        const feed = this.feeds.get(frame.roomId);
        if (!feed) return;
        this.feeds.delete(frame.roomId);
        this.current?.joinedRooms.delete(frame.roomId);
        this.establishing?.joinedRooms.delete(frame.roomId);
        this.queue.fail(new FlametalkError('not_joined', `no longer in room ${frame.roomId}`), frame.roomId);
        feed.end(undefined);
        return;
      }
      case 'room':
        if (primary) this.events.emit('room', frame);
        return;
      case 'error':
        if (primary) this.events.emit('error', new FlametalkError(frame.code, frame.message));
        return;
      default:
        return;
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (!(this.options.heartbeatMs > 0)) return;
    this.heartbeatTimer = setInterval(() => {
      const socket = this.current;
      if (!socket) return;
      socket.call({ type: 'ping' }, this.options.requestTimeoutMs).catch((error: unknown) => {
        // A silent peer (a dead network path) never closes the socket by itself.
        if (error instanceof FlametalkError && error.code === 'timeout' && socket === this.current) {
          socket.close(CLIENT_CLOSE.heartbeatTimeout, 'no answer to ping');
        }
      });
    }, this.options.heartbeatMs);
    (this.heartbeatTimer as { unref?: () => void }).unref?.();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}

function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}
