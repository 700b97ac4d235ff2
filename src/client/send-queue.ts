import { FlametalkError, isRefusal } from './errors.ts';
import type { Socket } from './socket.ts';
import type { Ack } from './types.ts';

export interface QueuedSend {
  readonly roomId: string;
  readonly clientMsgId: string;
  readonly command: {
    type: 'send';
    roomId: string;
    clientMsgId: string;
    messageType: 'TALK' | 'FILE';
    contents: string;
    fileUrl?: string;
  };
  /** The socket the latest attempt went out on, until it answers or goes away. */
  inFlight: Socket | undefined;
  resolve(ack: Ack): void;
  reject(error: FlametalkError): void;
}

export interface OutboxDeps {
  /** The socket sends go out on now, if any. */
  current(): Socket | undefined;
  /** Whether `roomId` is joined (and not being rejoined) on `socket`. */
  ready(socket: Socket, roomId: string): boolean;
  /** Called once per item, on its first ack. */
  acked(item: QueuedSend, ack: Ack): void;
}

/** How long a send the server could not make durable (`unavailable`) waits before it goes out again. */
const UNAVAILABLE_RETRY_MS = 1_000;

/**
 * Sends not yet acknowledged, oldest first. Each keeps its clientMsgId across attempts, so the
 * server stores it once however often it is resent (after a reconnect, or on two sockets during
 * a token swap).
 */
export class Outbox {
  private readonly items: QueuedSend[] = [];

  constructor(private readonly deps: OutboxDeps) {}

  get size(): number {
    return this.items.length;
  }

  /** Queues an item and sends it at once if its room is ready on the current socket. */
  add(item: QueuedSend): void {
    this.items.push(item);
    const socket = this.deps.current();
    if (socket && this.deps.ready(socket, item.roomId)) this.attempt(socket, item);
  }

  /** Sends on `socket` what is not already in flight on it (after a reconnect or a rejoin), optionally of one room. */
  flush(socket: Socket, roomId?: string): void {
    for (const item of this.items) {
      if (item.inFlight === socket || (roomId !== undefined && item.roomId !== roomId)) continue;
      if (this.deps.ready(socket, item.roomId)) this.attempt(socket, item);
    }
  }

  private attempt(socket: Socket, item: QueuedSend): void {
    item.inFlight = socket;
    // No timeout: a send waits for its ack or for its socket to go, then goes out again on the next one.
    socket.call(item.command, 0).then((reply) => {
      if (reply.type !== 'ack') throw new FlametalkError('bad_response', `expected an ack, got ${reply.type}`);
      if (!this.take(item)) return;
      const ack = { clientMsgId: reply.clientMsgId, messageId: reply.messageId, createdAt: reply.createdAt };
      this.deps.acked(item, ack);
      item.resolve(ack);
    }).catch((error: unknown) => {
      if (item.inFlight === socket) item.inFlight = undefined;
      if (!this.items.includes(item)) return;
      if (error instanceof FlametalkError && error.code === 'unavailable') {
        setTimeout(() => {
          const now = this.deps.current();
          if (now && this.items.includes(item) && item.inFlight === undefined && this.deps.ready(now, item.roomId)) this.attempt(now, item);
        }, UNAVAILABLE_RETRY_MS);
        return;
      }
      if (!isRefusal(error)) return; // the socket went: flushed again after the reconnect
      this.take(item);
      item.reject(error);
    });
  }

  private take(item: QueuedSend): boolean {
    const index = this.items.indexOf(item);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** Rejects and removes every item (of one room, or all). */
  fail(error: FlametalkError, roomId?: string): void {
    for (const item of [...this.items]) {
      if (roomId !== undefined && item.roomId !== roomId) continue;
      this.take(item);
      item.reject(error);
    }
  }
}
