import type { Redis } from 'ioredis';
import type { JobLeases } from '../ports/job-lease.ts';
import { LuaScript } from './scripts.ts';

const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export interface RedisJobLeaseOptions {
  prefix: string;
  /** Who holds a lease (this node's name), so that only the holder releases it. */
  owner: string;
}

/** Job leases in Redis: `SET NX PX`, released only by their holder, as node ids are (redis/node-ids.ts). */
export class RedisJobLeases implements JobLeases {
  constructor(private readonly redis: Redis, private readonly options: RedisJobLeaseOptions) {}

  async tryAcquire(job: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key(job), this.options.owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async release(job: string): Promise<void> {
    await RELEASE.run(this.redis, [this.key(job)], [this.options.owner]);
  }

  private key(job: string): string {
    return `${this.options.prefix}job-lease:${job}`;
  }
}
