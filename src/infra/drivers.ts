import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isClusterMode } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { presenceLeaseFor } from '../chat/presence-keeper.ts';
import { MemoryBus } from './memory/bus.ts';
import { MemoryDedup } from './memory/dedup.ts';
import { MemoryFeed } from './memory/feed.ts';
import { MemoryNodeIds } from './memory/node-ids.ts';
import { MemoryPresenceStore } from './memory/presence.ts';
import { LogPusher } from './memory/push.ts';
import { MemoryStore } from './memory/store.ts';
import { MemoryTokenStore } from './memory/tokens.ts';
import type { RoomEventBus } from './ports/bus.ts';
import type { SendDeduplicator } from './ports/dedup.ts';
import type { RoomFeed } from './ports/feed.ts';
import type { NodeIdLease, NodeIdRegistry } from './ports/node-ids.ts';
import type { JobLeases } from './ports/job-lease.ts';
import { MemoryJobLeases } from './memory/job-lease.ts';
import type { PresenceStore } from './ports/presence.ts';
import type { Pusher } from './ports/push.ts';
import { anyAccepts, BackendUnreachableError, reach } from './reach.ts';
import { connectRedis, logRedisErrors } from './redis/client.ts';
import type { ChatStore } from './ports/store.ts';
import type { PeopleStore } from './ports/people.ts';
import type { FileStore } from './ports/files.ts';
import { DiskFileStore } from './disk/files.ts';
import { join } from 'node:path';
import { MemoryPeopleStore } from './memory/people.ts';
import type { TokenStore } from './ports/tokens.ts';

/** One driver per port: what the actors and routes talk to. */
export interface Ports {
  presence: PresenceStore;
  bus: RoomEventBus;
  feed: RoomFeed;
  store: ChatStore;
  tokens: TokenStore;
  dedup: SendDeduplicator;
  pusher: Pusher;
  /** Profiles, friends, open rooms and file metadata: beside the chat store, in the same database. */
  people: PeopleStore;
  /** Uploaded files' bytes: S3 when S3_BUCKET is set (cluster), else DATA_DIR/files. */
  files: FileStore;
}

export interface OpenedPorts {
  ports: Ports;
  /** This node's snowflake node id, leased (from Redis in a cluster) so no other live node holds it. */
  nodeId: NodeIdLease;
  /** Leases on jobs one node at a time runs (the account purge): in Redis in a cluster, in-process otherwise. */
  jobLeases: JobLeases;
  /** The embedded data directory and the JWT key kept in it, when this node uses SQLite. */
  sqlite?: { dataDir: string; jwtSecret: { secret: string; source: string } };
  /** Each backend this node uses and whether it answers ('ok' or why not). */
  readiness(): Promise<Record<string, string>>;
  /** Closes the drivers this function opened (not the ones the caller passed in). */
  close(): Promise<void>;
}

async function check(probe: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref())]);
    return 'ok';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Picks each port's driver from configuration: a backend whose address is set is used, anything
 * else runs in-process. Drivers passed in `given` (embedding) win over both.
 */
