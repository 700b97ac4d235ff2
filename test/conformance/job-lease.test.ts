import { Redis } from 'ioredis';
import { MemoryJobLeases } from '../../src/infra/memory/job-lease.ts';
import { RedisJobLeases } from '../../src/infra/redis/job-lease.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { jobLeaseConformance } from './job-lease.ts';

jobLeaseConformance('memory', async () => {
  const shared = new Map();
  return { node: async () => new MemoryJobLeases(shared), close: async () => {} };
});

jobLeaseConformance('redis', async () => {
  const prefix = `${uniqueName('flametalk_test')}:`;
  const redis = new Redis(backendAddress('REDIS_URL'), { maxRetriesPerRequest: 1 });
  let nodes = 0;
  return {
    node: async () => new RedisJobLeases(redis, { prefix, owner: `node-${nodes++}` }),
    close: async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
});
