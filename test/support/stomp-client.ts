import { Client, type IFrame, type IMessage, type StompHeaders } from '@stomp/stompjs';
import WebSocket from 'ws';

/** The STOMP URL of a test node's WebSocket port. */
export const stompUrl = (wsPort: number, path = '/stomp/chat'): string => `ws://127.0.0.1:${wsPort}${path}`;

export interface StompTestClient {
  client: Client;
  /** The socket the client uses (for its negotiated subprotocol). */
  socket(): WebSocket;
  errors: IFrame[];
  closed: Promise<{ code: number }>;
  /** Subscribes and collects the parsed bodies of MESSAGE frames. */
  subscribe(roomId: string, headers?: StompHeaders): { id: string; messages: any[]; frames: IMessage[]; unsubscribe(): void };
  /** Publishes to /pub/chat/message and resolves with the RECEIPT (and the time it arrived). */
  send(body: Record<string, unknown>, headers?: StompHeaders): Promise<IFrame>;
  disconnect(): Promise<void>;
}

let receipts = 0;

/**
 * An @stomp/stompjs client over `ws` (Node 20 has no global WebSocket), connected: resolves at
 * CONNECTED, rejects on an ERROR frame or a closed socket before it.
 */
export function connectStomp(url: string, connectHeaders: StompHeaders, options: { heartbeatIncoming?: number; heartbeatOutgoing?: number; protocols?: string[] } = {}): Promise<StompTestClient> {
  let socket: WebSocket | undefined;
  let resolveClosed!: (value: { code: number }) => void;
  const closed = new Promise<{ code: number }>((resolve) => (resolveClosed = resolve));
  const errors: IFrame[] = [];
  const client = new Client({
    webSocketFactory: () => {
      socket = new WebSocket(url, options.protocols ?? ['v12.stomp', 'v11.stomp', 'v10.stomp'], { perMessageDeflate: false });
      socket.on('close', (code) => resolveClosed({ code }));
      return socket;
    },
    connectHeaders,
    reconnectDelay: 0,
    heartbeatIncoming: options.heartbeatIncoming ?? 0,
    heartbeatOutgoing: options.heartbeatOutgoing ?? 0,
    debug: () => undefined,
  });
  const failPending = new Set<(error: Error) => void>();
  const handle: StompTestClient = {
    client,
    socket: () => socket!,
    errors,
    closed,
    subscribe(roomId, headers = {}) {
      const messages: any[] = [];
      const frames: IMessage[] = [];
      const subscription = client.subscribe(`/sub/chat/room/${roomId}`, (message) => {
        frames.push(message);
        messages.push(JSON.parse(message.body));
      }, headers);
      return { id: subscription.id, messages, frames, unsubscribe: () => subscription.unsubscribe() };
    },
    send(body, headers = {}) {
      const receipt = `r-${++receipts}`;
      // An ERROR (the server closes the socket after one) answers the send instead of its receipt.
      const got = new Promise<IFrame>((resolve, reject) => {
        client.watchForReceipt(receipt, resolve);
        failPending.add(reject);
      });
      client.publish({ destination: '/pub/chat/message', body: JSON.stringify(body), headers: { ...headers, receipt } });
      return got;
    },
    async disconnect() {
      await client.deactivate();
    },
  };
  return new Promise((resolve, reject) => {
    client.onConnect = () => resolve(handle);
    client.onStompError = (frame) => {
      errors.push(frame);
      for (const fail of failPending) fail(Object.assign(new Error(`STOMP ERROR: ${frame.headers['message']}`), { frame }));
      failPending.clear();
      reject(Object.assign(new Error(`STOMP ERROR: ${frame.headers['message']}`), { frame }));
    };
    client.onWebSocketClose = () => reject(new Error('socket closed before CONNECTED'));
    client.activate();
  });
}

/** A raw STOMP socket (no library), for what a library would not send: pieces of frames, silence, garbage. */
export class RawStomp {
  readonly received: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(data.toString()));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string, protocols: string[] = ['v12.stomp']): Promise<RawStomp> {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    const raw = new RawStomp(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(raw));
      ws.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Frames received so far (heart-beat EOLs dropped). */
  frames(): string[] {
    return this.received.join('').split('\0').map((f) => f.replace(/^\n+/, '')).filter((f) => f !== '');
  }

  async waitFor(match: (frame: string) => boolean, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames().find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching STOMP frame; got ${JSON.stringify(this.frames().slice(-3))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export const connectFrame = (token: string, extra = ''): string =>
  `CONNECT\naccept-version:1.2\nhost:flametalk\nAuthorization:Bearer ${token}\n${extra}\n\0`;
