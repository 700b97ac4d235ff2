import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { docsPage } from './docs-page.ts';

/** Where the OpenAPI document is served: flametalk's own path, and the one @fastify/swagger-ui reads. */
export const OPENAPI_PATHS = ['/api/openapi.json', '/docs/json'] as const;
/** The same document as a web page. */
export const DOCS_PAGE = '/docs';

/** src/http and dist/http sit at the same depth below package.json. */
const packageVersion = (): string => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const isDocument = (url: string): boolean => url === DOCS_PAGE || (OPENAPI_PATHS as readonly string[]).includes(url);

/** A path's area, for grouping: `/api/chatroom/:id` → `chatroom`, `/healthz` → `ops`. */
const tagOf = (url: string): string => (isDocument(url) ? 'docs' : url.startsWith('/api/') ? url.split('/')[2]! : 'ops');

/** FlameTalk's envelope; until routes declare their own response schemas, the document says at least this much. */
const envelope = (description: string, data: Record<string, unknown>) => ({
  description,
  type: 'object',
  required: ['status', 'message', 'data'],
  properties: { status: { type: 'integer', description: 'the HTTP status code again' }, message: { type: 'string' }, data },
});
const ENVELOPE_RESPONSES = {
  '2xx': envelope('Success', { description: 'what the endpoint returns' }),
  '4xx': envelope('Refused: bad input (400), token (401), not a member (403), unknown (404), taken (409), too large (413), too many (429)', {
    type: 'object', required: ['code'], properties: { code: { type: 'string', description: 'stable error code, e.g. bad_request, token_expired, rate_limited' } },
  }),
};

/**
 * Builds the OpenAPI 3.1 document from the route schemas as they are registered (3.1, because
 * its schemas are JSON Schema: `type: "null"` and the rest mean what ajv takes them to mean).
 * Register before any route.
 */
export async function openApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'flametalk HTTP API',
        version: packageVersion(),
        description: 'FlameTalk-compatible HTTP API. Every response is the envelope `{status, message, data}` with the real HTTP '
          + 'status code; errors carry `data.code`. Realtime traffic is on the WebSocket port (`/ws`, STOMP at `/stomp/chat`), '
          + 'described in the README.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The accessToken from sign-in, sign-up or refresh' },
          accessTokenHeader: { type: 'apiKey', in: 'header', name: 'ACCESS-TOKEN', description: "FlameTalk's original header" },
        },
      },
    },
    // Documentation only: what the document says, not how requests are validated or replies serialised.
    transform: ({ schema, url }) => {
      const tag = tagOf(url);
      const response = schema?.response ?? (tag === 'docs' || url === '/metrics' ? undefined : ENVELOPE_RESPONSES);
      return { schema: { ...schema, tags: schema?.tags ?? [tag], ...(response ? { response } : {}) } as typeof schema, url };
    },
  });

  for (const path of OPENAPI_PATHS) {
    app.get(path, { schema: { summary: 'This OpenAPI document' } }, async (_request, reply) => reply.type('application/json').send(app.swagger()));
  }
  // Rendered once, on the first visit: the routes are all registered by then.
  let page: string | undefined;
  app.get(DOCS_PAGE, { schema: { summary: 'This API reference as a web page' } }, async (_request, reply) => {
    page ??= docsPage(app.swagger() as Parameters<typeof docsPage>[0], OPENAPI_PATHS[1]);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(page);
  });
}
