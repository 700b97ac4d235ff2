import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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

describe('Redis token keys', () => {
  it('all expire: the used hashes with the session, the last rotation with its reuse grace', async () => {
    const backend = new Backend();
    const tokens = new RedisTokenStore(await backend.connect(), await backend.connect(), { prefix: backend.prefix });
    try {
      const HOUR = 3_600_000;
      const now = Date.now();
      const session = { sessionId: 's-ttl', userId: 'u1', deviceId: 'phone', createdAt: now, expiresAt: now + HOUR };
      await tokens.createSession(session, 'h1');
      for (const [i, [presented, hash]] of [['h1', 'h2'], ['h2', 'h3']].entries()) {
        const rotated = await tokens.rotate(session.sessionId, presented!, { hash: hash!, rotation: { nonce: `n${i}`, at: now + i }, expiresAt: now + HOUR }, 5_000);
        assert.equal(rotated.outcome, 'rotated');
      }
      const admin = await backend.connect();
      const ttls = new Map<string, number>();
      for await (const keys of admin.scanStream({ match: `${backend.prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
        for (const key of keys) ttls.set(key.slice(backend.prefix.length), await admin.pttl(key));
      }
      assert.deepEqual([...ttls.keys()].sort(), [
        'device-session:u1:phone', 'last-rotation:s-ttl', 'session:s-ttl', 'used-refresh:s-ttl', 'user-sessions:u1',
      ]);
      for (const [key, ttl] of ttls) assert.ok(ttl > 0 && ttl <= HOUR, `${key} expires (PTTL ${ttl})`);
      assert.ok(ttls.get('last-rotation:s-ttl')! <= 5_000, 'the last rotation is kept for the grace only');
      assert.deepEqual(await admin.zrange(`${backend.prefix}used-refresh:s-ttl`, '0', '-1'), ['h1', 'h2'], 'in rotation order');
    } finally {
      await tokens.close();
      await backend.close();
    }
  });
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
