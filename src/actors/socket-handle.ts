/**
 * What an actor may do with one client socket. The WebSocket layer implements it; every method
 * is a no-op once the socket closed, so actors never touch a dead uWS socket.
 */
export interface SocketHandle {
  readonly connectionId: string;
  readonly isOpen: boolean;
  send(frame: string): void;
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
}

export const roomTopic = (roomId: string): string => `room:${roomId}`;
