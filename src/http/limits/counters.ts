import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

/** A fixed-window counter per key: the window starts at the key's first count. */
export interface Counters {
  incr(key: string, windowMs: number): Promise<Count>;
  /** The count without adding to it (0 when the window is over). */
  read(key: string): Promise<Count>;
  /** Takes one back (an attempt counted up front that turned out fine); never below 0, window unchanged. */
  forgive(key: string): Promise<void>;
  /** Forgets the key: its next count starts a fresh window. */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface Count {
  current: number;
  /** Milliseconds until the window ends. */
  ttl: number;
}

/** Counters of one process. Bounded: past `maxKeys` the oldest keys are dropped, so a flood of new keys cannot grow memory. */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, { current: number; endsAt: number }>();

  constructor(private readonly maxKeys = 100_000, private readonly now: () => number = Date.now) {}

  async incr(key: string, windowMs: number): Promise<Count> {
    const now = this.now();
    let entry = this.windows.get(key);
    if (!entry || entry.endsAt <= now) {
      this.windows.delete(key);
      entry = { current: 0, endsAt: now + windowMs };
      this.windows.set(key, entry);
      if (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    entry.current++;
    return { current: entry.current, ttl: entry.endsAt - now };
  }

  async read(key: string): Promise<Count> {
    const entry = this.windows.get(key);
    const now = this.now();
    return entry && entry.endsAt > now ? { current: entry.current, ttl: entry.endsAt - now } : { current: 0, ttl: 0 };
  }

  async forgive(key: string): Promise<void> {
    const entry = this.windows.get(key);
    if (entry && entry.current > 0) entry.current--;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }
}

/** INCR, and on the first count of a window PEXPIRE: one round trip, atomic across nodes. */
const INCR_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {current, ttl}`;

const READ_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(current), ttl}`;

const FORGIVE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > 0 then redis.call('DECR', KEYS[1]) end
return 0`;

/** Counters in Redis: every node sees the same counts, so limits hold across the cluster. */
export class RedisCounters implements Counters {
  constructor(private readonly client: Redis, private readonly prefix: string) {}

  async incr(key: string, windowMs: number): Promise<Count> {
    const [current, ttl] = await this.client.eval(INCR_SCRIPT, 1, this.prefix + key, windowMs) as [number, number];
    return { current, ttl };
  }

  async read(key: string): Promise<Count> {
    const [current, ttl] = await this.client.eval(READ_SCRIPT, 1, this.prefix + key) as [number, number];
    return { current, ttl };
  }

  async forgive(key: string): Promise<void> {
    await this.client.eval(FORGIVE_SCRIPT, 1, this.prefix + key);
  }

  async reset(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/**
 * @fastify/rate-limit's store contract over our counters. Every limiter's key generator names
 * its limit (`signup:1.2.3.4`), so one store serves every route and `child` needs no prefix.
 */
export function rateLimitStore(counters: Counters): FastifyRateLimitStoreCtor {
  const store: FastifyRateLimitStore & { read: FastifyRateLimitStore['incr'] } = {
    incr(key, callback, timeWindow) {
      counters.incr(key, timeWindow).then((count) => callback(null, count), (error: Error) => callback(error));
    },
    read(key, callback) {
      counters.read(key).then((count) => callback(null, count), (error: Error) => callback(error));
    },
    child: () => store,
  };
  return class {
    constructor() {
      return store;
    }
  } as unknown as FastifyRateLimitStoreCtor;
}