export async function openPorts(config: Config, nodeName: string, logger: Logger, given: Partial<Ports> = {}): Promise<OpenedPorts> {
  const closers: Array<() => Promise<unknown>> = [];
  /** Drivers opened here, closed only if a later one fails to open (afterwards the server closes them). */
  const openedDrivers: Array<{ close(): Promise<void> }> = [];
  const probes: Record<string, () => Promise<unknown>> = {};
  let nodeId: NodeIdLease | undefined;
  let sqlite: OpenedPorts['sqlite'];
  let nodeIds: NodeIdRegistry = new MemoryNodeIds();
  let jobLeases: JobLeases = new MemoryJobLeases();
  try {
    if (config.redisUrl) {
      const { RedisPresenceStore } = await import('./redis/presence.ts');
      const { RedisTokenStore } = await import('./redis/tokens.ts');
      const { RedisDedup } = await import('./redis/dedup.ts');
      const { RedisFeed } = await import('./redis/feed.ts');
      const { RedisNodeIds } = await import('./redis/node-ids.ts');
      const redisLog = logger.child({ component: 'redis' });
      // Commands issued in one turn (a tick's sends, their claims and commits) share one write and one read.
      const client = await connectRedis(config.redisUrl, redisLog, 'commands', { enableAutoPipelining: true });
      closers.push(() => client.quit());
      const subscriber = logRedisErrors(client.duplicate({ enableAutoPipelining: false }), redisLog, 'revocations');
      closers.push(() => subscriber.quit());
      const prefix = config.redisPrefix;
      given.presence ??= new RedisPresenceStore(client, { nodeId: nodeName, leaseMs: presenceLeaseFor(config.presenceLeaseMs), prefix });
      if (!given.tokens) {
        const tokens = new RedisTokenStore(client, subscriber, { prefix });
        await tokens.subscribed;
        given.tokens = tokens;
      }
      given.dedup ??= new RedisDedup(client, { prefix });
      if (!given.feed) {
        // Sharded pub/sub needs a connection of its own in subscriber mode.
        const feedSubscriber = logRedisErrors(client.duplicate({ connectionName: `${prefix}feed-${nodeName}`, enableAutoPipelining: false }), redisLog, 'feed');
        closers.push(() => feedSubscriber.quit());
        given.feed = new RedisFeed(client, feedSubscriber, { prefix, window: config.feedWindow });
      }
      probes.redis = () => client.ping();
      nodeIds = new RedisNodeIds(client, { prefix, owner: nodeName });
      const { RedisJobLeases } = await import('./redis/job-lease.ts');
      jobLeases = new RedisJobLeases(client, { prefix, owner: nodeName });
    }
    if (config.cassandraContactPoints && !given.store) {
      const { CassandraStore, CassandraUnreachableError } = await import('./cassandra/store.ts');
      const contactPoints = config.cassandraContactPoints;
      const cassandraStore = await CassandraStore.connect({
        contactPoints, keyspace: config.cassandraKeyspace,
        localDataCenter: config.cassandraLocalDataCenter, replicationFactor: config.cassandraReplicationFactor, logger,
      }).catch((error: unknown) => {
        // Only a failed connection is "could not reach"; a keyspace or migration failure keeps its own message.
        if (error instanceof CassandraUnreachableError) {
          throw new BackendUnreachableError('Cassandra', contactPoints.join(','), 'CASSANDRA_CONTACT_POINTS', error.reason, { cause: error });
        }
        throw error;
      });
      given.store = cassandraStore;
      given.people ??= cassandraStore.people();
      const store = given.store;
      openedDrivers.push(store);
      probes.cassandra = () => store.ping();
    }
    if (config.kafkaBrokers && !given.bus) {
      const { KafkaBus } = await import('./kafka/bus.ts');
      const where = { backend: 'Kafka', address: config.kafkaBrokers.join(','), variable: 'KAFKA_BROKERS' } as const;
      await reach(where, () => anyAccepts(config.kafkaBrokers!));
      let abandoned = false;
      const connecting = KafkaBus.connect({
        brokers: config.kafkaBrokers, topic: config.kafkaTopic, partitions: config.kafkaPartitions,
        replicationFactor: config.kafkaReplicationFactor, clientId: `flametalk-${nodeName}`, logger,
        lingerMs: config.kafkaLingerMs, maxWaitMs: config.kafkaFetchMaxWaitMs, fetchMinBytes: config.kafkaFetchMinBytes,
        // Consumer groups are named after the topic: deployments that share a Kafka cluster but not a
        // topic must not share the persister and notifier groups (a group's leader assigns only its
        // own topic's partitions, so the other deployment's members would get none of theirs).
        groupPrefix: `${config.kafkaTopic}.`,
      });
      // kafkajs retries for longer than a start may take; a bus that connects after the deadline is closed again.
      void connecting.then((late) => (abandoned ? late.close() : undefined), () => undefined);
      const bus = await reach(where, () => connecting, {
        abandon: () => {
          abandoned = true;
        },
      });
      given.bus = bus;
      openedDrivers.push(bus);
      probes.kafka = () => bus.lag();
    }
    if (config.fcmServiceAccount && !given.pusher) {
      const { FcmPusher } = await import('./fcm/pusher.ts');
      const { LoopbackAgent } = await import('./fcm/loopback-agent.ts');
      given.pusher = new FcmPusher({
        serviceAccountPath: config.fcmServiceAccount,
        notificationBlock: config.pushNotificationBlock,
        ...(config.fcmLoopbackPort ? { httpAgent: new LoopbackAgent(config.fcmLoopbackPort) } : {}),
      });
    }
    const wantsSqlite = config.embeddedStorage === 'sqlite' && !isClusterMode(config);
    if (wantsSqlite && (!given.store || !given.tokens || !given.dedup)) {
      const { openSqlitePorts } = await import('./sqlite/open.ts');
      const opened = openSqlitePorts({ dataDir: config.dataDir, synchronous: config.sqliteSynchronous as 'NORMAL' | 'FULL', logger });
      given.store ??= opened.store;
      given.tokens ??= opened.tokens;
      given.dedup ??= opened.dedup;
      given.people ??= opened.people;
      // Whichever drivers were not taken still have to let go of the database and the lock.
      closers.push(() => opened.close());
      sqlite = { dataDir: opened.dataDir, jwtSecret: opened.jwtSecret };
    }
    if (config.s3Bucket && !given.files) {
      const { S3FileStore } = await import('./s3/files.ts');
      const files = await S3FileStore.connect({
        bucket: config.s3Bucket, region: config.s3Region, ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
        ...(config.s3AccessKeyId && config.s3SecretAccessKey ? { credentials: { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } } : {}),
      });
      given.files = files;
      openedDrivers.push(files);
      probes.s3 = () => files.ping();
    }
    const lease = await nodeIds.acquire(config.nodeId);
    closers.push(() => lease.release());
    nodeId = lease;
  } catch (error) {
    for (const driver of openedDrivers.reverse()) await driver.close().catch(() => undefined);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }

  const ports: Ports = {
    presence: given.presence ?? new MemoryPresenceStore({ nodeId: nodeName, leaseMs: presenceLeaseFor(config.presenceLeaseMs) }),
    bus: given.bus ?? new MemoryBus(),
    feed: given.feed ?? new MemoryFeed(undefined, { window: config.feedWindow, windowBytes: config.feedWindowBytes }),
    store: given.store ?? new MemoryStore(),
    tokens: given.tokens ?? new MemoryTokenStore(),
    dedup: given.dedup ?? new MemoryDedup(),
    pusher: given.pusher ?? new LogPusher(logger.child({ component: 'push' })),
    people: given.people ?? new MemoryPeopleStore(),
    files: given.files ?? new DiskFileStore(join(sqlite?.dataDir ?? config.dataDir, 'files')),
  };
  probes.store ??= () => ports.store.ping();
  return {
    ports,
    nodeId: nodeId!,
    jobLeases,
    ...(sqlite ? { sqlite } : {}),
    readiness: async () => Object.fromEntries(await Promise.all(Object.entries(probes).map(async ([name, probe]) => [name, await check(probe)]))),
    close: async () => {
      for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'closing a backend connection failed'));
    },
  };
}

/** A name for this node in presence entries and consumer groups: unique per process start. */
export function nodeName(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}
