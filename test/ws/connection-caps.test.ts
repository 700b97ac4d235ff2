import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { RawStomp, connectFrame, stompUrl } from '../support/stomp-client.ts';
import { TestSocket } from '../support/ws-client.ts';

/** A refused upgrade as the client sees it: the HTTP status and the envelope's code. */
function refusedUpgrade(url: string, token: string): Promise<{ status: number; code: string; message: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        req.destroy();
        const parsed = JSON.parse(body) as { message: string; data: { code: string } };
        resolve({ status: res.statusCode!, code: parsed.data.code, message: parsed.message });
      });
    });
    ws.once('error', reject);
  });
}

describe('connections per user are capped', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  const sockets: TestSocket[] = [];

  before(async () => {
    node = await startNode({ config: { maxConnectionsPerUser: 3 } });
    [ann, bob] = [await node.signUp('Ann'), await node.signUp('Bob')];
  });

  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await node.stop();
  });

  const open = async (user: TestUser, via: 'header' | 'query' = 'header'): Promise<TestSocket> => {
    const socket = await TestSocket.connect(node.wsUrl, user.accessToken, via);
    sockets.push(socket);
    // Answered only once admitted: the socket is really in.
    assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
    return socket;
  };

  it('refuses the cap+1-th upgrade of one user with 429, lets others in, and has room again once one closes', async () => {
    const first = await open(ann);
    await open(ann, 'query');
    // Another device of the same user counts too.
    const annTablet = await node.signIn(ann, 'tablet');
    await open(annTablet);

    const refused = await refusedUpgrade(node.wsUrl, ann.accessToken);
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'too_many_connections');
    assert.match(refused.message, /at most 3/);
    const stompRefused = await refusedUpgrade(stompUrl(node.server.addresses.wsPort), ann.accessToken);
    assert.equal(stompRefused.status, 429, 'every protocol counts against the same cap');

    const bobs = [await open(bob), await open(bob), await open(bob)];
    assert.equal(bobs.length, 3, 'another user has the whole cap');

    await first.close();
    const again = await open(ann);
    assert.equal((await again.call({ type: 'ping' })).type, 'pong');
    assert.equal((await refusedUpgrade(node.wsUrl, ann.accessToken)).status, 429, 'and it is full again');
  });

  it('lets exactly the cap in from a burst of parallel upgrades', async () => {
    const cat = await node.signUp('Cat');
    const burst = await Promise.allSettled(Array.from({ length: 20 }, () => TestSocket.connect(node.wsUrl, cat.accessToken)));
    const opened = burst.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    sockets.push(...opened);
    assert.equal(opened.length, 3);
    assert.deepEqual([...new Set(burst.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { status: number }).status] : [])))], [429]);
    for (const socket of opened) assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
  });

  it('closes a STOMP socket that names its user only in CONNECT over the cap with an ERROR and 4008', async () => {
    const raw = await RawStomp.open(stompUrl(node.server.addresses.wsPort));
    raw.send(connectFrame(ann.accessToken));
    const error = await raw.waitFor((frame) => frame.startsWith('ERROR'));
    assert.match(error, /too many connections/);
    assert.equal((await raw.closed).code, 4008);
  });
});

/** Opens a native socket with these headers; resolves with it once open, or with the HTTP status of the refusal. */
function openWith(url: string, headers: Record<string, string>): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      resolve(res.statusCode!);
    });
    ws.once('error', reject);
  });
}

describe('connections per client address are capped', () => {
  let node: TestNode;
  let exemptNode: TestNode;
  const sockets: TestSocket[] = [];

  before(async () => {
    node = await startNode({ config: { maxConnectionsPerIp: 4 } });
    exemptNode = await startNode({ config: { maxConnectionsPerIp: 4, limitExemptIps: ['127.0.0.1'] } });
  });

  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await Promise.all([node.stop(), exemptNode.stop()]);
  });

  it('refuses the cap+1-th upgrade from one address with 429, whoever the user', async () => {
    const users = [await node.signUp('Ann'), await node.signUp('Bob')];
    for (let i = 0; i < 4; i++) sockets.push(await TestSocket.connect(node.wsUrl, users[i % 2]!.accessToken));
    const refused = await refusedUpgrade(node.wsUrl, (await node.signUp('Cat')).accessToken);
    assert.equal(refused.status, 429);
    assert.equal(refused.code, 'too_many_connections');
    await sockets.pop()!.close();
    sockets.push(await TestSocket.connect(node.wsUrl, users[0]!.accessToken));
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const ann = await node.signUp('Ann');
    const forged = await openWith(node.wsUrl, { authorization: `Bearer ${ann.accessToken}`, 'x-forwarded-for': '203.0.113.9' });
    assert.equal(forged, 429, 'still counted as 127.0.0.1, which is full');
  });

  it('counts the client X-Forwarded-For names behind TRUSTED_PROXIES', async () => {
    const proxied = await startNode({ config: { maxConnectionsPerIp: 2, trustedProxies: ['loopback'] } });
    const opened: WebSocket[] = [];
    try {
      const ann = await proxied.signUp('Ann');
      const from = (client: string) => openWith(proxied.wsUrl, { authorization: `Bearer ${ann.accessToken}`, 'x-forwarded-for': `${client}, 127.0.0.1` });
      for (const client of ['203.0.113.7', '203.0.113.7', '203.0.113.8', '198.51.100.1']) {
        const socket = await from(client);
        assert.ok(socket instanceof WebSocket, `${client} gets in`);
        opened.push(socket);
      }
      assert.equal(await from('203.0.113.7'), 429, 'the third from one client is refused');
    } finally {
      for (const socket of opened) socket.terminate();
      await proxied.stop();
    }
  });

  it('never applies to an address in LIMIT_EXEMPT_IPS', async () => {
    const ann = await exemptNode.signUp('Ann');
    for (let i = 0; i < 6; i++) sockets.push(await TestSocket.connect(exemptNode.wsUrl, ann.accessToken));
    assert.equal((await sockets.at(-1)!.call({ type: 'ping' })).type, 'pong');
  });
});
