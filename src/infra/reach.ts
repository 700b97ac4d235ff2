import { connect } from 'node:net';

/**
 * Startup failures an operator can act on: which backend, at which address, from which setting,
 * and why, in one line without a driver's stack trace, e.g.
 * `could not reach Redis at redis://127.0.0.1:1 (REDIS_URL): connect ECONNREFUSED 127.0.0.1:1`.
 */
export class BackendUnreachableError extends Error {
  override readonly name = 'BackendUnreachableError';

  constructor(
    readonly backend: 'Redis' | 'Kafka' | 'Cassandra',
    readonly address: string,
    readonly variable: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`could not reach ${backend} at ${address} (${variable}): ${reason}`, options);
  }
}

/** Long enough for a slow first connection, short enough that a start with a wrong address fails well inside 15 s. */
export const REACH_TIMEOUT_MS = 8_000;

/** The one-line reason of a driver error: its own `reason` when it has one, else its message's first line. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const own = (error as { reason?: unknown }).reason;
    if (typeof own === 'string' && own) return own;
    return error.message.split('\n')[0] || error.name;
  }
  return String(error);
}

/** A URL with its password masked, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * Runs a backend's first connection under a deadline and turns its failure into a
 * BackendUnreachableError. `abandon` is called when the deadline passes, to stop the driver's own
 * retries; `lastError` can supply a better reason than the rejection (ioredis rejects with
 * "Connection is closed" after emitting the real cause).
 */
export async function reach<T>(
  where: { backend: BackendUnreachableError['backend']; address: string; variable: string },
  connect: () => Promise<T>,
  options: { timeoutMs?: number; abandon?: () => void; lastError?: () => unknown } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? REACH_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      options.abandon?.();
      reject(new Error(`no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([connect(), deadline]);
  } catch (error) {
    const cause = options.lastError?.() ?? error;
    const timedOut = error instanceof Error && error.message.startsWith('no answer within');
    const reason = timedOut && cause !== error ? `${reasonOf(error)} (last error: ${reasonOf(cause)})` : reasonOf(cause);
    throw new BackendUnreachableError(where.backend, where.address, where.variable, reason, { cause });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once any of `hosts` (host:port) accepts a TCP connection; rejects with each one's reason
 * otherwise. For drivers that retry for a long time before saying anything (kafkajs): a wrong
 * address is then reported in a second with its socket error, not after a deadline with none.
 */
export function anyAccepts(hosts: string[], timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const reasons: string[] = [];
    let pending = hosts.length;
    let done = false;
    for (const hostPort of hosts) {
      const colon = hostPort.lastIndexOf(':');
      const socket = connect({ host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) });
      const settle = (reason?: string): void => {
        socket.destroy();
        if (done) return;
        if (reason === undefined) {
          done = true;
          return resolve();
        }
        reasons.push(`${hostPort}: ${reason}`);
        if (--pending === 0) {
          done = true;
          reject(new Error(reasons.join('; ')));
        }
      };
      socket.setTimeout(timeoutMs, () => settle(`no answer within ${timeoutMs / 1000} s`));
      socket.once('connect', () => settle());
      socket.once('error', (error) => settle(error.message));
    }
  });
}
