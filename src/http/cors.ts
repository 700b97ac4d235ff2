import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { send } from './envelope.ts';

/**
 * Cross-origin access for browsers on the configured origins (CORS_ORIGINS). Without the setting
 * nothing is sent and browsers keep the API same-origin. A preflight from an origin not on the list
 * is answered 403, so the refusal is visible in the browser's network panel rather than a bare 204.
 */
export async function corsFor(app: FastifyInstance, origins: string[] | undefined): Promise<void> {
  if (!origins) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (preflight && origin !== undefined && !any && !allowed.has(origin)) {
      return send(reply, 403, `origin ${origin} may not call this API (CORS_ORIGINS)`, { code: 'cors_origin' });
    }
  });
  await app.register(cors, {
    origin: any ? '*' : [...allowed],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'access-token', 'refresh-token'],
    // A client that was rate limited has to be able to read when to come back.
    exposedHeaders: ['retry-after'],
    maxAge: 600,
  });
}
