import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { memoryStorage } from '../../src/client/index.ts';
import { startNode } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TcpProxy, clientOf, received, signUp, states } from './support.ts';

/** Access tokens live 2 s (JWT times are whole seconds, so 1–2 s in fact): several expire during each test. */
const SHORT_TTL = { accessTokenTtlSeconds: 2, rateLimitPerSecond: 1000, rateLimitBurst: 1000 };

describe('client SDK: access token refresh', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('renews tokens ahead of expiry while the app chats, without a disconnect', async () => {
    const node = await startNode({ config: SHORT_TTL });
    cleanups.push(() => node.stop());
    const storage = memoryStorage();
    const annClient = clientOf(node, 'ann-phone', { storage });
    const bobClient = clientOf(node, 'bob-phone');
    cleanups.push(() => annClient.close(), () => bobClient.close());
    const [, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
    const { roomId } = await annClient.createRoom({ users: [bob.userId] });
    const annRoom = await annClient.join(roomId);
    const toBob = received(await bobClient.join(roomId));
    const annStates = states(annClient);
    const bobStates = states(bobClient);
    const firstRefreshToken = await storage.get('flametalk.session.ann-phone');

    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      sent.push((await annRoom.send(`tick ${i}`)).messageId);
      await sleep(400);
    }
    await waitFor(() => toBob.length === 12, 'Bob gets every message');
    assert.deepEqual(toBob.map((m) => m.messageId), sent);
    assert.deepEqual([annStates, bobStates], [[], []], 'neither client ever left the connected state');
    assert.notEqual(await storage.get('flametalk.session.ann-phone'), firstRefreshToken, 'the refresh token rotated');
    assert.equal((await annClient.listRooms()).length, 1, 'the HTTP API takes the current token');
  });

  it('when the token could not be renewed in time (4001), refreshes as soon as it can and recovers what was missed', async () => {
    const node = await startNode({ config: SHORT_TTL });
    cleanups.push(() => node.stop());
    // Bob reaches the HTTP API through a path the test cuts: his refreshes fail until it is back.
    const api = await TcpProxy.start(node.server.addresses.httpPort);
    cleanups.push(() => api.close());
    const annClient = clientOf(node, 'ann-phone');
    const bobClient = clientOf(node, 'bob-phone', { httpUrl: `http://127.0.0.1:${api.port}` });
    cleanups.push(() => annClient.close(), () => bobClient.close());
    const [, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
    const { roomId } = await annClient.createRoom({ users: [bob.userId] });
    const annRoom = await annClient.join(roomId);
    const toBob = received(await bobClient.join(roomId));
    await annRoom.send('before');
    await waitFor(() => toBob.length === 1, 'Bob has the first message');

    api.cut();
    await waitFor(() => bobClient.state === 'reconnecting', "the server closes Bob's socket when his token expires", 5_000);
    const missed = [await annRoom.send('while expired 1'), await annRoom.send('while expired 2')];
    api.restore();
    await waitFor(() => bobClient.state === 'connected', 'Bob is back with a new token', 5_000);
    await waitFor(() => toBob.length === 3, 'Bob gets what he missed');
    assert.deepEqual(toBob.slice(1).map((m) => m.messageId), missed.map((a) => a.messageId));
    const reply = await bobClient.send(roomId, 'back');
    assert.match(reply.messageId, /^[0-9]+$/);
  });
});
