import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { reach, redactUrl } from '../reach.ts';

/**
 * Sends a client's connection errors to the log. Without a listener ioredis prints each one to
 * stderr ("[ioredis] Unhandled error event"), once per reconnect attempt; here the same message is
 * logged at most once every 10 s.
 */
export function logRedisErrors(client: Redis, logger: Logger, what: string): Redis {
  let last = '';
  let lastAt = 0;
  client.on('error', (error: Error) => {
    const now = Date.now();
    if (error.message === last && now - lastAt < 10_000) return;
    last = error.message;
    lastAt = now;
    logger.warn({ err: error, redis: what }, `Redis (${what}) connection error`);
  });
  return client;
}

/** A connected client; an unreachable Redis rejects with a BackendUnreachableError naming REDIS_URL. */
export async function connectRedis(url: string, logger: Logger, what: string, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, ...options });
  let lastError: unknown;
  const remember = (error: unknown): void => {
    lastError = error;
  };
  client.on('error', remember);
  try {
    await reach({ backend: 'Redis', address: redactUrl(url), variable: 'REDIS_URL' }, () => client.connect(), {
      abandon: () => client.disconnect(),
      lastError: () => lastError,
    });
  } catch (error) {
    // `remember` stays attached: a late error of the abandoned connection must not reach stderr.
    client.disconnect();
    throw error;
  }
  client.off('error', remember);
  return logRedisErrors(client, logger, what);
}
