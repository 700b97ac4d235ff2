import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { AccessTokens } from '../auth/access-tokens.ts';
import { defaultHashConcurrency, Passwords } from '../auth/passwords.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import { EmailTakenError, PhoneTakenError } from '../infra/ports/store.ts';
import type { DeviceSession, Rotation, TokenStore } from '../infra/ports/tokens.ts';
import { conflict, notFound, unauthorized } from './errors.ts';
import type { DeviceId, User, UserId } from './model.ts';

/** Accounts that left can come back by signing in within this time. */
export const LEAVE_GRACE_MS = 30 * 86_400_000;

export interface SignUp {
  email: string;
  password: string;
  nickname: string;
  phoneNumber?: string;
  birthday?: string;
  deviceId: DeviceId;
}

export interface SignedIn {
  userId: UserId;
  nickname: string;
  accessToken: string;
  refreshToken: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

/** A refresh token is `sessionId.secret`; only the secret's hash is stored. */
function newRefreshSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret) };
}

/**
 * The secret a rotation hands out, from the presented secret and the rotation's nonce: a repeat
 * within the reuse grace gets the same one back although the store keeps only the nonce, and the
 * nonce alone (a copy of the store) derives nothing.
 */
const rotatedSecret = (presentedSecret: string, rotation: Rotation): string =>
  createHmac('sha256', presentedSecret).update(rotation.nonce).digest('base64url');

function parseRefreshToken(token: string): { sessionId: string; secret: string } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot === token.length - 1) return undefined;
  return { sessionId: token.slice(0, dot), secret: token.slice(dot + 1) };
}

export interface AccountOptions {
  refreshTtlSeconds: number;
  /** A refresh token presented again this soon after its rotation gets the same new pair (see refresh); 0: never. */
  refreshReuseGraceMs: number;
  newUserId: () => string;
  now?: () => number;
  /** Hashing and its concurrency cap; default: one less than the cores at once, 100 waiting. */
  passwords?: Passwords;
  /** Phone numbers are stored in this form (see people/phone.ts); default: as given. */
  normalizePhone?: (raw: string) => string;
  /** How long an account that left can come back by signing in (default LEAVE_GRACE_MS); afterwards the purge deletes it. */
  leaveGraceMs?: number;
  /** Runs once an account exists (its default profile is made here). */
  onSignUp?: (user: User) => Promise<void>;
}

/** Sign-up, per-device sign-in, refresh rotation with theft detection, sign-out and leaving. */
export class AccountService {
  private readonly now: () => number;
  private readonly passwords: Passwords;

  constructor(
    private readonly store: ChatStore,
    private readonly sessions: TokenStore,
    private readonly accessTokens: AccessTokens,
    private readonly options: AccountOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.passwords = options.passwords ?? new Passwords({ concurrency: defaultHashConcurrency(), maxWaiting: 100 });
  }

  async signUp(input: SignUp): Promise<SignedIn> {
    const user: User = {
      userId: this.options.newUserId(),
      email: input.email,
      nickname: input.nickname,
      passwordHash: await this.passwords.hash(input.password),
      phoneNumber: input.phoneNumber === undefined ? null : (this.options.normalizePhone?.(input.phoneNumber) ?? input.phoneNumber),
      birthday: input.birthday ?? null,
      createdAt: this.now(),
      leftAt: null,
    };
    try {
      await this.store.createUser(user);
    } catch (error) {
      if (error instanceof EmailTakenError) throw conflict('this email is already registered', 'email_taken');
      if (error instanceof PhoneTakenError) throw conflict('this phone number is already registered', 'phone_taken');
      throw error;
    }
    await this.options.onSignUp?.(user);
    return this.startSession(user, input.deviceId);
  }

  async signIn(email: string, password: string, deviceId: DeviceId): Promise<SignedIn> {
    const user = await this.store.getUserByEmail(email);
    // The same answer for an unknown email and a wrong password, so sign-in cannot probe accounts.
    const refused = unauthorized('wrong email or password', 'bad_credentials');
    // An unknown email (or an account without a password) is checked against a dummy hash: same cost.
    const check = await this.passwords.verify(password, user?.passwordHash || undefined);
    if (!user || !check.ok) throw refused;
    if (user.leftAt !== null) {
      if (this.now() - user.leftAt > (this.options.leaveGraceMs ?? LEAVE_GRACE_MS)) throw refused;
      await this.store.updateUser(user.userId, { leftAt: null });
    }
    if (check.upgraded) await this.store.updateUser(user.userId, { passwordHash: check.upgraded });
    return this.startSession(user, deviceId);
  }

