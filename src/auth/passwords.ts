import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { hash as argon2Hash, parseOptions, verify as argon2Verify } from '@node-rs/argon2';
import { Semaphore } from './semaphore.ts';

/**
 * Argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about 25 ms on the
 * 2-core machines here. @node-rs/argon2 computes on the libuv thread pool, so the event loop
 * (and every socket on it) keeps running while a hash is computed.
 */
export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const ARGON2_PARAMS: Argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/**
 * Hashing keeps a core busy per hash: leave one for the event loop. Measured on 2 cores during a
 * sign-in flood: a WebSocket round trip's p99 was 27–31 ms with one hash at a time, 35–56 ms with
 * two. The libuv pool has 4 threads and file and DNS work needs some of them.
 */
export const defaultHashConcurrency = (): number => Math.min(4, Math.max(1, availableParallelism() - 1));

export interface PasswordOptions {
  /** Hashes computed at once (see defaultHashConcurrency). */
  concurrency: number;
  /** Hashes allowed to wait for a slot; beyond it a sign-in or sign-up gets 503 at once. */
  maxWaiting: number;
  params?: Argon2Params;
}

export interface PasswordCheck {
  ok: boolean;
  /** When the stored hash is correct but uses an old scheme or parameters: a fresh hash to store instead. */
  upgraded?: string;
}

/** The scheme used before argon2id: `scrypt$N$r$p$salt$key`. Still verified, never written. */
const LEGACY_SCRYPT_MAXMEM = 256 * 1024 * 1024;

function scryptKey(password: string, salt: Buffer, keyBytes: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

async function verifyLegacyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, key] = stored.split('$');
  if (!salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scryptKey(password, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n), r: Number(r), p: Number(p), maxmem: LEGACY_SCRYPT_MAXMEM,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Hashes and verifies passwords, a bounded number at a time. */
export class Passwords {
  private readonly slots: Semaphore;
  private readonly params: Argon2Params;
  private dummy: Promise<string> | undefined;

  constructor(options: PasswordOptions) {
    this.slots = new Semaphore(options.concurrency, options.maxWaiting);
    this.params = options.params ?? ARGON2_PARAMS;
  }

  /** How many hashes run and wait right now. */
  get load(): { running: number; waiting: number } {
    return this.slots.load;
  }

  hash(password: string): Promise<string> {
    return this.slots.run(() => this.argon2(password));
  }

  /**
   * Checks `password` against `stored`. With no stored hash (an unknown email, an account made by
   * an embedding host) it verifies against a dummy hash, so the answer takes as long as for a
   * real account and timing cannot tell which emails exist.
   */
  async verify(password: string, stored: string | undefined): Promise<PasswordCheck> {
    if (stored?.startsWith('scrypt$')) {
      const ok = await this.slots.run(() => verifyLegacyScrypt(password, stored));
      return ok ? { ok, upgraded: await this.hash(password) } : { ok };
    }
    if (stored?.startsWith('$argon2')) {
      const ok = await this.slots.run(() => argon2Verify(stored, password.normalize('NFKC')));
      return ok && this.outdated(stored) ? { ok, upgraded: await this.hash(password) } : { ok };
    }
    const dummy = await this.dummyHash();
    await this.slots.run(() => argon2Verify(dummy, password.normalize('NFKC')));
    return { ok: false };
  }

  /** Made once per process, from a random password nobody knows. */
  private dummyHash(): Promise<string> {
    this.dummy ??= this.argon2(randomBytes(16).toString('base64url')).catch((error: unknown) => {
      this.dummy = undefined;
      throw error;
    });
    return this.dummy;
  }

  private argon2(password: string): Promise<string> {
    return argon2Hash(password.normalize('NFKC'), { ...this.params, outputLen: 32 });
  }

  private outdated(stored: string): boolean {
    if (!stored.startsWith('$argon2id$')) return true;
    try {
      const used = parseOptions(stored);
      return used.memoryCost !== this.params.memoryCost || used.timeCost !== this.params.timeCost
        || used.parallelism !== this.params.parallelism;
    } catch {
      return true;
    }
  }
}
