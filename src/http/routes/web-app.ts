import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ok, send } from '../envelope.ts';

export interface WebAppOptions {
  /** The built app (index.html, app.js, app.css); default `dist/web` of this package. */
  dir?: string;
  /** The WebSocket port actually bound (known only once the socket server listens). */
  wsPort: () => number;
  /** Where the app connects instead of ws://<page host>:<wsPort>/ws (a proxy, TLS). */
  wsUrl?: string;
}

/**
 * src/http/routes and dist/http/routes sit at the same depth below package.json, so this finds the
 * bundle `npm run build` writes whether the server runs from source (tsx) or from dist.
 */
export const DEFAULT_WEB_APP_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

// The bundle loads only its own script and style; the API and the socket are the only connections.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
  "connect-src 'self' ws: wss:", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join('; ');

function secureHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  // A new build must reach a reload at once; the files are small.
  reply.header('cache-control', 'no-cache');
}

/** The web chat app at /app/ (and / redirects there), plus /app/config.json telling it where the socket is. */
export async function webAppRoutes(app: FastifyInstance, options: WebAppOptions): Promise<void> {
  const dir = options.dir ?? DEFAULT_WEB_APP_DIR;
  const hide = { schema: { hide: true } };

  app.get('/', hide, async (_request, reply) => reply.redirect('/app/'));
  app.get('/app', hide, async (_request, reply) => reply.redirect('/app/'));

  app.get('/app/config.json', hide, async (request, reply) => {
    const scheme = request.protocol === 'https' ? 'wss' : 'ws';
    // The page's host without its port (fastify 5's hostname): the socket has a port of its own.
    const wsUrl = options.wsUrl ?? `${scheme}://${request.hostname}:${options.wsPort()}/ws`;
    reply.header('cache-control', 'no-store');
    return ok(reply, 'web app settings', { wsUrl });
  });

  if (!existsSync(`${dir}/index.html`)) {
    const notBuilt = (reply: FastifyReply) =>
      send(reply, 503, `the web app is not built (no ${dir}index.html): run \`npm run build\``, { code: 'web_app_not_built' });
    app.get('/app/', hide, async (_request, reply) => notBuilt(reply));
    app.get('/app/*', hide, async (_request, reply) => notBuilt(reply));
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/app/',
    index: 'index.html',
    schemaHide: true,
    cacheControl: false,
    setHeaders: (reply) => secureHeaders(reply),
  });
}
