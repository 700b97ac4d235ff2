import type { Redis } from 'ioredis';
import type { RoomId, UserId } from '../../chat/model.ts';
import type { PresenceExit, PresenceStore, PresenceSweep } from '../ports/presence.ts';
import { LuaScript } from './scripts.ts';

/*
 * Keys, with {p} the prefix:
 *   {p}presence:{room}              SET of present user ids (the notifier SDIFFs members against it)
 *   {p}members:{room}               SET, the membership mirror
 *   {p}conns:{room}:{user}          SET of `node|connection`: the user is present while it is not empty
 *   {p}lease:{node}                 the node's lease, expiring after leaseMs unless renewed
 *   {p}nodes                        SET of nodes that may have entries, so sweep can find dead ones
 *   {p}node-entries:{node}          SET of `room\tuser\tconnection` the node made
 *
 * Sweep and close rebuild room and user keys from entries inside Lua, so these scripts touch keys
 * they were not given: fine on one Redis (or a replica set), not on Redis Cluster.
 */

/** Removes one entry of a node; appends room, user to `exits` if the user thereby left the room. */
const DROP_ENTRY = `
local function dropEntry(prefix, node, entry, exits)
  local room, user, conn = string.match(entry, '^(.-)\\t(.-)\\t(.*)$')
  local connsKey = prefix .. 'conns:' .. room .. ':' .. user
  if redis.call('SREM', connsKey, node .. '|' .. conn) == 1 and redis.call('EXISTS', connsKey) == 0 then
    redis.call('SREM', prefix .. 'presence:' .. room, user)
    table.insert(exits, room)
    table.insert(exits, user)
  end
end
`;

/** Returns {user was absent before, lease had to be taken}. */
const ENTER = new LuaScript(`
local conns, presence, entries, lease, nodes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member, user, entry, node, leaseMs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local leaseTaken = redis.call('SET', lease, '1', 'PX', leaseMs, 'NX') and 1 or 0
redis.call('SADD', nodes, node)
redis.call('SADD', entries, entry)
local wasAbsent = redis.call('EXISTS', conns) == 0 and 1 or 0
redis.call('SADD', conns, member)
redis.call('SADD', presence, user)
return {wasAbsent, leaseTaken}
`);

const EXIT = new LuaScript(`
local conns, presence, entries = KEYS[1], KEYS[2], KEYS[3]
local member, user, entry = ARGV[1], ARGV[2], ARGV[3]
redis.call('SREM', entries, entry)
if redis.call('SREM', conns, member) == 0 or redis.call('EXISTS', conns) == 1 then return 0 end
redis.call('SREM', presence, user)
return 1
`);

/** Returns whether the lease still existed when it was renewed. */
const HEARTBEAT = new LuaScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return existed
`);

/**
 * ARGV: prefix, limit. Takes (SPOP) at most `limit` entries of dead nodes, so one call blocks Redis
 * briefly however many a node had; an entry taken by one sweeper is gone for any other, so two
 * nodes sweeping at once never both report an exit. Returns {more (0|1), room, user, room, user, …}.
 */
const SWEEP = new LuaScript(`${DROP_ENTRY}
local prefix, budget = ARGV[1], tonumber(ARGV[2])
local result = {0}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', prefix .. 'lease:' .. node) == 0 then
    if budget == 0 then
      result[1] = 1
      return result
    end
    local entriesKey = prefix .. 'node-entries:' .. node
    local entries = redis.call('SPOP', entriesKey, budget)
    budget = budget - #entries
    for _, entry in ipairs(entries) do dropEntry(prefix, node, entry, result) end
    if redis.call('EXISTS', entriesKey) == 1 then
      result[1] = 1
      return result
    end
    redis.call('SREM', KEYS[1], node)
  end
