import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createChatServer, type ChatServer, type Identity, type RoomEvent } from '../../src/index.ts';
import { TestSocket } from '../support/ws-client.ts';

/** The host's own users and sessions: `Authorization: Host <name>`. */
const HOST_USERS: Record<string, { id: string; name: string }> = {
  alice: { id: 'host-user-alice', name: 'Alice (host)' },
  bruno: { id: 'host-user-bruno', name: 'Bruno (host)' },
};

function hostIdentity(header: string | undefined): Identity | null {
  const user = HOST_USERS[/^Host (\w+)$/.exec(header ?? '')?.[1] ?? ''];
  return user ? { userId: user.id, deviceId: 'web', nickname: user.name } : null;
}

describe('embedding flametalk in a host process', () => {
  let chat: ChatServer;
  let host: Server;
  let hostUrl: string;
  const signalListeners = process.listenerCount('SIGTERM');
  const events: RoomEvent[] = [];

  before(async () => {
    process.env.HTTP_PORT = 'not-a-port';
    chat = createChatServer({
      config: { wsPort: 0, logLevel: 'silent', pushCoalesceMs: 0, embeddedStorage: 'memory' },
      authenticate: ({ headers, query }) => hostIdentity(headers['authorization'] ?? (query.get('host') ? `Host ${query.get('host')}` : undefined)),
      listenHttp: false,
    });
    await chat.start();
    chat.events.on('roomEvent', (event) => events.push(event));
    host = createServer((request, response) => {
      if (request.url === '/host/hello') return response.end('hello from the host');
      chat.handleHttp(request, response);
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  });
  after(async () => {
    delete process.env.HTTP_PORT;
    await chat.stop();
    await new Promise((resolve) => host.close(resolve));
  });

  const api = async (path: string, who: string | undefined, init: { method?: string; body?: unknown } = {}) => {
    const response = await fetch(`${hostUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(who ? { authorization: `Host ${who}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    return { status: response.status, body: await response.json() as any };
  };

  it('serves the API from the host\'s own HTTP server with the host\'s authentication', async () => {
    assert.equal(await (await fetch(`${hostUrl}/host/hello`)).text(), 'hello from the host');
    assert.equal((await api('/api/chatroom', undefined)).status, 401);
    assert.equal((await api('/api/chatroom', 'mallory')).status, 401);
    await api('/api/chatroom', 'bruno'); // Bruno becomes known to flametalk on first contact.
    const created = await api('/api/chatroom', 'alice', { method: 'POST', body: { users: [HOST_USERS.bruno!.id] } });
    assert.equal(created.status, 201);
    assert.equal(created.body.data.title, 'Bruno (host)', 'the host\'s display names are used');
  });

  it('authenticates sockets with the host\'s function and delivers between them', async () => {
    const roomId = (await api('/api/chatroom', 'alice', { method: 'POST', body: { users: [HOST_USERS.bruno!.id] } })).body.data.roomId;
    const wsUrl = `ws://127.0.0.1:${chat.addresses.wsPort}/ws`;
    await assert.rejects(TestSocket.connect(`${wsUrl}?host=mallory`, undefined), (error: any) => error.status === 401);
    const alice = await TestSocket.connect(`${wsUrl}?host=alice`, undefined);
    const bruno = await TestSocket.connect(`${wsUrl}?host=bruno`, undefined);
    await alice.join(roomId);
    await bruno.join(roomId);
    const ack = await alice.sendText(roomId, 'hi from the host app');
    const got = await bruno.next((f) => f.type === 'message');
    assert.equal(got.message.messageId, ack.messageId);
    assert.equal(got.message.nickname, 'Alice (host)');
    assert.ok(events.some((e) => e.kind === 'message' && e.message.messageId === ack.messageId), 'the host hears room events');
    await alice.close();
    await bruno.close();
  });

  it('leaves the process alone: no signal handlers, no environment', () => {
    assert.equal(process.listenerCount('SIGTERM'), signalListeners);
    assert.equal(chat.config.httpPort, 8080, 'HTTP_PORT in the environment was not read');
  });

  it('closes a socket with 4001 when an asynchronous host check refuses it', async () => {
    const strict = createChatServer({
      config: { wsPort: 0, logLevel: 'silent', embeddedStorage: 'memory' },
      listenHttp: false,
      authenticate: async ({ query }) => (query.get('host') === 'alice' ? { userId: HOST_USERS.alice!.id, deviceId: 'web' } : null),
    });
    await strict.start();
    try {
      const wsUrl = `ws://127.0.0.1:${strict.addresses.wsPort}/ws`;
      const refused = await TestSocket.connect(`${wsUrl}?host=mallory`, undefined);
      assert.equal((await refused.closed).code, 4001);
      const welcome = await TestSocket.connect(`${wsUrl}?host=alice`, undefined);
      assert.equal((await welcome.call({ type: 'ping' })).type, 'pong');
      await welcome.close();
    } finally {
      await strict.stop();
    }
  });
});

describe('starting on a port that is taken', () => {
  it('fails with the reason and leaves nothing running', async () => {
    const first = createChatServer({ config: { httpPort: 0, wsPort: 0, logLevel: 'silent', embeddedStorage: 'memory' } });
    const { wsPort } = await first.start();
    const second = createChatServer({ config: { httpPort: 0, wsPort, logLevel: 'silent', embeddedStorage: 'memory' } });
    await assert.rejects(second.start(), /cannot listen for WebSockets/);
    await first.stop();
  });
});
