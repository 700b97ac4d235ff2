import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthRequest, Identity } from '../auth/authenticator.ts';

declare module 'fastify' {
  interface FastifyRequest {
    identity: Identity;
  }
}

export type Authenticate = (request: AuthRequest) => Promise<Identity>;

export function authRequest(request: FastifyRequest): AuthRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value[0] : value;
  return { headers, query: new URLSearchParams(request.url.split('?')[1] ?? '') };
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