end
return result
`);

const CLOSE = new LuaScript(`${DROP_ENTRY}
local prefix, node = ARGV[1], ARGV[2]
local exits = {}
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do dropEntry(prefix, node, entry, exits) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], node)
return 0
`);

export interface RedisPresenceOptions {
  nodeId: string;
  leaseMs: number;
  prefix?: string;
}

export class RedisPresenceStore implements PresenceStore {
  private readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly prefix: string;
  /** Whether this node has taken a lease, so that losing it can be told apart from never having one. */
  private leased = false;
  /**
   * Set when an `enter` found the lease gone and took a new one: the old entries may have been swept
   * in between, which the next heartbeat must still report although the lease now exists again.
   */
  private lapseSeen = false;

  constructor(
    private readonly redis: Redis,
    options: RedisPresenceOptions,
  ) {
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs;
    this.prefix = options.prefix ?? 'flametalk:';
  }

  async enter(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean> {
    const [wasAbsent, leaseTaken] = (await ENTER.run(
      this.redis,
      [this.connsKey(roomId, userId), this.presenceKey(roomId), this.entriesKey(), this.leaseKey(), this.nodesKey()],
      [this.connection(connectionId), userId, entry(roomId, userId, connectionId), this.nodeId, this.leaseMs],
    )) as [number, number];
    if (leaseTaken === 1 && this.leased) this.lapseSeen = true;
    this.leased = true;
    return wasAbsent === 1;
  }

  async exit(roomId: RoomId, userId: UserId, connectionId: string): Promise<boolean> {
    const left = await EXIT.run(
      this.redis,
      [this.connsKey(roomId, userId), this.presenceKey(roomId), this.entriesKey()],
      [this.connection(connectionId), userId, entry(roomId, userId, connectionId)],
    );
    return left === 1;
  }

  present(roomId: RoomId): Promise<UserId[]> {
    return this.redis.smembers(this.presenceKey(roomId));
  }

  async setMembers(roomId: RoomId, userIds: UserId[]): Promise<void> {
    const key = this.membersKey(roomId);
    const replace = this.redis.multi().del(key);
    if (userIds.length > 0) replace.sadd(key, ...userIds);
    await replace.exec();
  }

  async addMember(roomId: RoomId, userId: UserId): Promise<void> {
    await this.redis.sadd(this.membersKey(roomId), userId);
  }

  async removeMember(roomId: RoomId, userId: UserId): Promise<void> {
    await this.redis.srem(this.membersKey(roomId), userId);
  }

  async hasMembers(roomId: RoomId): Promise<boolean> {
    return (await this.redis.exists(this.membersKey(roomId))) === 1;
  }

  async absentMembers(roomId: RoomId, exceptUserId?: UserId): Promise<UserId[]> {
    const absent = await this.redis.sdiff(this.membersKey(roomId), this.presenceKey(roomId));
    return absent.filter((userId) => userId !== exceptUserId);
  }

  async heartbeat(): Promise<boolean> {
    const existed = await HEARTBEAT.run(this.redis, [this.leaseKey(), this.nodesKey()], [this.leaseMs, this.nodeId]);
    const lapsed = this.lapseSeen || (this.leased && existed === 0);
    this.leased = true;
    this.lapseSeen = false;
    return !lapsed;
  }

  async sweep(limit: number): Promise<PresenceSweep> {
    const [more, ...flat] = (await SWEEP.run(this.redis, [this.nodesKey()], [this.prefix, limit])) as [number, ...string[]];
    const exits: PresenceExit[] = [];
    for (let i = 0; i < flat.length; i += 2) exits.push({ roomId: flat[i]!, userId: flat[i + 1]! });
    return { exits, more: more === 1 };
  }

  async close(): Promise<void> {
    await CLOSE.run(this.redis, [this.entriesKey(), this.leaseKey(), this.nodesKey()], [this.prefix, this.nodeId]);
    this.leased = false;
    this.lapseSeen = false;
  }

  private connection(connectionId: string): string {
    return `${this.nodeId}|${connectionId}`;
  }

  private presenceKey(roomId: RoomId): string {
    return `${this.prefix}presence:${roomId}`;
  }

  private membersKey(roomId: RoomId): string {
    return `${this.prefix}members:${roomId}`;
  }

  private connsKey(roomId: RoomId, userId: UserId): string {
    return `${this.prefix}conns:${roomId}:${userId}`;
  }

  private leaseKey(): string {
    return `${this.prefix}lease:${this.nodeId}`;
  }

  private nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  private entriesKey(): string {
    return `${this.prefix}node-entries:${this.nodeId}`;
  }
}

function entry(roomId: RoomId, userId: UserId, connectionId: string): string {
  return `${roomId}\t${userId}\t${connectionId}`;
}
