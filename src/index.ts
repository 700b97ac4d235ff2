/** flametalk for embedding: `import { createChatServer } from 'flametalk'`. */
export { createChatServer } from './server.ts';
export type { ChatServer, ChatServerEvents, ChatServerOptions, ServerAddresses } from './server.ts';
export type { Config } from './config/schema.ts';
export { ConfigError, loadConfig } from './config/load.ts';
export { BackendUnreachableError } from './infra/reach.ts';
export type { AuthenticateFn, AuthRequest, Identity } from './auth/authenticator.ts';
export type { Ports } from './infra/drivers.ts';
export type * from './chat/model.ts';
export type { RoomEventBus, BusSubscription } from './infra/ports/bus.ts';
export type { PresenceStore, PresenceExit } from './infra/ports/presence.ts';
export type { ChatStore, HistoryQuery } from './infra/ports/store.ts';
export type { TokenStore, DeviceSession } from './infra/ports/tokens.ts';
export type { SendDeduplicator } from './infra/ports/dedup.ts';
export type { Pusher, PushNotification, PushOutcome } from './infra/ports/push.ts';
export { MemoryBus } from './infra/memory/bus.ts';
export { MemoryStore } from './infra/memory/store.ts';
export { LogPusher } from './infra/memory/push.ts';
