import { normalizeIP } from '@fastify/rate-limit';
import { ChatError } from '../chat/errors.ts';
import type { UserId } from '../chat/model.ts';

export interface ConnectionCapSettings {
  maxConnectionsPerUser: number;
  maxConnectionsPerIp: number;
  /** Addresses the per-address cap never applies to (a load generator); the per-user cap still does. */
  limitExemptIps?: string[];
}

/** What a connection was counted under, so that its close gives back exactly that. */
export interface Counted {
  countedAddress: string | undefined;
  countedUser: UserId | undefined;
}

/**
 * Open sockets per user and per client address on this node, capped so that one account or one
 * address cannot take the node's memory and file descriptors. Counts are per node: in a cluster a
 * user may have the cap on every node.
 */
export class ConnectionCaps {
  private readonly perAddress = new Map<string, number>();
  private readonly perUser = new Map<UserId, number>();
  private readonly exempt: Set<string>;

  constructor(private readonly settings: ConnectionCapSettings) {
    this.exempt = new Set((settings.limitExemptIps ?? []).map((ip) => normalizeIP(ip)));
  }

  /** A remote address in the form the counts use: IPv4-mapped as IPv4, IPv6 by /64, as the HTTP limits key clients. */
  static addressKey(remoteAddress: string): string {
    return normalizeIP(remoteAddress);
  }

  /** Throws a ChatError 429 when one more connection from `address` (of `userId`) would be over a cap; counts nothing. */
  check(address: string, userId?: UserId): void {
    if (!this.exempt.has(address) && (this.perAddress.get(address) ?? 0) >= this.settings.maxConnectionsPerIp) {
      throw this.tooMany('from this address', this.settings.maxConnectionsPerIp);
    }
    if (userId !== undefined && (this.perUser.get(userId) ?? 0) >= this.settings.maxConnectionsPerUser) {
      throw this.tooMany('of this user', this.settings.maxConnectionsPerUser);
    }
  }

  /** Counts an open connection from `address`; throws a ChatError 429 when that is over the cap. */
  countAddress(counted: Counted, address: string): void {
    if (this.exempt.has(address) || counted.countedAddress !== undefined) return;
    this.check(address);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    counted.countedAddress = address;
  }

  /** Counts an open connection of `userId` (once per connection); throws a ChatError 429 when that is over the cap. */
  countUser(counted: Counted, userId: UserId): void {
    if (counted.countedUser !== undefined) return;
    if ((this.perUser.get(userId) ?? 0) >= this.settings.maxConnectionsPerUser) {
      throw this.tooMany('of this user', this.settings.maxConnectionsPerUser);
    }
    this.perUser.set(userId, (this.perUser.get(userId) ?? 0) + 1);
    counted.countedUser = userId;
  }

  /** The connection closed: whatever it was counted under has room again. */
  release(counted: Counted): void {
    if (counted.countedAddress !== undefined) decrement(this.perAddress, counted.countedAddress);
    if (counted.countedUser !== undefined) decrement(this.perUser, counted.countedUser);
    counted.countedAddress = undefined;
    counted.countedUser = undefined;
  }

  private tooMany(what: string, max: number): ChatError {
    return new ChatError(429, 'too_many_connections', `too many connections ${what} (at most ${max})`);
  }
}

function decrement<K>(counts: Map<K, number>, key: K): void {
  const current = counts.get(key) ?? 0;
  if (current <= 1) counts.delete(key);
  else counts.set(key, current - 1);
}
