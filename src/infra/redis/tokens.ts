import type { Redis } from 'ioredis';
import type { UserId } from '../../chat/model.ts';
import { USED_REFRESH_HASHES_KEPT, type DeviceSession, type NextRefresh, type RevocationListener, type RotateResult, type TokenStore } from '../ports/tokens.ts';
import { LuaScript } from './scripts.ts';

/*
 * Keys, with {p} the prefix; every one of them expires with the session it belongs to:
 *   {p}session:{id}                  HASH userId, deviceId, createdAt, expiresAt, current (refresh hash)
 *   {p}used-refresh:{id}             ZSET of refresh hashes already rotated away, scored by when; the newest USED_REFRESH_HASHES_KEPT
 *   {p}last-rotation:{id}            HASH previous (the hash it rotated away), nonce, at; expires with the reuse grace
 *   {p}device-session:{user}:{device} the session id of the device
 *   {p}user-sessions:{user}          SET of session ids (may hold expired ones; sessionsOf prunes them)
 * Revocations are published on {p}revocations as the JSON of the DeviceSession.
 *
 * The scripts derive keys from stored fields, so they need one Redis, not Redis Cluster. They
 * publish from inside Lua so that a revocation and its announcement cannot be separated by a crash.
 */

const COMMON = `
local prefix = ARGV[1]

-- Keeps a set at least as long as its longest-lived session; a key without TTL is fresh from SADD.
local function outlive(key, at)
  if redis.call('PTTL', key) == -1 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end

-- Returns userId, deviceId, createdAt, expiresAt of the session it deleted, or nil.
local function revoke(id)
  local key = prefix .. 'session:' .. id
  local s = redis.call('HMGET', key, 'userId', 'deviceId', 'createdAt', 'expiresAt')
  if not s[1] then return nil end
  redis.call('DEL', key, prefix .. 'used-refresh:' .. id, prefix .. 'last-rotation:' .. id)
  local deviceKey = prefix .. 'device-session:' .. s[1] .. ':' .. s[2]
  if redis.call('GET', deviceKey) == id then redis.call('DEL', deviceKey) end
  redis.call('SREM', prefix .. 'user-sessions:' .. s[1], id)
  -- createdAt and expiresAt are stored as JavaScript wrote them, so they are valid JSON numbers.
  redis.call('PUBLISH', prefix .. 'revocations', '{"sessionId":' .. cjson.encode(id)
    .. ',"userId":' .. cjson.encode(s[1]) .. ',"deviceId":' .. cjson.encode(s[2])
    .. ',"createdAt":' .. s[3] .. ',"expiresAt":' .. s[4] .. '}')
  return s
end
`;

/** ARGV: prefix, sessionId, userId, deviceId, createdAt, expiresAt, refreshHash. Returns the replaced session. */
const CREATE = new LuaScript(`${COMMON}
local id, user, device, createdAt, expiresAt, hash = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local deviceKey = prefix .. 'device-session:' .. user .. ':' .. device
local previous = redis.call('GET', deviceKey)
local replaced = false
if previous then
  local s = revoke(previous)
  if s then replaced = {previous, s[1], s[2], s[3], s[4]} end
end
local key = prefix .. 'session:' .. id
redis.call('DEL', key, prefix .. 'used-refresh:' .. id, prefix .. 'last-rotation:' .. id)
redis.call('HSET', key, 'userId', user, 'deviceId', device, 'createdAt', createdAt, 'expiresAt', expiresAt, 'current', hash)
redis.call('PEXPIREAT', key, expiresAt)
redis.call('SET', deviceKey, id)
redis.call('PEXPIREAT', deviceKey, expiresAt)
local userKey = prefix .. 'user-sessions:' .. user
redis.call('SADD', userKey, id)
outlive(userKey, expiresAt)
return replaced
`);

/**
 * ARGV: prefix, sessionId, presentedHash, nextHash, expiresAt, nonce, at, graceMs, usedKept.
 * Returns {outcome, userId, deviceId, createdAt, expiresAt, nonce, at}.
 */
const ROTATE = new LuaScript(`${COMMON}
local id, presented, nextHash, expiresAt, nonce, at, graceMs = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local key, usedKey, lastKey = prefix .. 'session:' .. id, prefix .. 'used-refresh:' .. id, prefix .. 'last-rotation:' .. id
local last = redis.call('HMGET', lastKey, 'previous', 'nonce', 'at')
if last[1] == presented and tonumber(at) < tonumber(last[3]) + graceMs then
  local s = redis.call('HMGET', key, 'userId', 'deviceId', 'createdAt', 'expiresAt')
  if not s[1] then return {'unknown'} end
  return {'rotated', s[1], s[2], s[3], s[4], last[2], last[3]}
end
if redis.call('ZSCORE', usedKey, presented) then
  local s = revoke(id)
  if s then return {'reused', s[1], s[2], s[3], s[4]} end
  return {'unknown'}
end
local s = redis.call('HMGET', key, 'userId', 'deviceId', 'createdAt', 'current')
if not s[1] or s[4] ~= presented then return {'unknown'} end
redis.call('ZADD', usedKey, at, presented)
redis.call('ZREMRANGEBYRANK', usedKey, 0, -(tonumber(ARGV[9]) + 1))
redis.call('HSET', key, 'current', nextHash, 'expiresAt', expiresAt)
redis.call('PEXPIREAT', key, expiresAt)
redis.call('PEXPIREAT', usedKey, expiresAt)
redis.call('DEL', lastKey)
if graceMs > 0 then
  redis.call('HSET', lastKey, 'previous', presented, 'nonce', nonce, 'at', at)
  redis.call('PEXPIRE', lastKey, graceMs)
end
local deviceKey = prefix .. 'device-session:' .. s[1] .. ':' .. s[2]
if redis.call('GET', deviceKey) == id then redis.call('PEXPIREAT', deviceKey, expiresAt) end
outlive(prefix .. 'user-sessions:' .. s[1], expiresAt)
return {'rotated', s[1], s[2], s[3], expiresAt, nonce, at}
`);

