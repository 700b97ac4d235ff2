import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode } from '../support/server.ts';

describe('metrics on their own port', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { metricsPort: 0 } });
  });
  after(() => node?.stop());

  it('serves /metrics on METRICS_PORT and not on the public port', async () => {
    const port = node.server.addresses.metricsPort;
    assert.ok(port && port !== node.server.addresses.httpPort, `metrics port ${port}`);
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(await metrics.text(), /^# TYPE flametalk_connections gauge/m);
    const publicPort = await node.request('GET', '/metrics');
    assert.equal(publicPort.status, 404);
    assert.equal(publicPort.body.data.code, 'no_route');
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/chatroom`)).status, 404, 'the metrics port serves nothing else');
  });

  it('names process metrics the standard way (process_*, nodejs_*)', async () => {
    const text = await (await fetch(`http://127.0.0.1:${node.server.addresses.metricsPort}/metrics`)).text();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.doesNotMatch(text, /^flametalk_process_|^flametalk_nodejs_/m, 'no project prefix on the standard names');
  });
});

describe('CORS', () => {
  let node: TestNode;
  const allowed = 'https://chat.example.com';
  before(async () => {
    node = await startNode({ config: { corsOrigins: [allowed, 'http://localhost:5173'] } });
  });
  after(() => node?.stop());

  const preflight = (origin: string) => fetch(`${node.baseUrl}/api/chatroom`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

  it('answers a preflight from an allowed origin with the methods and headers a client needs', async () => {
    const response = await preflight(allowed);
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), allowed);
    assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(response.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    const simple = await fetch(`${node.baseUrl}/healthz`, { headers: { origin: allowed } });
    assert.equal(simple.headers.get('access-control-allow-origin'), allowed);
    assert.match(simple.headers.get('access-control-expose-headers') ?? '', /retry-after/i);
  });

  it('refuses a preflight from another origin with 403, and gives it no CORS headers', async () => {
    const response = await preflight('https://evil.example');
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    const body = await response.json() as { data: { code: string }; message: string };
    assert.equal(body.data.code, 'cors_origin');
    assert.match(body.message, /evil\.example.*CORS_ORIGINS/);
    const simple = await fetch(`${node.baseUrl}/healthz`, { headers: { origin: 'https://evil.example' } });
    assert.equal(simple.headers.get('access-control-allow-origin'), null, 'the browser will not hand the answer to that page');
  });

  it('sends no CORS headers when CORS_ORIGINS is unset', async () => {
    const plain = await startNode();
    try {
      const response = await fetch(`${plain.baseUrl}/healthz`, { headers: { origin: allowed } });
      assert.equal(response.headers.get('access-control-allow-origin'), null);
    } finally {
      await plain.stop();
    }
  });
});

describe('operations settings', () => {
  it('reads CORS_ORIGINS and METRICS_PORT, and names the variable of a bad value', async () => {
    const { ConfigError, loadConfig } = await import('../../src/config/load.ts');
    const config = loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173', METRICS_PORT: '9464' });
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'http://localhost:5173']);
    assert.equal(config.metricsPort, 9464);
    for (const [env, value] of [['CORS_ORIGINS', 'a.example/path'], ['METRICS_PORT', '70000']] as const) {
      assert.throws(() => loadConfig({ [env]: value }), (error: unknown) => error instanceof ConfigError && error.message.includes(env), env);
    }
  });
});
