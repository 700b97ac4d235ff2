import type { DeviceId, UserId } from '../chat/model.ts';
import { unauthorized } from '../chat/errors.ts';
import type { TokenStore } from '../infra/ports/tokens.ts';
import type { AccessTokens } from './access-tokens.ts';
import type { RevokedSessions } from './revoked-sessions.ts';

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

/**
 * A host's own authentication: the caller, or null to refuse. Answering synchronously lets a
 * refused WebSocket upgrade get HTTP 401; a promise is awaited after the upgrade and a refusal
 * closes the socket with 4001.
 */
export type AuthenticateFn = (request: AuthRequest) => Promise<Identity | null> | Identity | null;

/** Decides from the request alone, synchronously (the WebSocket upgrade), or hands back a promise. */
export type QuickAuthenticate = (request: AuthRequest) => Identity | Promise<Identity>;

/** The query parameter a WebSocket upgrade may carry its token in. */
export const ACCESS_TOKEN_PARAMETER = 'access_token';

/** `Authorization: Bearer`, FlameTalk's `ACCESS-TOKEN` header, or `?access_token=` (browsers cannot set socket headers). */
export function presentedToken(request: AuthRequest): string | undefined {
  const authorization = request.headers['authorization'];
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1] ?? '';
  }
  return request.headers['access-token'] || request.query.get(ACCESS_TOKEN_PARAMETER) || undefined;
}

/** A URL as it may be logged or shown: an access token in its query replaced. */
export function withoutAccessToken(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  // Parsed, not matched: `access%5Ftoken=` is the same parameter to the upgrade.
  const query = new URLSearchParams(url.slice(at + 1));
  if (!query.has(ACCESS_TOKEN_PARAMETER)) return url;
  query.set(ACCESS_TOKEN_PARAMETER, 'redacted');
  return `${url.slice(0, at)}?${query}`;
}

/**
 * Checks flametalk's access tokens locally: signature, expiry, and the revocations this node
 * heard of. Whether the session is still active in the token store is checked by `sessionActive`.
 */
export function tokenAuthenticator(accessTokens: AccessTokens, revoked: RevokedSessions): QuickAuthenticate {
  return (request) => {
    const token = presentedToken(request);
    if (token === undefined) throw unauthorized('an access token is required', 'token_missing');
    const result = accessTokens.verify(token);
    if (!result.ok) {
      throw result.reason === 'expired'
        ? unauthorized('the access token has expired', 'token_expired')
        : unauthorized('the access token is invalid', 'token_invalid');
    }
    if (revoked.has(result.claims.sessionId)) throw revokedError();
    // Spelled out, not spread: V8 gave each spread copy a hidden class of its own (~250 bytes per socket).
    const { userId, deviceId, sessionId } = result.claims;
    return { userId, deviceId, sessionId, expiresAt: result.expiresAt };
  };
}

export const revokedError = () => unauthorized('this device was signed out or revoked', 'token_revoked');

/** The authoritative check: the device session still exists in the (shared) token store. */
export async function sessionActive(identity: Identity, sessions: TokenStore): Promise<void> {
  if (identity.sessionId !== undefined && !(await sessions.isActive(identity.sessionId))) throw revokedError();
}

/** Wraps a host's function so that refusals look like flametalk's own. */
export function customAuthenticator(authenticate: AuthenticateFn): QuickAuthenticate {
  const refuse = (identity: Identity | null): Identity => {
    if (!identity) throw unauthorized('authentication failed', 'token_invalid');
    return identity;
  };
  return (request) => {
    const answer = authenticate(request);
    return isPromise(answer) ? answer.then(refuse) : refuse(answer);
  };
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
