import type { BackoffOptions } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { FlametalkError } from './errors.ts';
import { HttpApi, type FetchLike } from './http.ts';
import type { MessageDto, RoomChangeFrame } from './protocol.ts';
import { Realtime } from './realtime.ts';
import type { RoomFeed, RoomHandle } from './room-feed.ts';
import type { WebSocketConstructor } from './socket.ts';
import { memoryStorage, type TokenStorage } from './storage.ts';
import { Tokens } from './tokens.ts';
import type {
  Ack, ConnectionState, CreateRoomInput, HistoryPage, Room, RoomSummary, SendOptions, Session, SignInInput, SignUpInput,
} from './types.ts';

export interface ClientOptions {
  /** The HTTP API, e.g. `http://localhost:8080`. */
  httpUrl: string;
  /** The native WebSocket endpoint, e.g. `ws://localhost:8081/ws`. */
  wsUrl: string;
  /** Names this device: each device has its own session on the server. */
  deviceId: string;
  /** Keeps the session and its rotating refresh token (default: memory; `localStorageAdapter()` in a browser). */
  storage?: TokenStorage;
  /** The WebSocket constructor (default `globalThis.WebSocket`; in Node 20 pass the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Reconnect delays: exponential from `baseMs` (500) up to `maxMs` (30 000), with jitter. */
  reconnect?: BackoffOptions;
  /** Ping interval that detects a dead connection, ms (default 25 000; 0 turns it off). */
  heartbeatMs?: number;
  /** How long a join, leave or ping waits for its reply, ms (default 10 000). */
  requestTimeoutMs?: number;
}

export interface ClientEvents {
  state: [ConnectionState];
  /** The session ended without the app asking: the device was revoked or its refresh token refused. Sign in again. */
  signedOut: [FlametalkError];
  /** A room was added, removed or updated for this user (on servers that send room events). */
  room: [RoomChangeFrame];
  /** A server error frame that answers no command of this client. */
  error: [FlametalkError];
}

export interface HistoryOptions {
  /** Messages per page (1–100, default 50). */
  pageSize?: number;
  /** Start below this message id (exclusive). */
  before?: string;
  /** Stop at this message id (exclusive): only what came after it, e.g. the last read one. */
  after?: string;
}

export interface JoinOptions {
  /** The last message id this app already has (from an earlier run): the join returns what came after it in `handle.missed`. */
  since?: string;
}

export interface FlametalkClient {
  readonly session: Session | undefined;
  readonly state: ConnectionState;
  /** Sends not acknowledged yet (queued while disconnected, or on their way). */
  readonly pendingSends: number;
  signUp(input: SignUpInput): Promise<Session>;
  signIn(input: SignInInput): Promise<Session>;
  /** Resumes the session kept in storage (after a reload); undefined when there is none. */
  restore(): Promise<Session | undefined>;
  /** Signs this device out on the server and forgets the session here. */
  signOut(): Promise<void>;
  createRoom(input: CreateRoomInput): Promise<Room>;
  listRooms(): Promise<RoomSummary[]>;
  getRoom(roomId: string): Promise<Room>;
  /** Pages of a room's history, newest first, each page fetched when the loop asks for it. */
  history(roomId: string, options?: HistoryOptions): AsyncIterableIterator<HistoryPage>;
  /** Opens the realtime connection (join and send do it for you); resolves once connected. */
  connect(): Promise<void>;
  join(roomId: string, options?: JoinOptions): Promise<RoomHandle>;
  send(roomId: string, contents: string, options?: SendOptions): Promise<Ack>;
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void;
  /** Closes the connection for good; pending sends fail with `closed`. The session stays in storage. */
  close(): void;
}

const ID = /^[0-9]{1,19}$/;

function badOption(message: string): FlametalkError {
  return new FlametalkError('bad_options', `createClient: ${message}`);
}

