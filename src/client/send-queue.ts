import type { FlametalkError } from './errors.ts';
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

/**
 * Sends not yet acknowledged, oldest first. Each keeps its clientMsgId across attempts, so the
 * server stores it once however often it is resent (after a reconnect, or on two sockets during
 * a token swap).
 */
export class SendQueue {
  private readonly items: QueuedSend[] = [];

  get size(): number {
    return this.items.length;
  }

  add(item: QueuedSend): void {
    this.items.push(item);
  }

  has(item: QueuedSend): boolean {
    return this.items.includes(item);
  }

  /** Takes the item out; false when it was already settled. */
  take(item: QueuedSend): boolean {
    const index = this.items.indexOf(item);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** Items waiting to go out on `socket` (not already in flight on it), optionally of one room. */
  due(socket: Socket, roomId?: string): QueuedSend[] {
    return this.items.filter((item) => item.inFlight !== socket && (roomId === undefined || item.roomId === roomId));
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
