import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import WebSocket from 'ws';
import { ProcessNode } from '../support/process-node.ts';
import { ApiClient, TEST_JWT_SECRET, startNode, type TestNode } from '../support/server.ts';
import { RawStomp, stompUrl } from '../support/stomp-client.ts';
import { claimsOf, forgeAccessToken } from '../support/tokens.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** Opens a native socket at `url` exactly as given; resolves with 101 once open, or the HTTP status of the refusal. */
function upgrade(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      resolve(res.statusCode!);
    });
    ws.once('error', reject);
  });
}

interface Server {
  api: ApiClient;
  wsPort: number;
  /** Every log line written so far. */
  lines(): string[];
}

/**
 * Access tokens in a URL (`?access_token=`) are for the WebSocket upgrade only (browsers cannot
 * set socket headers): the HTTP API does not take them, and no log line or error message quotes
 * one, whether the token was good, expired or forged. Checked on the real process with its own
 * logger (stdout captured) and on an embedded server with a host's plain pino logger.
 */
async function exercise(server: Server): Promise<void> {
  const { api, wsPort } = server;
  const ann = await api.signUp('Ann');
  const token = ann.accessToken;
  const expired = await forgeAccessToken(claimsOf(token), { expiresInSeconds: -60 });
  const forged = await forgeAccessToken(claimsOf(token), { secret: 'not-the-server-key-but-long-enough-to-sign' });
  const secrets = [token, expired, forged];
  const ws = `ws://127.0.0.1:${wsPort}/ws`;
  const query = (value: string): string => `access_token=${encodeURIComponent(value)}`;

  // The upgrade takes a token in the query, and refuses bad ones with 401.
  const socket = await TestSocket.connect(ws, token, 'query');
  assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
  await socket.close();
  assert.equal(await upgrade(`${ws}?${query(expired)}`), 401);
  assert.equal(await upgrade(`${ws}?${query(forged)}`), 401);
  assert.equal(await upgrade(`${ws}?lang=ko&access%5Ftoken=${encodeURIComponent(token)}`), 101, 'an escaped parameter name is the same parameter');
  const stomp = await RawStomp.open(`${stompUrl(wsPort)}?${query(token)}`);
  stomp.ws.close();
  await stomp.closed;

  // The HTTP API does not: without a header it is 401, with one the header decides.
  const withoutHeader = await api.request('GET', `/api/chatroom?${query(token)}`);
  assert.equal(withoutHeader.status, 401);
  assert.equal(withoutHeader.body.data.code, 'token_missing');
  assert.equal((await api.request('GET', `/api/chatroom?${query(token)}`, { token })).status, 200);
  assert.equal((await api.request('GET', `/api/chatroom?${query(expired)}`)).status, 401);
  const unknown = await api.request('GET', `/api/nowhere?${query(forged)}`);
  assert.equal(unknown.status, 404);
  for (const answer of [withoutHeader, unknown]) {
    for (const secret of secrets) assert.ok(!JSON.stringify(answer.body).includes(secret), 'no error message quotes the token');
  }

  const lines = await waitFor(() => {
    const all = server.lines();
    return all.some((line) => line.includes('/api/nowhere')) ? all : undefined;
  }, 'the last request in the log', 10_000);
  const parsed = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>);
  const upgrades = parsed.filter((line) => line.msg === 'WebSocket upgrade');
  assert.deepEqual([...new Set(upgrades.filter((u) => u.path === '/ws').map((u) => u.status))].sort(), [101, 401], 'the upgrades were logged');
  assert.ok(upgrades.some((u) => u.path === '/stomp/chat' && u.status === 101));
  const requests = parsed.filter((line) => line.msg === 'HTTP request');
  assert.ok(requests.some((r) => r.url === '/api/chatroom?access_token=redacted' && r.statusCode === 401), 'the HTTP requests were logged');
  assert.ok(requests.some((r) => r.url === '/api/nowhere?access_token=redacted' && r.statusCode === 404));

  for (const secret of secrets) {
    const signature = secret.split('.')[2]!;
    const quoting = lines.filter((line) => line.includes(signature));
    assert.deepEqual(quoting, [], 'no log line carries a token');
  }
}

describe('access tokens in URLs', { timeout: 120_000 }, () => {
  let processNode: ProcessNode;
  let embedded: TestNode;
  const hostLog: string[] = [];

  before(async () => {
    processNode = await ProcessNode.start({
      EMBEDDED_STORAGE: 'memory', HTTP_PORT: '0', WS_PORT: '0', LOG_LEVEL: 'debug', LOG_PRETTY: 'false', JWT_SECRET: TEST_JWT_SECRET,
    }, { name: 'debug-logging' });
    embedded = await startNode({ logger: pino({ level: 'trace' }, { write: (line: string) => void hostLog.push(line.trimEnd()) }) });
  });

  after(async () => {
    await Promise.allSettled([processNode?.stop(), embedded?.stop()]);
  });

  it('are taken by the upgrade only and never logged (the server process, LOG_LEVEL=debug)', async () => {
    await exercise({ api: processNode, wsPort: processNode.wsPort, lines: () => processNode.stdout });
  });

  it('are never logged through a host\'s own pino logger either (trace level)', async () => {
    await exercise({ api: embedded, wsPort: embedded.server.addresses.wsPort, lines: () => hostLog });
  });
});
