import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildHttpApp } from '../../src/http/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startNode, type TestNode } from '../support/server.ts';

describe('web app route', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { webAppWsUrl: 'wss://chat.example.com/ws' } });
  });
  after(() => node.stop());

  it('tells the app the configured WebSocket URL', async () => {
    const response = await fetch(`${node.baseUrl}/app/config.json`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(((await response.json()) as { data: unknown }).data, { wsUrl: 'wss://chat.example.com/ws' });
  });

  it('says how to build the app when there is no bundle', async () => {
    const s = node.server;
    const app = await buildHttpApp({
      ...s.chat, presence: s.ports.presence, store: s.ports.store, metrics: s.metrics, logger: s.logger, config: s.config,
      authenticate: async () => assert.fail('not called'), readiness: async () => ({}),
      webApp: { dir: '/nonexistent/web/', wsPort: () => 1 },
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/app/' });
      assert.equal(response.statusCode, 503);
      assert.match(response.json().message, /the web app is not built .*run `npm run build`/);
      assert.equal(response.json().data.code, 'web_app_not_built');
    } finally {
      await app.close();
    }
  });

  it('refuses a WEB_APP_WS_URL that is not a ws:// or wss:// URL', () => {
    assert.throws(() => loadConfig({ WEB_APP_WS_URL: 'http://chat.example.com/ws' }), /WEB_APP_WS_URL/);
  });
});
