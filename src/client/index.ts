/**
 * `flametalk/client`: a typed, dependency-free client for flametalk's HTTP API and native
 * WebSocket protocol, for browsers and Node (pass the `ws` package as `WebSocket` on Node 20).
 */
export { createClient } from './client.ts';
export type { ClientEvents, ClientOptions, FlametalkClient, HistoryOptions, JoinOptions } from './client.ts';
export { FlametalkError, isFlametalkError } from './errors.ts';
export type { ClientErrorCode, FlametalkErrorCode } from './errors.ts';
export { localStorageAdapter, memoryStorage } from './storage.ts';
export type { TokenStorage, WebStorageLike } from './storage.ts';
export type { PresenceEvent, RoomEvents, RoomHandle } from './room-feed.ts';
export type { WebSocketConstructor, WebSocketLike } from './socket.ts';
export type { BackoffOptions } from './backoff.ts';
export type { FetchLike } from './http.ts';
export { CLOSE } from './protocol.ts';
export type { ClientCommand, MessageDto, RoomChangeFrame, ServerFrame } from './protocol.ts';
export type {
  Ack, ConnectionState, CreateRoomInput, HistoryPage, Room, RoomMember, RoomSummary, SendOptions, Session, SignInInput, SignUpInput,
} from './types.ts';
