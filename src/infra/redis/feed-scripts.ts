import { LuaScript } from './scripts.ts';

/*
 * A room's order in Redis, every key of a room in one hash slot ({room}), with {p} the prefix:
 *   {p}feed:{room}:head   HASH seq (highest reserved), through (every position up to it is final),
 *                         ms + rest (the room's highest id, split so Lua's doubles hold it exactly), epoch
 *   {p}feed:{room}:log    ZSET score seq → entry JSON: the recent window of committed and voided positions
 *   {p}feed:{room}:ids    ZSET score seq → message id, to commit each message once
 *   {p}feed:{room}:pend   HASH seq → lease deadline (Redis TIME, ms) of reservations not yet final
 *   {p}feed:{room}        the room's sharded pub/sub channel: {"ep":epoch,"e":[entries]} and {"g":signal}
 * Every key expires after ttl without activity; a room that comes back gets a new epoch.
 */

const COMMON = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function voidEntry(seq)
  return '{"seq":' .. seq .. ',"void":true}'
end

-- Moves through over final and expired positions; an expired reservation becomes a void entry.
-- Returns through and the void entries it made.
local function advance(head, log, pend, now)
  local through = tonumber(redis.call('HGET', head, 'through') or '0')
  local top = tonumber(redis.call('HGET', head, 'seq') or '0')
  local voided = {}
  while through < top do
    local n = through + 1
    local deadline = redis.call('HGET', pend, n)
    if deadline then
      if tonumber(deadline) > now then break end
      redis.call('HDEL', pend, n)
      local entry = voidEntry(n)
      redis.call('ZADD', log, n, entry)
      table.insert(voided, entry)
    end
    through = n
  end
  redis.call('HSET', head, 'through', through)
  return through, voided
end

local function touch(ttl, ...)
  for _, key in ipairs({...}) do redis.call('PEXPIRE', key, ttl) end
end
`;

/**
 * KEYS head, pend. ARGV epoch (used if the room is new), leaseMs, ttlMs, then per candidate: ms, rest, fixed.
 * Returns {epoch, seq1, raisedMs1, seq2, raisedMs2, …}: raisedMs is -1 when the candidate was kept.
 */
export const RESERVE = new LuaScript(`${COMMON}
local head, pend = KEYS[1], KEYS[2]
local lease, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('EXISTS', head) == 0 then
  redis.call('HSET', head, 'seq', 0, 'through', 0, 'ms', -1, 'rest', -1, 'epoch', ARGV[1])
end
local fields = redis.call('HMGET', head, 'seq', 'ms', 'rest', 'epoch')
local seq, lastMs, lastRest = tonumber(fields[1]), tonumber(fields[2]), tonumber(fields[3])
local deadline = nowMs() + lease
local out = {fields[4]}
for i = 4, #ARGV, 3 do
  local ms, rest, fixed = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2] == '1'
  seq = seq + 1
  redis.call('HSET', pend, seq, deadline)
  local above = ms > lastMs or (ms == lastMs and rest > lastRest)
  table.insert(out, seq)
  if fixed or above then
    if above then lastMs, lastRest = ms, rest end
    table.insert(out, -1)
  else
    -- Raised into the next millisecond, which the room then treats as used up entirely.
    lastMs, lastRest = lastMs + 1, ${2 ** 22 - 1}
    table.insert(out, lastMs)
  end
end
redis.call('HSET', head, 'seq', seq, 'ms', lastMs, 'rest', lastRest)
touch(ttl, head, pend)
return out
`);

/** KEYS pend. ARGV leaseMs, then seqs. Moves the lease deadline of each position still reserved. */
export const RENEW = new LuaScript(`${COMMON}
local deadline = nowMs() + tonumber(ARGV[1])
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then redis.call('HSET', KEYS[1], ARGV[i], deadline) end
end
return 0
`);

/**
 * KEYS head, log, ids, pend, channel. ARGV window, ttlMs, then per entry: seq, messageId ('' for a void), entry JSON.
 * Stores each entry that is new (a message not committed before, a void of a position still open;
 * a message committed before at another position voids this one if it is still open), moves through, trims the window and publishes the new entries. Returns through.
 */
export const COMMIT = new LuaScript(`${COMMON}
local head, log, ids, pend, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', head) == 0 then return -1 end
local fresh = {}
for i = 3, #ARGV, 3 do
  local seq, id, entry = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  local held = redis.call('ZRANGEBYSCORE', log, seq, seq)
  local take
  if id ~= '' then
    local committed = redis.call('ZSCORE', ids, id) ~= false
    take = not committed and (held[1] == nil or held[1] == voidEntry(seq))
    if take then
      -- A late commit of a position voided meanwhile replaces the void.
      if held[1] ~= nil then redis.call('ZREM', log, held[1]) end
      redis.call('ZADD', ids, seq, id)
    elseif committed and redis.call('HEXISTS', pend, seq) == 1 then
      -- The message holds another position already (a resumed send whose first attempt got there
      -- too): this one never will, so it is voided now rather than holding the room until its lease ends.
      entry = voidEntry(seq)
      take = true
    end
  else
    take = held[1] == nil
  end
  if take then
    redis.call('HDEL', pend, seq)
    redis.call('ZADD', log, seq, entry)
    table.insert(fresh, entry)
  end
end
local through, voided = advance(head, log, pend, nowMs())
for _, entry in ipairs(voided) do table.insert(fresh, entry) end
local excess = redis.call('ZCARD', log) - window
if excess > 0 then
  local oldest = redis.call('ZRANGE', log, excess - 1, excess - 1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', log, 0, excess - 1)
  redis.call('ZREMRANGEBYSCORE', ids, '-inf', oldest[2])
end
touch(ttl, head, log, ids, pend)
if #fresh > 0 then
  redis.call('SPUBLISH', channel, '{"ep":"' .. redis.call('HGET', head, 'epoch') .. '","e":[' .. table.concat(fresh, ',') .. ']}')
end
return through
`);

/**
 * KEYS head, log, pend. ARGV fromSeq, toSeq. Returns {through, head, floor, epoch, entry JSON…}
 * (through 0, head 0 and epoch '' for a room the feed does not know).
 */
export const REPLAY = new LuaScript(`${COMMON}
local head, log, pend = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', head) == 0 then return {0, 0, 1, ''} end
local through = advance(head, log, pend, nowMs())
local fields = redis.call('HMGET', head, 'seq', 'epoch')
local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
local floor = oldest[2] and tonumber(oldest[2]) or through + 1
local out = {through, tonumber(fields[1]), floor, fields[2]}
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', log, ARGV[1], ARGV[2])) do table.insert(out, entry) end
return out
`);
