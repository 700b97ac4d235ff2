import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_TOKEN_PARAMETER, type AuthRequest, type Identity } from '../auth/authenticator.ts';

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity;
  }
}

export type Authenticate = (request: AuthRequest) => Promise<Identity>;

export function authRequest(request: FastifyRequest): AuthRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value[0] : value;
  const query = new URLSearchParams(request.url.split('?')[1] ?? '');
  // Only the WebSocket upgrade takes a token in the URL (browsers cannot set socket headers): a URL
  // ends up in proxies' logs, browser history and Referer headers, so HTTP calls must use a header.
  query.delete(ACCESS_TOKEN_PARAMETER);
  return { headers, query };
}

/** Either header works; the OpenAPI document lists both. */
const SIGNED_IN: Array<Record<string, string[]>> = [{ bearer: [] }, { accessTokenHeader: [] }];

/** Every route registered inside `scope` requires a valid access token. */
export function requireAuth(scope: FastifyInstance, authenticate: Authenticate): void {
  scope.decorateRequest('identity', null as unknown as Identity);
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: SIGNED_IN };
  });
  scope.addHook('onRequest', async (request) => {
    request.identity = await authenticate(authRequest(request));
  });
}
