import type { Redis } from 'ioredis';
import type { SendDeduplicator } from '../ports/dedup.ts';
import { LuaScript } from './scripts.ts';

// Compare-and-delete: a late release must not drop a newer claim that reused the key.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`);

export interface RedisDedupOptions {
  prefix?: string;
}

/** Claims are `{p}dedup:{key}` strings holding the message id, expiring with their time to live. */
export class RedisDedup implements SendDeduplicator {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisDedupOptions = {},
  ) {
    this.prefix = options.prefix ?? 'flametalk:';
  }

  async claim(key: string, messageId: string, ttlMs: number): Promise<string | undefined> {
    const claimKey = this.claimKey(key);
    // PX takes a positive whole number; a claim shorter than that would be gone at once anyway.
    const ttl = Math.max(1, Math.ceil(ttlMs));
    // The earlier claim can expire between the failed SET and the GET; then the key is free again.
    for (let attempt = 0; attempt < 2; attempt++) {
      if ((await this.redis.set(claimKey, messageId, 'PX', ttl, 'NX')) === 'OK') return undefined;
      const existing = await this.redis.get(claimKey);
      if (existing !== null) return existing;
    }
    throw new Error(`dedup claim on ${key} kept expiring while it was read`);
  }

  async release(key: string, messageId: string): Promise<void> {
    await RELEASE.run(this.redis, [this.claimKey(key)], [messageId]);
  }

  async close(): Promise<void> {}

  private claimKey(key: string): string {
    return `${this.prefix}dedup:${key}`;
  }
}
