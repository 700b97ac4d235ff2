import { Redis } from 'ioredis';
import { RedisDedup } from '../../src/infra/redis/dedup.ts';
import { RedisFeed } from '../../src/infra/redis/feed.ts';
import { RedisPresenceStore } from '../../src/infra/redis/presence.ts';
import { RedisTokenStore } from '../../src/infra/redis/tokens.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { dedupConformance } from './dedup.ts';
import { feedConformance } from './feed.ts';
import { presenceConformance } from './presence.ts';
import { tokenConformance } from './tokens.ts';

const url = backendAddress('REDIS_URL');

/** The connections of one cluster under test and the keys it made, all dropped at the end. */
class Backend {
  readonly prefix = `${uniqueName('flametalk_test')}:`;
  private readonly connections: Redis[] = [];

  /** A connection of its own for every node, as if each node were a separate process. */
  async connect(): Promise<Redis> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.connections.push(redis);
    await redis.connect();
    return redis;
  }

  async close(): Promise<void> {
    const admin = await this.connect();
    for await (const keys of admin.scanStream({ match: `${this.prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await admin.unlink(...keys);
    }
    await Promise.all(this.connections.map((redis) => redis.quit()));
  }
}

presenceConformance('redis', async () => {
  const backend = new Backend();
  return {
    node: async (nodeId, leaseMs = 30_000) =>
      new RedisPresenceStore(await backend.connect(), { nodeId, leaseMs, prefix: backend.prefix }),
    close: () => backend.close(),
  };
});

tokenConformance('redis', async () => {
  const backend = new Backend();
  const nodes: RedisTokenStore[] = [];
  return {
    node: async () => {
      const node = new RedisTokenStore(await backend.connect(), await backend.connect(), { prefix: backend.prefix });
      nodes.push(node);
      await node.subscribed;
      return node;
    },
    close: async () => {
      await Promise.all(nodes.map((node) => node.close()));
      await backend.close();
    },
  };
});

dedupConformance('redis', async () => {
  const backend = new Backend();
  return {
    node: async () => new RedisDedup(await backend.connect(), { prefix: backend.prefix }),
    close: () => backend.close(),
  };
});

feedConformance('redis', async () => {
  const backend = new Backend();
  const feeds: RedisFeed[] = [];
  return {
    node: async (options) => {
      const subscriber = await backend.connect();
      const feed = new RedisFeed(await backend.connect(), subscriber, { prefix: backend.prefix, ...options });
      feeds.push(feed);
      return feed;
    },
    close: async () => {
      for (const feed of feeds) await feed.close();
      await backend.close();
    },
  };
});
