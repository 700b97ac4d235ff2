/**
 * `flametalk/drivers`: the cluster drivers, for hosts that embed flametalk and build their own
 * connections (`createChatServer({ drivers: { store, bus, presence, tokens, dedup, feed, pusher } })`).
 * A separate entry point, so that `flametalk` itself does not load kafkajs, cassandra-driver,
 * ioredis or firebase-admin for hosts that do not use them. Each driver passes the port's
 * conformance suite (test/conformance).
 */
export { RedisPresenceStore, type RedisPresenceOptions } from './infra/redis/presence.ts';
export { RedisTokenStore, type RedisTokenOptions } from './infra/redis/tokens.ts';
export { RedisDedup, type RedisDedupOptions } from './infra/redis/dedup.ts';
export { RedisFeed, type RedisFeedOptions } from './infra/redis/feed.ts';
export { connectRedis, logRedisErrors } from './infra/redis/client.ts';
export { KafkaBus, type KafkaBusOptions } from './infra/kafka/bus.ts';
export { CassandraStore, CassandraUnreachableError, type CassandraStoreOptions } from './infra/cassandra/store.ts';
export { FcmPusher, type FcmPusherOptions } from './infra/fcm/pusher.ts';
export { LoopbackAgent } from './infra/fcm/loopback-agent.ts';
export { openSqlitePorts, type SqlitePorts, type SqlitePortsOptions } from './infra/sqlite/open.ts';
export { BackendUnreachableError } from './infra/reach.ts';
export type { RoomFeed } from './infra/ports/feed.ts';
