import { createHash } from 'node:crypto';
import rateLimit, { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectRedis } from '../../infra/redis/client.ts';
import type { Logger } from 'pino';
import { ChatError } from '../../chat/errors.ts';
import type { Config } from '../../config/schema.ts';
import { MemoryCounters, RedisCounters, rateLimitStore, type Counters } from './counters.ts';

export type LimitSettings = Pick<Config,
  | 'signInAccountFailures' | 'signInIpFailures' | 'signInFailureWindowSeconds'
  | 'signUpsPerIp' | 'signUpWindowSeconds' | 'refreshesPerIp' | 'refreshWindowSeconds'
  | 'limitExemptIps' | 'redisUrl' | 'redisPrefix'>;

/**
 * Sign-in attempts are counted before the password is checked, so parallel guesses cannot slip
 * past the limit while the hashes run; the outcome then settles the count.
 */
export interface SignInGuard {
  /** Counts an attempt for this account and this address; 429 with Retry-After when either is over its limit. */
  attempt(request: FastifyRequest, reply: FastifyReply, email: string): Promise<void>;
  /** The password was right: the account starts afresh and the address gets its attempt back. */
  succeeded(request: FastifyRequest, email: string): Promise<void>;
  /** The attempt never got to the password (busy, a backend down): both get it back. */
  undecided(request: FastifyRequest, email: string): Promise<void>;
}

export interface AbuseLimits {
  /** Route `config.rateLimit` of sign-up: per client address. */
  signUp: RateLimitOptions;
  /** Route `config.rateLimit` of both token refresh routes: one count per client address. */
  refresh: RateLimitOptions;
  signIn: SignInGuard;
}

const clientAddress = (request: FastifyRequest): string => normalizeIP(request.ip);
/** Emails are hashed into keys so Redis holds no addresses of users. */
const accountKey = (email: string): string => createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 32);

function retryIn(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return ms < 60_000 ? `${Math.max(1, Math.ceil(ms / 1000))} s` : `${minutes} min`;
}

const tooMany = (what: string, ttlMs: number): ChatError => new ChatError(429, 'rate_limited', `too many ${what}: retry in ${retryIn(ttlMs)}`);

async function openCounters(settings: LimitSettings, logger: Logger): Promise<Counters> {
  if (!settings.redisUrl) return new MemoryCounters();
  const client = await connectRedis(settings.redisUrl, logger.child({ component: 'redis' }), 'HTTP limits');
  return new RedisCounters(client, `${settings.redisPrefix}limits:`);
}

/**
 * Registers @fastify/rate-limit (routes opt in) with counters in Redis when REDIS_URL is set, so
 * limits hold across nodes, and in this process otherwise. Call before registering the routes.
 */
export async function abuseLimits(app: FastifyInstance, settings: LimitSettings, logger: Logger): Promise<AbuseLimits> {
  const counters = await openCounters(settings, logger);
  app.addHook('onClose', () => counters.close());
  const exempt = new Set((settings.limitExemptIps ?? []).map((ip) => normalizeIP(ip)));

  await app.register(rateLimit, {
    global: false,
    store: rateLimitStore(counters),
    // Fail closed: without its counters a limit cannot be enforced, and Redis also holds the sessions.
    skipOnError: false,
    allowList: (request) => exempt.has(clientAddress(request)),
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) => tooMany('requests from this address', context.ttl),
  });

  const perAddress = (name: string, max: number, windowSeconds: number): RateLimitOptions => ({
    max, timeWindow: windowSeconds * 1000, keyGenerator: (request) => `${name}:${clientAddress(request)}`,
  });

  const failureWindow = settings.signInFailureWindowSeconds * 1000;
  const accountAttempts = app.createRateLimit({
    max: settings.signInAccountFailures, timeWindow: failureWindow,
    keyGenerator: (request) => `signin-account:${accountKey((request.body as { email: string }).email)}`,
  });
  const addressAttempts = app.createRateLimit({
    max: settings.signInIpFailures, timeWindow: failureWindow,
    keyGenerator: (request) => `signin-address:${clientAddress(request)}`,
  });

  const signIn: SignInGuard = {
    async attempt(request, reply) {
      const [account, address] = await Promise.all([accountAttempts(request), addressAttempts(request)]);
      const over = [account, address].filter((limit) => !limit.isAllowed && limit.isExceeded);
      if (over.length === 0) return;
      const ttl = Math.max(...over.map((limit) => (limit.isAllowed ? 0 : limit.ttl)));
      reply.header('retry-after', String(Math.max(1, Math.ceil(ttl / 1000))));
      throw tooMany(over.includes(account) ? 'failed sign-ins for this account' : 'failed sign-ins from this address', ttl);
    },
    async succeeded(request, email) {
      if (exempt.has(clientAddress(request))) return;
      await Promise.all([counters.reset(`signin-account:${accountKey(email)}`), counters.forgive(`signin-address:${clientAddress(request)}`)]);
    },
    async undecided(request, email) {
      if (exempt.has(clientAddress(request))) return;
      await Promise.all([counters.forgive(`signin-account:${accountKey(email)}`), counters.forgive(`signin-address:${clientAddress(request)}`)]);
    },
  };

  return {
    signUp: perAddress('signup', settings.signUpsPerIp, settings.signUpWindowSeconds),
    refresh: perAddress('refresh', settings.refreshesPerIp, settings.refreshWindowSeconds),
    signIn,
  };
}
