import { SignJWT } from 'jose';
import { TEST_JWT_SECRET } from './server.ts';

const key = (secret: string) => new TextEncoder().encode(secret);

/** Access tokens made outside the server, for the 401 cases. */
export async function forgeAccessToken(claims: { userId: string; deviceId: string; sessionId: string }, options: { secret?: string; expiresInSeconds?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ did: claims.deviceId, sid: claims.sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuer('flametalk')
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + (options.expiresInSeconds ?? 600))
    .sign(key(options.secret ?? TEST_JWT_SECRET));
}

/** An unsigned token (`alg: none`) carrying a real session's claims. */
export function unsignedToken(claims: { userId: string; deviceId: string; sessionId: string }): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: claims.userId, did: claims.deviceId, sid: claims.sessionId, iss: 'flametalk', exp: now + 600 })}.`;
}

/** The claims inside one of the server's access tokens. */
export function claimsOf(accessToken: string): { userId: string; deviceId: string; sessionId: string } {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { sub: string; did: string; sid: string };
  return { userId: payload.sub, deviceId: payload.did, sessionId: payload.sid };
}
