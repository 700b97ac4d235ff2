import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { connectStomp, stompUrl } from '../support/stomp-client.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** One room, three kinds of client on one node: native (Ann), STOMP (Bob), presence socket (Cat); Dan is offline with a phone. */
describe('a mixed room on one node', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  let dan: TestUser;
  let roomId: string;

  before(async () => {
    node = await startNode();
    [ann, bob, cat, dan] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat'), node.signUp('Dan')]);
    roomId = await node.createRoom(ann, [bob, cat, dan]);
    await node.request('POST', '/api/device/token', { token: dan.accessToken, body: { deviceToken: 'dan-phone' } });
  });
  after(() => node.stop());

  it('native, STOMP and presence-socket clients see one another; history, unread counts and pushes treat them alike', async () => {
    const native = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await native.join(roomId);
    const presence = await TestSocket.connect(`ws://127.0.0.1:${node.server.addresses.wsPort}/presence`, cat.accessToken);
    const catEnters = native.next((f) => f.type === 'presence' && f.userId === cat.userId && f.event === 'enter');
    presence.send({ type: 'ENTER', userId: cat.userId, roomId, deviceId: 'web' });
    await catEnters;

    const bobEnters = presence.next((f) => f.type === 'ENTER' && f.userId === bob.userId);
    const stomp = await connectStomp(stompUrl(node.server.addresses.wsPort), { Authorization: `Bearer ${bob.accessToken}` });
    const sub = stomp.subscribe(roomId);
    await bobEnters;
    await waitFor(() => native.of('presence', roomId).some((f) => f.userId === bob.userId && f.event === 'enter'), 'native sees Bob enter');

    const pushes = (node.server.ports.pusher as LogPusher).sent;
    const pushesBefore = pushes.length;
    await stomp.send({ type: 'TALK', room_id: roomId, contents: 'from STOMP' });
    await native.sendText(roomId, 'from native');
    await waitFor(() => sub.messages.some((m) => m.contents === 'from native'), 'STOMP gets the native message');
    await native.next((f) => f.type === 'message' && f.message.contents === 'from STOMP', 10_000, 'native gets the STOMP message', true);

    const history = (await node.request('GET', `/api/chat/history/${roomId}?limit=100`, { token: dan.accessToken })).body.data.messages as any[];
    assert.equal(history.filter((m) => m.contents === 'from STOMP').length, 1, 'a STOMP message is in history exactly once');
    assert.equal(history.find((m) => m.contents === 'from STOMP').senderId, bob.userId);
    const rooms = (await node.request('GET', '/api/chatroom', { token: dan.accessToken })).body.data as any[];
    assert.equal(rooms.find((r) => r.roomId === roomId).unreadCount, 3, 'INVITE + the STOMP and the native message');
    await waitFor(() => pushes.length >= pushesBefore + 2, 'Dan\'s phone buzzes for both');
    const danPushes = pushes.slice(pushesBefore).filter((p) => p.userId === dan.userId);
    // A group room: the body names the sender.
    assert.deepEqual(danPushes.map((p) => p.body).sort(), ['Ann: from native', 'Bob: from STOMP']);
    assert.ok(pushes.slice(pushesBefore).every((p) => p.userId === dan.userId), 'no push to the members present through any protocol (Cat via the presence socket)');

    const catExits = native.next((f) => f.type === 'presence' && f.userId === cat.userId && f.event === 'exit');
    await presence.close();
    await catExits;
    const bobExits = native.next((f) => f.type === 'presence' && f.userId === bob.userId && f.event === 'exit');
    await stomp.disconnect();
    await bobExits;
    await native.close();
  });
});
