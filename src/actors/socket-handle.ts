import type { ServerFrame } from '../ws/native-protocol.ts';

/**
 * What an actor may do with one client socket. The WebSocket layer implements it; every method
 * is a no-op once the socket closed, so actors never touch a dead uWS socket.
 */
export interface SocketHandle {
  readonly connectionId: string;
  readonly isOpen: boolean;
  /** A reply or event for this socket alone, encoded in the socket's own protocol (native JSON, STOMP, presence). */
  reply(frame: ServerFrame): void;
  end(code: number, reason: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Publishes to a topic's subscribers except this socket. */
  publishToOthers(topic: string, frame: string): void;
}

/** Fan-out to every local subscriber of a topic: one call, the loop runs in C++. */
export interface TopicPublisher {
  publish(topic: string, frame: string): void;
  subscribers(topic: string): number;
  /**
   * The same room event for the sockets of the compatibility protocols (STOMP, presence), which
   * subscribe to their own topics: encoded once per protocol, only when that protocol has subscribers.
   */
  publishCompat?(roomId: string, frame: ServerFrame): void;
}

export const roomTopic = (roomId: string): string => `room:${roomId}`;