/** ARGV: prefix, sessionId. Returns {userId, deviceId, createdAt, expiresAt} or nil. */
const REVOKE = new LuaScript(`${COMMON}
return revoke(ARGV[2])
`);

type SessionFields = [userId: string, deviceId: string, createdAt: string, expiresAt: string];

function toSession(sessionId: string, [userId, deviceId, createdAt, expiresAt]: SessionFields): DeviceSession {
  return { sessionId, userId, deviceId, createdAt: Number(createdAt), expiresAt: Number(expiresAt) };
}

export interface RedisTokenOptions {
  prefix?: string;
}

export class RedisTokenStore implements TokenStore {
  private readonly prefix: string;
  private readonly channel: string;
  private readonly listeners = new Set<RevocationListener>();
  /**
   * Every script waits for this, so that the node hears the revocations it makes itself: they
   * reach it through Redis like everyone else's.
   */
  readonly subscribed: Promise<void>;

  /** `subscriber` is put in subscriber mode; neither connection is closed by this store. */
  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    options: RedisTokenOptions = {},
  ) {
    this.prefix = options.prefix ?? 'flametalk:';
    this.channel = `${this.prefix}revocations`;
    this.subscriber.on('message', this.onMessage);
    this.subscribed = this.subscriber.subscribe(this.channel).then(() => undefined);
    // Callers see a failed subscription through the scripts that wait for it; this only keeps it
    // from counting as unhandled (and ending the process) while no command is waiting.
    this.subscribed.catch(() => {});
  }

  async createSession(session: DeviceSession, refreshHash: string): Promise<DeviceSession | undefined> {
    const { sessionId, userId, deviceId, createdAt, expiresAt } = session;
    const replaced = (await this.run(CREATE, [sessionId, userId, deviceId, createdAt, expiresAt, refreshHash])) as
      | [string, ...SessionFields]
      | null;
    return replaced ? toSession(replaced[0], replaced.slice(1) as SessionFields) : undefined;
  }

  async rotate(sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number): Promise<RotateResult> {
    const { hash, expiresAt, rotation } = next;
    const [outcome, userId, deviceId, createdAt, expires, nonce, at] = (await this.run(ROTATE, [
      sessionId, presentedHash, hash, expiresAt, rotation.nonce, rotation.at, graceMs, USED_REFRESH_HASHES_KEPT,
    ])) as ['rotated' | 'reused' | 'unknown', ...SessionFields, string, string];
    if (outcome === 'unknown') return { outcome };
    const session = toSession(sessionId, [userId, deviceId, createdAt, expires]);
    return outcome === 'reused' ? { outcome, session } : { outcome, session, rotation: { nonce, at: Number(at) } };
  }

  async revoke(sessionId: string): Promise<DeviceSession | undefined> {
    const fields = (await this.run(REVOKE, [sessionId])) as SessionFields | null;
    return fields ? toSession(sessionId, fields) : undefined;
  }

  async isActive(sessionId: string): Promise<boolean> {
    return (await this.redis.exists(this.sessionKey(sessionId))) === 1;
  }

  async sessionsOf(userId: UserId): Promise<DeviceSession[]> {
    const userKey = `${this.prefix}user-sessions:${userId}`;
    const ids = await this.redis.smembers(userKey);
    if (ids.length === 0) return [];
    const read = this.redis.pipeline();
    for (const id of ids) read.hmget(this.sessionKey(id), 'userId', 'deviceId', 'createdAt', 'expiresAt');
    const replies = (await read.exec()) ?? [];
    const sessions: DeviceSession[] = [];
    const expired: string[] = [];
    ids.forEach((id, i) => {
      const [error, fields] = replies[i] ?? [];
      if (error) throw error;
      const [storedUser] = fields as (string | null)[];
      if (storedUser === null) expired.push(id);
      else sessions.push(toSession(id, fields as SessionFields));
    });
    if (expired.length > 0) await this.redis.srem(userKey, ...expired);
    return sessions;
  }

  onRevoked(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.subscriber.off('message', this.onMessage);
    await this.subscribed;
    await this.subscriber.unsubscribe(this.channel);
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const session = JSON.parse(message) as DeviceSession;
    // Each listener on its own microtask, so that one that throws cannot stop the others or break
    // the connection's reply parsing (the memory driver does the same).
    for (const listener of this.listeners) queueMicrotask(() => listener(session));
  };

  private async run(script: LuaScript, args: (string | number)[]): Promise<unknown> {
    await this.subscribed;
    return script.run(this.redis, [], [this.prefix, ...args]);
  }

  private sessionKey(sessionId: string): string {
    return `${this.prefix}session:${sessionId}`;
  }
}
