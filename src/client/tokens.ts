import { Emitter } from './emitter.ts';
import { FlametalkError } from './errors.ts';
import type { HttpApi } from './http.ts';
import type { TokenStorage } from './storage.ts';
import type { Session } from './types.ts';

/** What survives a reload: who is signed in and the refresh token (rotated on every use). */
interface StoredSession extends Session {
  refreshToken: string;
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/** A fraction of the access token's lifetime after which it is renewed ahead of its expiry. */
const REFRESH_AT = 0.8;

/**
 * How long a JWT access token surely lives: exp − iat, less the second `iat` may have been rounded
 * down by (the server writes whole seconds), never under half a second. Undefined when it states none.
 */
function lifetimeMs(accessToken: string): number | undefined {
  try {
    const part = accessToken.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { exp?: unknown; iat?: unknown };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return undefined;
    return Math.max(500, (claims.exp - claims.iat - 1) * 1000);
  } catch {
    return undefined;
  }
}

export interface TokenEvents {
  /** A new access token is in use (scheduled or forced refresh). */
  refreshed: [];
  /** The session ended without the app asking (refresh token refused, device revoked). */
  signedOut: [FlametalkError];
}

/**
 * Holds the access token in memory and the session in `storage`; renews the access token at 80%
 * of its lifetime and on demand. One refresh at a time: refresh tokens rotate, and the server
 * treats a second use of one as theft and signs the device out.
 */
export class Tokens {
  readonly events = new Emitter<TokenEvents>();
  private access: { token: string; refreshAt: number; expiresAt: number } | undefined;
  private session: Session | undefined;
  private refreshing: Promise<string> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by clear(): a refresh that started before must not bring the session back. */
  private generation = 0;

  constructor(private readonly http: HttpApi, private readonly storage: TokenStorage, private readonly key: string) {}

  get current(): Session | undefined {
    return this.session;
  }

  /** Takes the tokens sign-up/sign-in returned. */
  async accept(session: Session, tokens: TokenPair): Promise<void> {
    this.generation++;
    await this.keep(session, tokens);
  }

  /** Resumes a stored session: one refresh, which also proves the refresh token is still good. */
  async restore(): Promise<Session | undefined> {
    if (this.session) return this.session;
    if (!(await this.stored())) return undefined;
    await this.refresh();
    return this.session;
  }

  /** An access token that is not about to expire, refreshed first when it is. */
  async fresh(): Promise<string> {
    const access = this.access;
    if (access && Date.now() < access.refreshAt) return access.token;
    if (!access && !this.session && !(await this.stored())) throw new FlametalkError('not_signed_in', 'sign in first');
    try {
      return await this.refresh();
    } catch (error) {
      // The server is away but the token still works: let the caller find out what the server says.
      if (access && error instanceof FlametalkError && error.code === 'network' && Date.now() < access.expiresAt) return access.token;
      throw error;
    }
  }

  refresh(): Promise<string> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Forgets the session here and in storage (the caller signs out on the server if it should). */
  async clear(): Promise<void> {
    this.generation++;
    clearTimeout(this.timer);
    this.access = undefined;
    this.session = undefined;
    await this.storage.remove(this.key);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private async rotate(): Promise<string> {
    const generation = this.generation;
    // Read storage each time: another client sharing it (a second tab) may have rotated the token.
    const stored = await this.stored();
    if (!stored) throw new FlametalkError('not_signed_in', 'sign in first');
    let pair: TokenPair;
    try {
      pair = await this.http.request<TokenPair>('POST', '/api/auth/token', { body: { refreshToken: stored.refreshToken } });
    } catch (error) {
      if (error instanceof FlametalkError && error.status === 401 && generation === this.generation) {
        await this.clear();
        this.events.emit('signedOut', error);
      }
      throw error;
    }
    if (generation !== this.generation) throw new FlametalkError('signed_out', 'signed out while the token was being refreshed');
    await this.keep({ userId: stored.userId, nickname: stored.nickname }, pair);
    this.events.emit('refreshed');
    return pair.accessToken;
  }

  private async keep(session: Session, pair: TokenPair): Promise<void> {
    const record: StoredSession = { userId: session.userId, nickname: session.nickname, refreshToken: pair.refreshToken };
    await this.storage.set(this.key, JSON.stringify(record));
    this.session = { userId: session.userId, nickname: session.nickname };
    const now = Date.now();
    const lifetime = lifetimeMs(pair.accessToken);
    this.access = {
      token: pair.accessToken,
      refreshAt: lifetime === undefined ? Number.POSITIVE_INFINITY : now + lifetime * REFRESH_AT,
      expiresAt: lifetime === undefined ? Number.POSITIVE_INFINITY : now + lifetime,
    };
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const access = this.access;
    if (!access || !Number.isFinite(access.refreshAt)) return;
    this.timer = setTimeout(() => {
      this.refresh().catch((error: unknown) => {
        // Unreachable server: try again shortly, while the token still works; a refused token ended the session.
        if (error instanceof FlametalkError && error.code === 'network' && this.access === access) {
          access.refreshAt = Date.now() + Math.max(1_000, (access.expiresAt - Date.now()) / 4);
          this.schedule();
        }
      });
    }, Math.max(0, access.refreshAt - Date.now()));
    // In Node a pending refresh must not keep the process alive on its own.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async stored(): Promise<StoredSession | undefined> {
    const text = await this.storage.get(this.key);
    if (!text) return undefined;
    try {
      const value = JSON.parse(text) as Partial<StoredSession>;
      if (typeof value.refreshToken === 'string' && typeof value.userId === 'string' && typeof value.nickname === 'string') {
        return value as StoredSession;
      }
    } catch {
      // A corrupt entry is no session.
    }
    return undefined;
  }
}
