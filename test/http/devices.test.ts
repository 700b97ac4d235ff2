import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode } from '../support/server.ts';

describe('devices over HTTP', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(() => node.stop());

  it('registers and removes this device\'s push token', async () => {
    const user = await node.signUp();
    assert.equal((await node.request('POST', '/api/device/token', { token: user.accessToken, body: { deviceToken: 'fcm-token-1' } })).status, 200);
    assert.deepEqual(await node.server.ports.store.deviceTokens([user.userId]), [{ userId: user.userId, deviceId: 'phone', token: 'fcm-token-1' }]);
    await node.request('POST', '/api/device/token', { token: user.accessToken, body: { deviceToken: 'fcm-token-2' } });
    assert.deepEqual((await node.server.ports.store.deviceTokens([user.userId])).map((t) => t.token), ['fcm-token-2'], 'one token per device');
    assert.equal((await node.request('DELETE', '/api/device/token', { token: user.accessToken })).status, 200);
    assert.deepEqual(await node.server.ports.store.deviceTokens([user.userId]), []);
    assert.equal((await node.request('POST', '/api/device/token', { token: user.accessToken, body: { deviceToken: '' } })).status, 400);
    assert.equal((await node.request('POST', '/api/device/token', { body: { deviceToken: 'x' } })).status, 401);
  });

  it('lists signed-in devices and signs another one out', async () => {
    const phone = await node.signUp();
    const laptop = await node.signIn(phone, 'laptop');
    const list = await node.request('GET', '/api/device', { token: phone.accessToken });
    assert.deepEqual(list.body.data.map((d: any) => [d.deviceId, d.current]).sort(), [['laptop', false], ['phone', true]]);
    assert.equal((await node.request('DELETE', '/api/device/laptop', { token: phone.accessToken })).status, 200);
    assert.equal((await node.request('GET', '/api/chatroom', { token: laptop.accessToken })).status, 401);
    assert.equal((await node.request('GET', '/api/chatroom', { token: phone.accessToken })).status, 200);
    assert.equal((await node.request('DELETE', '/api/device/laptop', { token: phone.accessToken })).status, 404);
  });
});