function checkUrl(value: unknown, name: string, protocols: string[]): string {
  if (typeof value !== 'string') throw badOption(`${name} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badOption(`${name} is not a valid URL: ${JSON.stringify(value)}`);
  }
  if (!protocols.includes(url.protocol)) throw badOption(`${name} must use ${protocols.join(' or ')} (got ${url.protocol})`);
  return value.replace(/\/+$/, '');
}

function checkId(value: unknown, name: string): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new FlametalkError('bad_request', `${name} must be a decimal id, got ${JSON.stringify(value)}`);
  return value;
}

/** Creates a flametalk client: HTTP API, token refresh and a self-healing realtime connection. */
export function createClient(options: ClientOptions): FlametalkClient {
  if (typeof options !== 'object' || options === null) throw badOption('options are required');
  const httpUrl = checkUrl(options.httpUrl, 'httpUrl', ['http:', 'https:']);
  const wsUrl = checkUrl(options.wsUrl, 'wsUrl', ['ws:', 'wss:']);
  const { deviceId } = options;
  if (typeof deviceId !== 'string' || !/^\S{1,128}$/.test(deviceId)) throw badOption('deviceId must be 1–128 characters without spaces');
  const givenFetch = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (!givenFetch) throw badOption('no fetch here: pass options.fetch');
  // Called as a plain function: browsers refuse a fetch invoked as a method of another object ("Illegal invocation").
  const fetchImpl: FetchLike = (input, init) => givenFetch(input, init);

  const http = new HttpApi(httpUrl, fetchImpl);
  const tokens = new Tokens(http, options.storage ?? memoryStorage(), `flametalk.session.${deviceId}`);
  const events = new Emitter<ClientEvents>();
  const handles = new WeakMap<RoomFeed, RoomHandle>();

  /** An authenticated request; a 401 gets one refresh and one retry. */
  async function authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await tokens.fresh();
    try {
      return await http.request<T>(method, path, { token, body });
    } catch (error) {
      if (!(error instanceof FlametalkError) || error.status !== 401) throw error;
      return http.request<T>(method, path, { token: await tokens.refresh(), body });
    }
  }

  async function historyPage(roomId: string, query: { before?: string; after?: string; limit: number }): Promise<HistoryPage> {
    const params = new URLSearchParams({ limit: String(query.limit) });
    if (query.before !== undefined) params.set('before', query.before);
    if (query.after !== undefined) params.set('lastReadMessageId', query.after);
    return authed<HistoryPage>('GET', `/api/chat/history/${roomId}?${params.toString()}`);
  }

  const realtime = new Realtime({
    wsUrl,
    WebSocket: options.WebSocket,
    reconnect: options.reconnect ?? {},
    heartbeatMs: options.heartbeatMs ?? 25_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
  }, tokens, {
    async newest(roomId) {
      return (await historyPage(roomId, { limit: 1 })).messages[0]?.messageId;
    },
    async between(roomId, after, before) {
      const messages: MessageDto[] = [];
      let cursor = before;
      for (;;) {
        const page = await historyPage(roomId, { after, before: cursor, limit: 100 });
        messages.push(...page.messages);
        if (page.nextCursor === null) return messages.reverse();
        cursor = page.nextCursor;
      }
    },
  });
  realtime.events.on('state', (state) => events.emit('state', state));
  realtime.events.on('room', (frame) => events.emit('room', frame));
  realtime.events.on('error', (error) => events.emit('error', error));
  tokens.events.on('signedOut', (reason) => events.emit('signedOut', reason));

  function handleOf(feed: RoomFeed): RoomHandle {
    let handle = handles.get(feed);
    if (!handle) {
      const { roomId } = feed;
      handle = {
        roomId,
        get myId() {
          return feed.myId;
        },
        get present() {
          return feed.present;
        },
        get missed() {
          return feed.missed;
        },
        on: (event, listener) => feed.events.on(event, listener),
        send: (contents, sendOptions) => realtime.send(roomId, contents, sendOptions),
        typing: () => realtime.typing(roomId),
        markRead: (messageId) => realtime.read(roomId, checkId(messageId, 'messageId')),
        leave: () => realtime.leave(roomId),
      };
      handles.set(feed, handle);
    }
    return handle;
  }

  async function signedIn(data: Session & { accessToken: string; refreshToken: string }): Promise<Session> {
    const session = { userId: data.userId, nickname: data.nickname };
    await tokens.accept(session, data);
    return session;
  }

  return {
    get session() {
      return tokens.current;
    },
    get state() {
      return realtime.state;
    },
    get pendingSends() {
      return realtime.pendingSends;
    },
    async signUp(input) {
      return signedIn(await http.request('POST', '/api/auth/signup', { body: { ...input, deviceId } }));
    },
    async signIn(input) {
      return signedIn(await http.request('POST', '/api/auth/signin', { body: { email: input.email, password: input.password, deviceId } }));
    },
    restore: () => tokens.restore(),
    async signOut() {
      const signedOut = new FlametalkError('signed_out', 'signed out');
      // The socket goes first, so the server's 4003 for this device is not taken for a revocation.
      realtime.stop('idle', signedOut);
      try {
        if (tokens.current) await authed('POST', '/api/auth/signout');
      } catch (error) {
        if (!(error instanceof FlametalkError && error.status === 401)) throw error;
      } finally {
        await tokens.clear();
      }
    },
    createRoom: (input) => authed<Room>('POST', '/api/chatroom', input),
    listRooms: () => authed<RoomSummary[]>('GET', '/api/chatroom'),
    getRoom: async (roomId) => authed<Room>('GET', `/api/chatroom/${checkId(roomId, 'roomId')}`),
    async *history(roomId, historyOptions = {}) {
      checkId(roomId, 'roomId');
      const limit = historyOptions.pageSize ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new FlametalkError('bad_request', 'pageSize must be an integer from 1 to 100');
      let before = historyOptions.before;
      for (;;) {
        const page = await historyPage(roomId, { before, after: historyOptions.after, limit });
        if (page.messages.length > 0) yield page;
        if (page.nextCursor === null) return;
        before = page.nextCursor;
      }
    },
    connect: () => realtime.connect(),
    async join(roomId, joinOptions = {}) {
      checkId(roomId, 'roomId');
      if (joinOptions.since !== undefined) checkId(joinOptions.since, 'since');
      return handleOf(await realtime.join(roomId, joinOptions.since));
    },
    send: (roomId, contents, sendOptions) => realtime.send(roomId, contents, sendOptions),
    on: (event, listener) => events.on(event, listener),
    close() {
      tokens.stop();
      realtime.stop('closed', new FlametalkError('closed', 'the client is closed'));
    },
  };
}
