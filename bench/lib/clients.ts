import WebSocket from 'ws';
import type { ClientSpec } from './gen-protocol.ts';

/**
 * Load-generator sockets. Both protocols ride on the same `ws` client, so the generator spends
 * the same work per delivery whatever the server: a delivery is recognised by a byte search for
 * the benchmark marker in the raw frame, without parsing its JSON.
 */

/** Message contents start with `bench:<load id>:<send time, µs>:`. */
export const MARK = Buffer.from('bench:');

/**
 * flametalk de-duplicates sends by (device, clientMsgId), and many sockets share one account and
 * device here: message ids must be unique across every socket of this process.
 */
let clientMsgIds = 0;
const clientMsgPrefix = `${process.pid.toString(36)}-`;
const nextClientMsgId = (): string => `${clientMsgPrefix}${(++clientMsgIds).toString(36)}`;

/** process.hrtime in microseconds: CLOCK_MONOTONIC, so comparable across this host's processes too. */
export const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export interface Sink {
  /** A message of load `loadId` sent at `sentMicros` reached `client`. */
  delivery(client: LoadClient, loadId: number, sentMicros: number): void;
  ack(client: LoadClient, ref: number): void;
  /** Something unexpected: a close, an error frame, a socket error. */
  event(kind: string, sample?: string): void;
}

