import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('the notifier', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  const log = () => (node.server.ports.pusher as LogPusher);

  before(async () => {
    node = await startNode({ config: { pushCoalesceMs: 400, rateLimitBurst: 100, rateLimitPerSecond: 100 } });
    [ann, bob, cat] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat')]);
  });
  after(() => node.stop());

  it('coalesces a burst: one push at once, one summary when the window ends, per device and room', async () => {
    const roomId = await node.createRoom(ann, [bob]);
    await node.request('POST', '/api/device/token', { token: bob.accessToken, body: { deviceToken: 'bob-burst' } });
    const sender = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await sender.join(roomId);
    for (let i = 0; i < 6; i++) await sender.sendText(roomId, `burst ${i}`);
    const forBob = () => log().sent.filter((p) => p.token === 'bob-burst');
    await waitFor(() => forBob().length === 2, 'the summary push', 5_000);
    await sleep(600);
    const [first, summary] = forBob();
    assert.equal(forBob().length, 2);
    assert.equal(first!.body, 'burst 0');
    assert.equal(summary!.body, 'burst 5 (+4 more)');
    assert.equal(summary!.data.count, '5');
    await sender.close();
  });

  it('drops a pending summary when the device signs out within the window', async () => {
    const eve = await node.signUp('Eve');
    const roomId = await node.createRoom(ann, [eve]);
    await node.request('POST', '/api/device/token', { token: eve.accessToken, body: { deviceToken: 'eve-leaving' } });
    const sender = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await sender.join(roomId);
    for (let i = 0; i < 3; i++) await sender.sendText(roomId, `held ${i}`);
    const forEve = () => log().sent.filter((p) => p.token === 'eve-leaving');
    await waitFor(() => forEve().length === 1, 'the first push', 5_000);
    assert.equal((await node.request('POST', '/api/auth/signout', { token: eve.accessToken })).status, 200);
    await sleep(1_000);
    assert.deepEqual(forEve().map((p) => p.body), ['held 0'], 'no summary after signing out');
    await sender.close();
  });

  it('never pushes to members who are in the room, nor to the sender', async () => {
    const roomId = await node.createRoom(ann, [cat]);
    await node.request('POST', '/api/device/token', { token: cat.accessToken, body: { deviceToken: 'cat-present' } });
    await node.request('POST', '/api/device/token', { token: ann.accessToken, body: { deviceToken: 'ann-sender' } });
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const c = await TestSocket.connect(node.wsUrl, cat.accessToken);
    await a.join(roomId);
    await c.join(roomId);
    await a.sendText(roomId, 'you are here');
    await c.next((f) => f.type === 'message');
    await sleep(300);
    assert.equal(log().sent.filter((p) => p.token === 'cat-present' || p.token === 'ann-sender').length, 0);
    await a.close();
    await c.close();
  });

  it('forgets a token the push service reports as unregistered', async () => {
    const dan = await node.signUp('Dan');
    const roomId = await node.createRoom(ann, [dan]);
    await node.request('POST', '/api/device/token', { token: dan.accessToken, body: { deviceToken: 'dan-uninstalled' } });
    log().unregistered.add('dan-uninstalled');
    await node.server.chat.messages.post({ userId: ann.userId, deviceId: 'phone', nickname: 'Ann' }, { roomId, messageType: 'TALK', contents: 'anyone?' });
    await waitFor(async () => (await node.server.ports.store.deviceTokens([dan.userId])).length === 0, 'the token to be removed');
  });
});