  /**
   * Rotates the refresh token. The same token presented again within the reuse grace (its response
   * was lost, or the app refreshed twice at once) gets the same new pair, so the device stays
   * signed in. Presented later, or after the new token was rotated in turn, it is taken for theft
   * and ends the device's session: both holders must sign in again.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const parsed = parseRefreshToken(refreshToken);
    if (!parsed) throw unauthorized('the refresh token is invalid', 'refresh_invalid');
    const rotation: Rotation = { nonce: randomBytes(16).toString('base64url'), at: this.now() };
    const next = {
      hash: hashSecret(rotatedSecret(parsed.secret, rotation)), rotation,
      expiresAt: rotation.at + this.options.refreshTtlSeconds * 1000,
    };
    const result = await this.sessions.rotate(parsed.sessionId, hashSecret(parsed.secret), next, this.options.refreshReuseGraceMs);
    if (result.outcome === 'reused') {
      // The session is gone for both holders; its phone must not keep buzzing for a thief's session.
      await this.forgetPushToken(result.session);
      throw unauthorized('this refresh token was already used: the device was signed out, sign in again', 'refresh_reused');
    }
    if (result.outcome === 'unknown') throw unauthorized('the refresh token is invalid or expired', 'refresh_invalid');
    const { session } = result;
    const claims = { userId: session.userId, deviceId: session.deviceId, sessionId: session.sessionId };
    return {
      accessToken: await this.accessTokens.sign(claims, result.rotation.at),
      refreshToken: `${session.sessionId}.${rotatedSecret(parsed.secret, result.rotation)}`,
    };
  }

  async signOut(sessionId: string): Promise<void> {
    const ended = await this.sessions.revoke(sessionId);
    if (ended) await this.forgetPushToken(ended);
  }

  async isEmailAvailable(email: string): Promise<boolean> {
    return (await this.store.getUserByEmail(email)) === undefined;
  }

  /** Soft delete: every device is signed out; signing in within the grace period undoes it. */
  async leave(userId: UserId): Promise<void> {
    await this.store.updateUser(userId, { leftAt: this.now() });
    for (const session of await this.sessions.sessionsOf(userId)) await this.sessions.revoke(session.sessionId);
    // Every token, also those of devices whose session already expired: an account that left gets no pushes.
    for (const token of await this.store.deviceTokens([userId])) await this.store.removeDeviceToken(userId, token.deviceId);
  }

  devices(userId: UserId): Promise<DeviceSession[]> {
    return this.sessions.sessionsOf(userId);
  }

  async revokeDevice(userId: UserId, deviceId: DeviceId): Promise<void> {
    const session = (await this.sessions.sessionsOf(userId)).find((s) => s.deviceId === deviceId);
    if (!session) throw notFound('no signed-in device with this id', 'device_not_found');
    await this.sessions.revoke(session.sessionId);
    await this.forgetPushToken(session);
  }

  /** A device that is signed out gets no more pushes; it registers its token again after signing in. */
  private forgetPushToken(session: Pick<DeviceSession, 'userId' | 'deviceId'>): Promise<void> {
    return this.store.removeDeviceToken(session.userId, session.deviceId);
  }

  private async startSession(user: User, deviceId: DeviceId): Promise<SignedIn> {
    const refresh = newRefreshSecret();
    const createdAt = this.now();
    const session: DeviceSession = {
      sessionId: randomUUID(), userId: user.userId, deviceId, createdAt,
      expiresAt: createdAt + this.options.refreshTtlSeconds * 1000,
    };
    await this.sessions.createSession(session, refresh.hash);
    return {
      userId: user.userId,
      nickname: user.nickname,
      accessToken: await this.accessTokens.sign({ userId: user.userId, deviceId, sessionId: session.sessionId }),
      refreshToken: `${session.sessionId}.${refresh.secret}`,
    };
  }
}
