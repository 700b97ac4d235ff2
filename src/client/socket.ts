import { FlametalkError } from './errors.ts';
import type { ClientCommand, IncomingFrame, ServerFrame } from './protocol.ts';

/**
 * What the SDK needs of a WebSocket: the browser's, Node 22's global, or the `ws` package's.
 * Handlers take `any` events because each implementation types its event objects differently.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

type Reply = Exclude<ServerFrame, { type: 'message' | 'typing' | 'read' | 'presence' }>;
type Command = ClientCommand extends infer C ? (C extends { ref?: unknown } ? Omit<C, 'ref'> : never) : never;

interface Pending {
  resolve(frame: Reply): void;
  reject(error: FlametalkError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface SocketHandlers {
  frame(frame: IncomingFrame): void;
  /** Called once, when the socket is gone (closed by either side, failed to open, or abandoned). */
  closed(code: number, reason: string, wasOpen: boolean): void;
}

/**
 * One WebSocket connection: replies are matched to commands by `ref`; everything else goes to
 * `handlers.frame`. Messages of a room being joined are held back until its `joined` is handled,
 * so that the room's missed and live messages can be merged in order.
 */
export class Socket {
  readonly opened: Promise<void>;
  /** Rooms a join was sent for on this socket. */
  readonly joinedRooms = new Set<string>();
  private readonly held = new Map<string, Extract<IncomingFrame, { type: 'message' }>[]>();
  private readonly pending = new Map<string, Pending>();
  private readonly ws: WebSocketLike;
  private refs = 0;
  private isOpen = false;
  private done = false;
  private everOpened = false;
  private code: number | undefined;
  private rejectOpen: (error: FlametalkError) => void = () => undefined;

  constructor(Ctor: WebSocketConstructor, url: string, private readonly handlers: SocketHandlers) {
    this.ws = new Ctor(url);
    this.opened = new Promise((resolve, reject) => {
      this.rejectOpen = reject;
      this.ws.onopen = () => {
        this.isOpen = true;
        this.everOpened = true;
        resolve();
      };
    });
    this.ws.onclose = (event: { code?: number; reason?: string }) => this.finish(event.code ?? 1006, event.reason ?? '');
    this.opened.catch(() => undefined);
    this.ws.onerror = () => undefined; // a close event always follows, and carries what there is to know
    this.ws.onmessage = (event: { data?: unknown }) => this.receive(event.data);
  }

  get closed(): boolean {
    return this.done;
  }

  /** Whether the socket ever opened (a refused upgrade never does). */
  get wasOpened(): boolean {
    return this.everOpened;
  }

  /** The close code once closed. */
  get closeCode(): number | undefined {
    return this.code;
  }

  /** Sends a command and resolves with its reply; an `error` reply rejects with the server's code. */
  call(command: Command, timeoutMs: number): Promise<Reply> {
    if (this.done || !this.isOpen) return Promise.reject(new FlametalkError('disconnected', 'not connected'));
    const ref = `r${++this.refs}`;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? setTimeout(() => {
          this.pending.delete(ref);
          reject(new FlametalkError('timeout', `no reply to ${command.type} within ${timeoutMs} ms`));
        }, timeoutMs)
        : undefined;
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...command, ref }));
    });
  }

  /** Sends a command that has no reply (typing, read). */
  post(command: Command): void {
    if (!this.done && this.isOpen) this.ws.send(JSON.stringify(command));
  }

  hold(roomId: string): void {
    this.held.set(roomId, []);
  }

  isHolding(roomId: string): boolean {
    return this.held.has(roomId);
  }

  /** Ends the hold and hands back what arrived meanwhile. */
  release(roomId: string): Extract<IncomingFrame, { type: 'message' }>['message'][] {
    const frames = this.held.get(roomId) ?? [];
    this.held.delete(roomId);
    return frames.map((f) => f.message);
  }

  close(code: number, reason: string): void {
    if (this.done) return;
    try {
      this.ws.close(code, reason);
    } catch {
      // Closing a socket that never opened throws in some implementations; it is gone either way.
    }
    // Do not wait for the closing handshake: the peer may be unreachable (that may be why we close).
    this.finish(code, reason);
  }

  private receive(data: unknown): void {
    if (this.done || typeof data !== 'string') return;
    let frame: IncomingFrame;
    try {
      frame = JSON.parse(data) as IncomingFrame;
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.type !== 'string') return;
    const ref = 'ref' in frame ? frame.ref : undefined;
    const pending = ref === undefined ? undefined : this.pending.get(String(ref));
    if (pending) {
      this.pending.delete(String(ref));
      clearTimeout(pending.timer);
      if (frame.type === 'error') pending.reject(new FlametalkError(frame.code, frame.message));
      else pending.resolve(frame as Reply);
      return;
    }
    if (frame.type === 'message' && this.held.has(frame.roomId)) {
      this.held.get(frame.roomId)!.push(frame);
      return;
    }
    this.handlers.frame(frame);
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.code = code;
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.rejectOpen(new FlametalkError('disconnected', `the connection closed before it opened (${code})`));
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new FlametalkError('disconnected', `the connection closed (${code})`));
    }
    this.pending.clear();
    this.held.clear();
    this.handlers.closed(code, reason, wasOpen);
  }
}
