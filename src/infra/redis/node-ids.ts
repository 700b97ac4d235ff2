import { randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MAX_NODE_ID } from '../../chat/snowflake.ts';
import type { NodeIdLease, NodeIdRegistry } from '../ports/node-ids.ts';
import { LuaScript } from './scripts.ts';

const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export interface RedisNodeIdOptions {
  prefix: string;
  /** Who holds the id (this node's name), so that only the holder renews or releases it. */
  owner: string;
  /** A dead node's id is free again this long after its last renewal. */
  leaseMs?: number;
}

/**
 * Node ids leased in Redis (`SET NX PX`, renewed every third of the lease): two live nodes never
 * hold the same id, and a node that cannot renew in time is told to stop making ids before its
 * lease can pass to another node.
 */
export class RedisNodeIds implements NodeIdRegistry {
  private readonly leaseMs: number;

  constructor(private readonly redis: Redis, private readonly options: RedisNodeIdOptions) {
    this.leaseMs = options.leaseMs ?? 15_000;
  }

  async acquire(preferred?: number): Promise<NodeIdLease> {
    const size = MAX_NODE_ID + 1;
    const start = randomInt(size);
    const candidates = preferred !== undefined ? [preferred] : Array.from({ length: size }, (_, i) => (start + i) % size);
    for (const nodeId of candidates) {
      if (await this.redis.set(this.key(nodeId), this.options.owner, 'PX', this.leaseMs, 'NX')) return this.lease(nodeId);
    }
    throw new Error(preferred !== undefined
      ? `node id ${preferred} (NODE_ID) is held by another live node; pick another or leave NODE_ID unset`
      : 'every node id is held by a live node');
  }

  private lease(nodeId: number): NodeIdLease {
    const key = this.key(nodeId);
    const { owner } = this.options;
    const listeners: Array<() => void> = [];
    let renewedAt = Date.now();
    let lost = false;
    const lose = (): void => {
      if (lost) return;
      lost = true;
      clearInterval(timer);
      for (const listener of listeners) listener();
    };
    const timer = setInterval(() => {
      const attempt = Date.now();
      RENEW.run(this.redis, [key], [owner, this.leaseMs]).then((renewed) => {
        if (Number(renewed) === 1) renewedAt = attempt;
        else lose();
      }, () => {
        // Unreachable for a while: the id is still ours until the lease could have expired.
        if (Date.now() - renewedAt >= this.leaseMs * 0.8) lose();
      });
    }, Math.floor(this.leaseMs / 3));
    timer.unref();
    return {
      nodeId,
      onLost: (listener) => void listeners.push(listener),
      release: async () => {
        clearInterval(timer);
        lost = true;
        await RELEASE.run(this.redis, [key], [owner]).catch(() => undefined);
      },
    };
  }

  private key(nodeId: number): string {
    return `${this.options.prefix}node-id:${nodeId}`;
  }
}
