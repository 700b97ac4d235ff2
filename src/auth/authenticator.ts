import type { DeviceId, UserId } from '../chat/model.ts';
import { unauthorized } from '../chat/errors.ts';
import type { TokenStore } from '../infra/ports/tokens.ts';
import type { AccessTokens } from './access-tokens.ts';

/** Who is calling: the user, the device, and (for flametalk's own tokens) the device session. */
export interface Identity {
  userId: UserId;
  deviceId: DeviceId;
  sessionId?: string;
  /** Offered by a host's own authentication for users flametalk has not seen before. */
  nickname?: string;
  /** When the credential stops being valid; open sockets are closed with 4001 then. */
  expiresAt?: number;
}

/** The parts of an HTTP request or WebSocket upgrade that authentication may look at. */
export interface AuthRequest {
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  query: URLSearchParams;
}

/** A host's own authentication: resolve the caller, or null to refuse with 401. */
export type AuthenticateFn = (request: AuthRequest) => Promise<Identity | null> | Identity | null;

/** `Authorization: Bearer`, FlameTalk's `ACCESS-TOKEN` header, or `?access_token=` (browsers cannot set socket headers). */
export function presentedToken(request: AuthRequest): string | undefined {
  const authorization = request.headers['authorization'];
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ?? '';
  }
  return request.headers['access-token'] || request.query.get('access_token') || undefined;
}

/** Verifies flametalk's access tokens: signature and expiry locally, then that the session was not revoked. */
export function tokenAuthenticator(accessTokens: AccessTokens, sessions: TokenStore) {
  return async (request: AuthRequest): Promise<Identity> => {
    const token = presentedToken(request);
    if (token === undefined) throw unauthorized('an access token is required', 'token_missing');
    const result = await accessTokens.verify(token);
    if (!result.ok) {
      throw result.reason === 'expired'
        ? unauthorized('the access token has expired', 'token_expired')
        : unauthorized('the access token is invalid', 'token_invalid');
    }
    if (!(await sessions.isActive(result.claims.sessionId))) {
      throw unauthorized('this device was signed out or revoked', 'token_revoked');
    }
    return { ...result.claims, expiresAt: result.expiresAt };
  };
}

/** Wraps a host's function so that refusals look like flametalk's own. */
export function customAuthenticator(authenticate: AuthenticateFn) {
  return async (request: AuthRequest): Promise<Identity> => {
    const identity = await authenticate(request);
    if (!identity) throw unauthorized('authentication failed', 'token_invalid');
    return identity;
  };
}
