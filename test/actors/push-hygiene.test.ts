import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeFcm, type Delivered, type FakeFcm } from '../support/fake-fcm.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * Push-token hygiene and the push payload, end to end: the server's own FcmPusher (firebase-admin)
 * sends to the local FCM fake, so what is asserted is what FCM would have received.
 */
describe('push tokens and payloads through firebase-admin', { timeout: 120_000 }, () => {
  let fcm: FakeFcm;
  let node: TestNode;
  let ann: TestUser;

  before(async () => {
    fcm = await startFakeFcm();
    // No refresh reuse grace: a refresh token used a second time is theft at once.
    node = await startNode({ config: { fcmServiceAccount: fcm.serviceAccountPath, fcmLoopbackPort: fcm.port, refreshReuseGraceMs: 0 } });
    ann = await node.signUp('Ann');
  });
  after(async () => {
    await node?.stop();
    await fcm?.close();
  });

  const register = async (user: TestUser, deviceToken: string): Promise<void> => {
    const response = await node.request('POST', '/api/device/token', { token: user.accessToken, body: { deviceToken } });
    assert.equal(response.status, 200, response.body.message);
  };

  /** Ann posts; resolves once the push to `control` arrived, so every push of that message has been sent. */
  const post = async (roomId: string, contents: string, control: string, sender: TestUser = ann): Promise<Delivered[]> => {
    const { messageId } = await node.server.chat.messages.post(
      { userId: sender.userId, deviceId: sender.deviceId, nickname: sender.nickname }, { roomId, messageType: 'TALK', contents },
    );
    const ofMessage = () => fcm.delivered.filter((d) => d.data.messageId === messageId);
    await waitFor(() => ofMessage().some((d) => d.token === control), `the push to ${control}`, 10_000, 20);
    await sleep(100);
    return ofMessage();
  };
  const tokensOf = (deliveries: Delivered[]) => deliveries.map((d) => d.token).sort();

  it('a device that signs out gets no more pushes, and its token is deleted', async () => {
    const bob = await node.signUp('Bob', 'bob-phone');
    const tablet = await node.signIn(bob, 'bob-tablet');
    const roomId = await node.createRoom(ann, [bob]);
    await register(bob, 'bob-phone-token');
    await register(tablet, 'bob-tablet-token');
    assert.deepEqual(tokensOf(await post(roomId, 'before', 'bob-phone-token')), ['bob-phone-token', 'bob-tablet-token']);

    assert.equal((await node.request('POST', '/api/auth/signout', { token: tablet.accessToken })).status, 200);
    assert.deepEqual(tokensOf(await post(roomId, 'after', 'bob-phone-token')), ['bob-phone-token']);
    assert.deepEqual((await node.server.ports.store.deviceTokens([bob.userId])).map((t) => t.deviceId), ['bob-phone']);
  });

  it('a device signed out from another device gets no more pushes', async () => {
    const cat = await node.signUp('Cat', 'cat-phone');
    const laptop = await node.signIn(cat, 'cat-laptop');
    const roomId = await node.createRoom(ann, [cat]);
    await register(cat, 'cat-phone-token');
    await register(laptop, 'cat-laptop-token');
    const revoke = await node.request('DELETE', '/api/device/cat-laptop', { token: cat.accessToken });
    assert.equal(revoke.status, 200);
    assert.deepEqual(tokensOf(await post(roomId, 'hello', 'cat-phone-token')), ['cat-phone-token']);
  });

  it('a device revoked for reusing a refresh token gets no more pushes', async () => {
    const dan = await node.signUp('Dan', 'dan-phone');
    const stolen = await node.signIn(dan, 'dan-tablet');
    const roomId = await node.createRoom(ann, [dan]);
    await register(dan, 'dan-phone-token');
    await register(stolen, 'dan-tablet-token');
    const first = await node.request('POST', '/api/auth/token', { body: { refreshToken: stolen.refreshToken } });
    assert.equal(first.status, 200);
    const reused = await node.request('POST', '/api/auth/token', { body: { refreshToken: stolen.refreshToken } });
    assert.equal(reused.status, 401);
    assert.equal(reused.body.data.code, 'refresh_reused');
    assert.deepEqual(tokensOf(await post(roomId, 'hello', 'dan-phone-token')), ['dan-phone-token']);
  });

  it('an account that left gets no more pushes on any device', async () => {
    const eve = await node.signUp('Eve', 'eve-phone');
    const control = await node.signUp('Fay', 'fay-phone');
    const roomId = await node.createRoom(ann, [eve, control]);
    await register(eve, 'eve-phone-token');
    await register(control, 'fay-phone-token');
    assert.equal((await node.request('DELETE', '/api/auth/leave', { token: eve.accessToken })).status, 200);
    assert.deepEqual(tokensOf(await post(roomId, 'hello', 'fay-phone-token')), ['fay-phone-token']);
    assert.deepEqual(await node.server.ports.store.deviceTokens([eve.userId]), []);
  });

  it('a phone that changes hands: the token registered by a second account leaves the first one, which gets no more pushes', async () => {
    const eve = await node.signUp('Eve', 'eve-phone');
    const fay = await node.signUp('Fay', 'fay-phone');
    const roomId = await node.createRoom(ann, [eve, fay]);
    await register(eve, 'handed-on-token');
    assert.deepEqual(tokensOf(await post(roomId, 'to Eve', 'handed-on-token')), ['handed-on-token']);
    // Eve sells the phone; Fay signs in on it and the app registers the same FCM token.
    await register(fay, 'handed-on-token');
    assert.deepEqual(await node.server.ports.store.deviceTokens([eve.userId]), [], 'the first copy is gone');
    assert.deepEqual((await node.server.ports.store.deviceTokens([fay.userId])).map((t) => t.token), ['handed-on-token']);
    const fromEve = await post(roomId, 'from Eve', 'handed-on-token', eve);
    assert.equal(fromEve.length, 1, 'one push to the phone, for Fay');
    const toBoth = await post(roomId, 'to both', 'handed-on-token');
    assert.equal(toBoth.length, 1, 'not twice, and not for Eve, who no longer holds the phone');
  });

    it('a member who mutes a room gets no pushes from it until unmuting; other rooms still push', async () => {
    const gus = await node.signUp('Gus', 'gus-phone');
    const control = await node.signUp('Hal', 'hal-phone');
    const muted = await node.createRoom(ann, [gus, control]);
    const other = await node.createRoom(ann, [gus]);
    await register(gus, 'gus-phone-token');
    await register(control, 'hal-phone-token');

    const put = await node.request('PUT', `/api/chatroom/${muted}`, { token: gus.accessToken, body: { muted: true } });
    assert.equal(put.status, 200, put.body.message);
    assert.equal(put.body.data.muted, true);
    assert.deepEqual(tokensOf(await post(muted, 'shh', 'hal-phone-token')), ['hal-phone-token']);
    assert.deepEqual(tokensOf(await post(other, 'elsewhere', 'gus-phone-token')), ['gus-phone-token']);

    assert.equal((await node.request('PUT', `/api/chatroom/${muted}`, { token: gus.accessToken, body: { muted: false } })).status, 200);
    assert.deepEqual(tokensOf(await post(muted, 'back', 'hal-phone-token')), ['gus-phone-token', 'hal-phone-token']);
  });

  it('refuses a mute that is not a boolean, naming the field', async () => {
    const roomId = await node.createRoom(ann, []);
    const response = await node.request('PUT', `/api/chatroom/${roomId}`, { token: ann.accessToken, body: { muted: 'yes' } });
    assert.equal(response.status, 400);
    assert.match(response.body.message, /muted/);
  });

  it('sends a data message: title is the room title in a group room and the sender in a 1:1 room', async () => {
    const ivy = await node.signUp('Ivy', 'ivy-phone');
    const jay = await node.signUp('Jay', 'jay-phone');
    const group = await node.createRoom(ann, [ivy, jay], { title: 'Family' });
    const direct = await node.createRoom(ann, [ivy]);
    await register(ann, 'ann-phone-token');
    await register(ivy, 'ivy-phone-token');
    await register(jay, 'jay-phone-token');
    await node.request('PUT', `/api/chatroom/${group}`, { token: jay.accessToken, body: { title: 'Home' } });

    const inGroup = await post(group, 'dinner at 7', 'ann-phone-token', ivy);
    const byToken = new Map(inGroup.map((d) => [d.token, d]));
    const toAnn = byToken.get('ann-phone-token')!;
    assert.equal(toAnn.title, undefined, 'no notification block by default');
    const { messageId } = toAnn.data;
    assert.deepEqual(toAnn.data, {
      type: 'message', title: 'Family', body: 'Ivy: dinner at 7', roomId: group, messageId, senderId: ivy.userId, count: '1',
    });
    assert.equal(byToken.get('jay-phone-token')?.data.title, 'Home', 'each member sees their own room title');
    assert.equal(byToken.has('ivy-phone-token'), false, 'never to the sender');

    const inDirect = await post(direct, 'just us', 'ivy-phone-token');
    assert.deepEqual(inDirect.map((d) => [d.token, d.data.title, d.data.body, d.data.senderId]), [['ivy-phone-token', 'Ann', 'just us', ann.userId]]);
  });

  it('adds the notification block when PUSH_NOTIFICATION_BLOCK is on', async () => {
    const second = await startNode({
      config: { fcmServiceAccount: fcm.serviceAccountPath, fcmLoopbackPort: fcm.port, pushNotificationBlock: true },
    });
    try {
      const kim = await second.signUp('Kim');
      const lou = await second.signUp('Lou');
      const roomId = await second.createRoom(kim, [lou]);
      await second.request('POST', '/api/device/token', { token: lou.accessToken, body: { deviceToken: 'lou-block-token' } });
      await second.server.chat.messages.post({ userId: kim.userId, deviceId: kim.deviceId, nickname: 'Kim' }, { roomId, messageType: 'TALK', contents: 'hi Lou' });
      await waitFor(() => fcm.delivered.some((d) => d.token === 'lou-block-token'), 'the push', 10_000, 20);
      const got = fcm.delivered.find((d) => d.token === 'lou-block-token')!;
      assert.deepEqual([got.title, got.body, got.data.title, got.data.body], ['Kim', 'hi Lou', 'Kim', 'hi Lou']);
    } finally {
      await second.stop();
    }
  });
});
