import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import type { DeviceId, UserId } from '../chat/model.ts';

export interface AccessClaims {
  userId: UserId;
  deviceId: DeviceId;
  sessionId: string;
}

export type VerifyResult = { ok: true; claims: AccessClaims; expiresAt: number } | { ok: false; reason: 'expired' | 'invalid' };

/**
 * Short-lived HS256 JWTs that every node verifies locally with the shared key. jose signs them
 * and parses them; the signature check is a synchronous HMAC because the WebSocket upgrade must
 * be decided synchronously (uWebSockets.js 20.30 cannot upgrade safely after an await, see
 * src/ws/socket-server.ts), and one verifier serves HTTP and sockets alike.
 */
export class AccessTokens {
  private readonly key: Buffer;

  constructor(secret: string, private readonly issuer: string, private readonly ttlSeconds: number, private readonly now: () => number = Date.now) {
    this.key = Buffer.from(secret, 'utf8');
  }

  /** The same claims issued at the same second sign to the same token (HS256 is deterministic). */
  sign(claims: AccessClaims, issuedAt: number = this.now()): Promise<string> {
    const issuedAtSeconds = Math.floor(issuedAt / 1000);
    return new SignJWT({ did: claims.deviceId, sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setIssuedAt(issuedAtSeconds)
      .setExpirationTime(issuedAtSeconds + this.ttlSeconds)
      .sign(this.key);
  }

  /** Only HS256 with this key is accepted: `alg: none` and every other algorithm are invalid. */
  verify(token: string): VerifyResult {
    const invalid = { ok: false, reason: 'invalid' } as const;
    const parts = token.split('.');
    if (parts.length !== 3) return invalid;
    let header: ReturnType<typeof decodeProtectedHeader>;
    let payload: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
      payload = decodeJwt(token);
    } catch {
      return invalid;
    }
    if (header.alg !== 'HS256' || header.crit !== undefined) return invalid;
    const expected = createHmac('sha256', this.key).update(`${parts[0]}.${parts[1]}`).digest();
    // Node's base64url decoder skips characters it does not know and ignores spare bits: only the
    // one canonical spelling of the signature is accepted, so a token has exactly one valid form.
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || given.toString('base64url') !== parts[2] || !timingSafeEqual(given, expected)) return invalid;

    const { sub, did, sid, exp, nbf, iss } = payload;
    if (typeof sub !== 'string' || typeof did !== 'string' || typeof sid !== 'string' || typeof exp !== 'number' || iss !== this.issuer) return invalid;
    const nowSeconds = this.now() / 1000;
    if (typeof nbf === 'number' && nbf > nowSeconds) return invalid;
    if (exp <= nowSeconds) return { ok: false, reason: 'expired' };
    return { ok: true, claims: { userId: sub, deviceId: did, sessionId: sid }, expiresAt: exp * 1000 };
  }
}
