import { Redis } from 'ioredis';
import { MemoryNodeIdHub, MemoryNodeIds } from '../../src/infra/memory/node-ids.ts';
import { RedisNodeIds } from '../../src/infra/redis/node-ids.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { nodeIdConformance } from './node-ids.ts';

nodeIdConformance('memory', async () => {
  const hub = new MemoryNodeIdHub();
  return { node: async () => new MemoryNodeIds(hub), steal: async (nodeId) => hub.revoke(nodeId), close: async () => {} };
});

nodeIdConformance('redis', async () => {
  const prefix = `${uniqueName('flametalk_test')}:`;
  const redis = new Redis(backendAddress('REDIS_URL'), { maxRetriesPerRequest: 1 });
  let nodes = 0;
  return {
    node: async (options) => new RedisNodeIds(redis, { prefix, owner: `node-${nodes++}`, ...options }),
    steal: async (nodeId) => void (await redis.set(`${prefix}node-id:${nodeId}`, 'thief', 'PX', 60_000)),
    close: async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
});
