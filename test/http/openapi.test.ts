import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../../src/http/app.ts';
import { startNode, type TestNode } from '../support/server.ts';

/** Every method and path the router knows, read from fastify's own route tree (HEAD is implied by GET). */
function routerRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.push(`${method} ${stack.join('')}`);
  }
  return routes.sort();
}

/** The same, as the document lists them (`{id}` back to fastify's `:id`). */
function documentedRoutes(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    .sort();
}

describe('OpenAPI document', () => {
  let node: TestNode;
  let document: any;
  before(async () => {
    node = await startNode();
    const response = await fetch(`${node.baseUrl}/api/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    document = await response.json();
  });
  after(() => node.stop());

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(document.openapi, '3.1.0');
    assert.equal(document.info.version, (await import('../../package.json', { with: { type: 'json' } })).default.version);
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(document));
  });

  it('lists every route the server answers, and nothing else', async () => {
    // A second app over the running node's services, to read fastify's own route table.
    const s = node.server;
    const app = await buildHttpApp({
      ...s.chat, presence: s.ports.presence, store: s.ports.store, metrics: s.metrics, logger: s.logger, config: s.config,
      authenticate: async () => assert.fail('not called'), readiness: async () => ({}),
    });
    try {
      await app.ready();
      const routes = routerRoutes(app);
      assert.ok(routes.length >= 20, `read ${routes.length} routes from the router`);
      assert.deepEqual(documentedRoutes(document), routes);
    } finally {
      await app.close();
    }
  });

  it('carries the route schemas: bodies, parameters and which routes need a token', () => {
    const signUp = document.paths['/api/auth/signup'].post;
    const body = signUp.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['email', 'password', 'nickname', 'deviceId']);
    assert.equal(body.properties.email.format, 'email');
    assert.equal(signUp.security, undefined, 'signing up needs no token');

    const history = document.paths['/api/chat/history/{roomId}'].get;
    assert.deepEqual(history.parameters.map((p: any) => `${p.in}:${p.name}`).sort(), ['path:roomId', 'query:before', 'query:lastReadMessageId', 'query:limit']);
    assert.deepEqual(history.security, [{ bearer: [] }, { accessTokenHeader: [] }]);
    assert.deepEqual(Object.keys(document.components.securitySchemes).sort(), ['accessTokenHeader', 'bearer']);

    const rename = document.paths['/api/chatroom/{id}'].put.requestBody.content['application/json'].schema;
    assert.deepEqual(rename.properties.title.anyOf[1], { type: 'null' }, 'null resets the title: expressible because the document is 3.1');
    assert.ok(signUp.responses['4XX'] ?? signUp.responses['4xx'], 'the error envelope is described');
  });

  it('is served at /docs/json too', async () => {
    const response = await fetch(`${node.baseUrl}/docs/json`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), document);
  });

  it('has a docs page at /docs listing every operation, without scripts', async () => {
    const response = await fetch(`${node.baseUrl}/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await response.text();
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /href="\/docs\/json"/);
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item).filter((m) => ['get', 'post', 'put', 'delete'].includes(m))) {
        const escaped = path.replaceAll('{', '\\{').replaceAll('}', '\\}');
        assert.match(html, new RegExp(`<code>${method.toUpperCase()}</code></td><td><code>${escaped}</code>`), `${method} ${path}`);
      }
    }
    assert.match(html, /<code>muted\?<\/code>: boolean/, 'body fields are listed, optional ones marked');
  });

  it('does not need a token, and authenticated routes still do', async () => {
    assert.equal((await fetch(`${node.baseUrl}/api/openapi.json`, { headers: { authorization: 'Bearer nonsense' } })).status, 200);
    assert.equal((await node.request('GET', '/api/chatroom')).status, 401);
  });
});
