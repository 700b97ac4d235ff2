import type { Redis } from 'ioredis';
import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { ClaimOptions, ClaimResult, SendDeduplicator } from '../ports/dedup.ts';
import { LuaScript } from './scripts.ts';

/*
 * A claim is the hash {p}dedup:{key}: `id` (the message id), and until it is committed `msg` (the
 * JSON of the message, for a resend that must publish it again) and `lease` (epoch ms until which
 * the claimer may still be publishing). Leases are read against Redis's own clock (TIME), so nodes
 * whose clocks disagree still agree on whether a lease is alive. One script per operation: each
 * reads and writes the claim atomically.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** ARGV: messageId, messageJson, leaseMs, ttlMs. Returns {'won'} | {'committed', id} | {'pending', id} | {'resume', json}. */
const CLAIM = new LuaScript(`${NOW}
local leaseMs, ttlMs = tonumber(ARGV[3]), tonumber(ARGV[4])
local claim = redis.call('HMGET', KEYS[1], 'id', 'msg', 'lease')
if claim[1] then
  if not claim[2] then return {'committed', claim[1]} end
  if tonumber(claim[3]) > now then return {'pending', claim[1]} end
  redis.call('HSET', KEYS[1], 'lease', tostring(now + leaseMs))
  -- The resumer's lease must not outlive the claim, or a later send could win it with a new id.
  if redis.call('PTTL', KEYS[1]) < leaseMs then redis.call('PEXPIRE', KEYS[1], leaseMs) end
  return {'resume', claim[2]}
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'msg', ARGV[2], 'lease', tostring(now + leaseMs))
redis.call('PEXPIRE', KEYS[1], math.max(ttlMs, leaseMs))
return {'won'}
`);

/** ARGV: messageId, leaseMs. Extends a live lease of an uncommitted claim held by that id. */
const RENEW = new LuaScript(`${NOW}
local claim = redis.call('HMGET', KEYS[1], 'id', 'msg', 'lease')
if claim[1] ~= ARGV[1] or not claim[2] or tonumber(claim[3]) <= now then return 0 end
local leaseMs = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lease', tostring(now + leaseMs))
if redis.call('PTTL', KEYS[1]) < leaseMs then redis.call('PEXPIRE', KEYS[1], leaseMs) end
return 1
`);

/** ARGV: messageId, ttlMs. Only the id that holds the claim commits it. */
const COMMIT = new LuaScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'msg', 'lease')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** ARGV: messageId. Ends the lease of an uncommitted claim held by that id, so the next claim resumes it. */
const ABANDON = new LuaScript(`
local claim = redis.call('HMGET', KEYS[1], 'id', 'msg')
if claim[1] ~= ARGV[1] or not claim[2] then return 0 end
redis.call('HSET', KEYS[1], 'lease', '0')
return 1
`);

type ClaimReply = ['won'] | ['committed' | 'pending', string] | ['resume', string];

/** PEXPIRE takes a positive whole number; a shorter time would be gone at once anyway. */
function millis(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

export interface RedisDedupOptions {
  prefix?: string;
}

export class RedisDedup implements SendDeduplicator {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisDedupOptions = {},
  ) {
    this.prefix = options.prefix ?? 'flametalk:';
  }

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    const reply = (await CLAIM.run(this.redis, [this.claimKey(key)], [
      message.messageId, JSON.stringify(message), millis(options.leaseMs), millis(options.ttlMs),
    ])) as ClaimReply;
    switch (reply[0]) {
      case 'won':
        return { outcome: 'won' };
      case 'resume':
        return { outcome: 'resume', message: JSON.parse(reply[1]) as ChatMessage };
      default:
        return { outcome: reply[0], messageId: reply[1] };
    }
  }

  async renew(key: string, messageId: MessageId, leaseMs: number): Promise<void> {
    await RENEW.run(this.redis, [this.claimKey(key)], [messageId, millis(leaseMs)]);
  }

  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    await COMMIT.run(this.redis, [this.claimKey(key)], [messageId, millis(ttlMs)]);
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    await ABANDON.run(this.redis, [this.claimKey(key)], [messageId]);
  }

  async close(): Promise<void> {}

  private claimKey(key: string): string {
    return `${this.prefix}dedup:${key}`;
  }
}
