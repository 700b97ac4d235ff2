import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode } from '../support/server.ts';

describe('operations endpoints and HTTP edge cases', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { maxBodyBytes: 1024 } });
  });
  after(() => node.stop());

  it('reports alive, ready and metrics', async () => {
    assert.equal((await node.request('GET', '/healthz')).status, 200);
    const ready = await node.request('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.data.store, 'ok');
    const metrics = await fetch(`${node.baseUrl}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    const text = await metrics.text();
    for (const name of ['flametalk_connections', 'flametalk_messages_in_total', 'flametalk_bus_lag_events', 'flametalk_push_results_total', 'flametalk_send_ack_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });

  it('answers unknown routes with 404 in the envelope', async () => {
    const response = await node.request('GET', '/api/nothing-here');
    assert.equal(response.status, 404);
    assert.equal(response.body.status, 404);
  });

  it('refuses an oversized body with 413 and keeps serving', async () => {
    const response = await node.request('POST', '/api/auth/signin', { body: { email: 'a@b.co', password: 'x'.repeat(5000), deviceId: 'p' } });
    assert.equal(response.status, 413);
    assert.equal(response.body.status, 413);
    assert.equal((await node.request('GET', '/healthz')).status, 200);
  });

  it('refuses malformed JSON and a wrong content type with 4xx', async () => {
    const broken = await node.request('POST', '/api/auth/signin', { raw: '{"email":' });
    assert.equal(broken.status, 400);
    const wrongType = await node.request('POST', '/api/auth/signin', { raw: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrongType.status, 415);
  });
});
