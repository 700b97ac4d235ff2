import { SignJWT, jwtVerify, errors } from 'jose';
import type { DeviceId, UserId } from '../chat/model.ts';

export interface AccessClaims {
  userId: UserId;
  deviceId: DeviceId;
  sessionId: string;
}

export type VerifyResult = { ok: true; claims: AccessClaims; expiresAt: number } | { ok: false; reason: 'expired' | 'invalid' };

/** Short-lived HS256 JWTs that every node verifies locally with the shared key. */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly issuer: string, private readonly ttlSeconds: number) {
    this.key = new TextEncoder().encode(secret);
  }

  sign(claims: AccessClaims): Promise<string> {
    return new SignJWT({ did: claims.deviceId, sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** Only HS256 with this key is accepted; `alg: none` and every other algorithm are invalid. */
  async verify(token: string): Promise<VerifyResult> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: this.issuer, requiredClaims: ['sub', 'exp'] });
      const { sub, did, sid, exp } = payload;
      if (typeof sub !== 'string' || typeof did !== 'string' || typeof sid !== 'string') return { ok: false, reason: 'invalid' };
      return { ok: true, claims: { userId: sub, deviceId: did, sessionId: sid }, expiresAt: (exp ?? 0) * 1000 };
    } catch (error) {
      return { ok: false, reason: error instanceof errors.JWTExpired ? 'expired' : 'invalid' };
    }
  }
}