/** Reads the decimal digits at `from`; returns the value and the index after the separator that ends them. */
function readNumber(buf: Buffer, from: number): [value: number, next: number] {
  let value = 0;
  let i = from;
  for (; i < buf.length; i++) {
    const digit = buf[i]! - 48;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return [value, i + 1];
}

function readMarker(client: LoadClient, sink: Sink, buf: Buffer, at: number): void {
  const [loadId, next] = readNumber(buf, at + MARK.length);
  const [sent] = readNumber(buf, next);
  sink.delivery(client, loadId, sent);
}

interface Pending {
  resolve(frame: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export abstract class LoadClient {
  ws: WebSocket | undefined;
  closing = false;
  protected refs = 0;
  protected readonly pending = new Map<number, Pending>();

  constructor(readonly spec: ClientSpec, protected readonly sink: Sink) {}

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  protected abstract onFrame(buf: Buffer): void;
  /** After the upgrade: the protocol's first round trip (Socket.IO CONNECT; a ping for the native protocol when asked). */
  protected abstract handshake(roundTrip: boolean): Promise<void>;
  abstract join(roomId: string): Promise<void>;
  /** Sends one chat message; returns its ref, echoed by the ack. */
  abstract send(roomId: string, contents: string): number;

  protected abstract url(): string;

  async connect(roundTrip: boolean): Promise<void> {
    const ws = new WebSocket(this.url(), {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: 20_000,
      ...(this.spec.localAddress ? { localAddress: this.spec.localAddress } : {}),
    });
    this.ws = ws;
    ws.on('message', (data) => this.onFrame(data as Buffer));
    ws.on('close', (code, reason) => {
      for (const [ref, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`closed ${code} ${reason.toString()}`));
        this.pending.delete(ref);
      }
      if (!this.closing) this.sink.event(`close ${code}${reason.length ? ` ${reason.toString()}` : ''}`);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    ws.on('error', (error) => this.sink.event('socket error', error.message));
    await this.handshake(roundTrip);
  }

  protected expect(ref: number, what: string, timeoutMs = 30_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error(`timeout: ${what}`));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
    });
  }

  protected settle(ref: number, frame: unknown, error?: Error): boolean {
    const pending = this.pending.get(ref);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.pending.delete(ref);
    if (error) pending.reject(error);
    else pending.resolve(frame);
    return true;
  }

  close(): Promise<void> {
    this.closing = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 5_000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }
}

/** flametalk's native protocol (§5.1); the bare uWS peer speaks the same frames. */
export class NativeClient extends LoadClient {
  protected url(): string {
    return this.spec.url;
  }

  protected async handshake(roundTrip: boolean): Promise<void> {
    if (!roundTrip) return;
    const ref = ++this.refs;
    const reply = this.expect(ref, 'pong');
    this.ws!.send(`{"type":"ping","ref":"${ref}"}`);
    await reply;
  }

  async join(roomId: string): Promise<void> {
    const ref = ++this.refs;
    const reply = this.expect(ref, `joined ${roomId}`);
    this.ws!.send(JSON.stringify({ type: 'join', ref: String(ref), roomId }));
    await reply;
  }

  send(roomId: string, contents: string): number {
    const ref = ++this.refs;
    this.ws!.send(`{"type":"send","ref":"${ref}","roomId":"${roomId}","clientMsgId":"${nextClientMsgId()}","messageType":"TALK","contents":"${contents}"}`);
    return ref;
  }

  protected onFrame(buf: Buffer): void {
    const at = buf.indexOf(MARK);
    if (at >= 0) return readMarker(this, this.sink, buf, at);
    const frame = JSON.parse(buf.toString()) as { type: string; ref?: string; code?: string; message?: string };
    const ref = Number(frame.ref);
    switch (frame.type) {
      case 'ack':
        return this.sink.ack(this, ref);
      case 'joined':
      case 'pong':
        this.settle(ref, frame);
        return;
      case 'error':
        if (!this.settle(ref, frame, new Error(`error frame ${frame.code}: ${frame.message}`))) {
          this.sink.event(`error frame ${frame.code}`, buf.toString().slice(0, 300));
        }
        return;
      default:
        return; // presence, typing, read: not measured
    }
  }
}

const ZERO = 0x30;
const TWO = 0x32;
const THREE = 0x33;
const FOUR = 0x34;

/**
 * Socket.IO 4 over a raw WebSocket (Engine.IO protocol 4, Socket.IO protocol 5): `0{…}` open,
 * `40` namespace connect, `2`/`3` ping/pong, `42[event,…]` events, `42<id>[…]`/`43<id>[…]` acks.
 */
export class SocketIoClient extends LoadClient {
  private connected: Pending | undefined;

  protected url(): string {
    return `${this.spec.url}/socket.io/?EIO=4&transport=websocket`;
  }

  protected handshake(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timeout: Socket.IO CONNECT')), 30_000);
      this.connected = { resolve: () => resolve(), reject, timer };
    });
  }

  async join(roomId: string): Promise<void> {
    const ref = ++this.refs;
    const reply = this.expect(ref, `join ${roomId}`);
    this.ws!.send(`42${ref}["join","${roomId}"]`);
    await reply;
  }

  send(roomId: string, contents: string): number {
    const ref = ++this.refs;
    this.ws!.send(`42${ref}["send",{"roomId":"${roomId}","clientMsgId":"${nextClientMsgId()}","messageType":"TALK","contents":"${contents}"}]`);
    return ref;
  }

  protected onFrame(buf: Buffer): void {
    const kind = buf[0];
    if (kind === FOUR) {
      const packet = buf[1];
      if (packet === TWO) {
        const at = buf.indexOf(MARK);
        if (at >= 0) return readMarker(this, this.sink, buf, at);
        return; // other events: not measured
      }
      if (packet === THREE) {
        const [id] = readNumber(buf, 2);
        if (!this.settle(id, undefined)) this.sink.ack(this, id);
        return;
      }
      if (packet === ZERO && this.connected) {
        clearTimeout(this.connected.timer);
        this.connected.resolve(undefined);
        this.connected = undefined;
        return;
      }
      if (packet === FOUR) {
        const error = new Error(`Socket.IO CONNECT_ERROR ${buf.toString().slice(2, 200)}`);
        if (this.connected) this.connected.reject(error);
        else this.sink.event('socket.io connect_error', buf.toString().slice(0, 200));
        return;
      }
      return;
    }
    if (kind === TWO) {
      this.ws!.send('3');
      return;
    }
    if (kind === ZERO) {
      this.ws!.send('40');
      return;
    }
    this.sink.event(`engine.io packet ${String.fromCharCode(kind ?? 63)}`, buf.toString().slice(0, 200));
  }
}

export function createClient(spec: ClientSpec, sink: Sink): LoadClient {
  return spec.protocol === 'socketio' ? new SocketIoClient(spec, sink) : new NativeClient(spec, sink);
}
