import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode } from '../support/server.ts';

/** Sends `body` in chunks without a Content-Length, so the server can only find out by counting. */
function postChunked(url: string, chunks: string[]): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    // The server may answer and close before every chunk is written: that is the point.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('HTTP body size limit', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { maxBodyBytes: 2048 } });
  });
  after(() => node.stop());

  const signInBody = (passwordLength: number) => ({ email: 'ann@example.com', password: 'x'.repeat(passwordLength), deviceId: 'phone' });

  it('answers a body over MAX_BODY_BYTES with 413 naming the limit', async () => {
    const response = await node.request('POST', '/api/auth/signup', { body: { ...signInBody(4000), nickname: 'Ann' } });
    assert.equal(response.status, 413);
    assert.deepEqual(response.body.data, { code: 'body_too_large', limitBytes: 2048 });
    assert.equal(response.body.message, 'the request body is larger than the limit of 2048 bytes (MAX_BODY_BYTES)');
  });

  it('also catches an oversized body sent without a Content-Length', async () => {
    const chunks = [JSON.stringify(signInBody(100)).slice(0, -1), ...Array.from({ length: 10 }, () => ` ${' '.repeat(500)}`), '}'];
    const response = await postChunked(`${node.baseUrl}/api/auth/signin`, chunks);
    assert.equal(response.status, 413);
    assert.equal(response.body.data.code, 'body_too_large');
  });

  it('accepts a body of exactly MAX_BODY_BYTES, refuses one byte more, and keeps serving', async () => {
    const user = await node.signUp();
    const json = JSON.stringify({ email: user.email, password: user.password, deviceId: 'phone' });
    const padded = (bytes: number) => `${json.slice(0, -1)}${' '.repeat(bytes - json.length)}}`;
    assert.equal((await node.request('POST', '/api/auth/signin', { raw: padded(2049) })).status, 413);
    assert.equal((await node.request('POST', '/api/auth/signin', { raw: padded(2048) })).status, 200);
    assert.equal((await node.request('GET', '/healthz')).status, 200);
  });

  it('refuses a bad MAX_BODY_BYTES at start with a message naming it', async () => {
    await assert.rejects(startNode({ config: { maxBodyBytes: 0 } }), /MAX_BODY_BYTES \(maxBodyBytes\) must be >= 1/);
  });
});
