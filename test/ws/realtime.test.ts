import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('realtime over the native protocol', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  let roomId: string;
  const pushLog = () => (node.server.ports.pusher as LogPusher).sent;

  before(async () => {
    node = await startNode();
    [ann, bob, cat] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat')]);
    roomId = await node.createRoom(ann, [bob, cat]);
    await node.request('POST', '/api/device/token', { token: cat.accessToken, body: { deviceToken: 'cat-phone-token' } });
    await node.request('POST', '/api/device/token', { token: bob.accessToken, body: { deviceToken: 'bob-phone-token' } });
  });
  after(() => node.stop());

  const presence = async (token = ann.accessToken) =>
    ((await node.request('GET', `/api/presence/${roomId}`, { token })).body.data.userIds as string[]).sort();

  it('delivers messages in order with acks, pushes once to the offline member, and keeps presence in agreement', async () => {
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const b = await TestSocket.connect(node.wsUrl, bob.accessToken, 'query');
    const joinedA = await a.join(roomId);
    assert.deepEqual(joinedA.present, [ann.userId]);
    assert.equal(joinedA.recovered, true);
    const bobEnters = a.next((f) => f.type === 'presence' && f.userId === bob.userId);
    const joinedB = await b.join(roomId);
    assert.deepEqual(joinedB.present.sort(), [ann.userId, bob.userId].sort());
    assert.deepEqual(await bobEnters, { type: 'presence', roomId, event: 'enter', userId: bob.userId });
    assert.deepEqual(await presence(), [ann.userId, bob.userId].sort(), 'GET /api/presence agrees');

    const pushesBefore = pushLog().length;
    const acks: any[] = [];
    for (let i = 0; i < 20; i++) acks.push(a.sendText(roomId, `hello ${i}`, `m${i}`));
    const replies = await Promise.all(acks);
    replies.forEach((ack, i) => {
      assert.equal(ack.type, 'ack');
      assert.equal(ack.clientMsgId, `m${i}`);
      assert.match(ack.messageId, /^[0-9]+$/);
    });
    await waitFor(() => b.of('message', roomId).length >= 20, 'Bob to get 20 messages');
    const received = b.of('message', roomId).map((f) => f.message);
    assert.deepEqual(received.map((m) => m.contents), Array.from({ length: 20 }, (_, i) => `hello ${i}`), 'in order');
    assert.deepEqual(received.map((m) => m.messageId), replies.map((r) => r.messageId), 'ids match the acks');
    assert.equal(received[0].nickname, 'Ann');
    assert.equal(received[0].senderId, ann.userId);
    assert.equal(a.of('message', roomId).length, 0, 'the sending socket gets acks, not echoes');

    await waitFor(() => pushLog().length >= pushesBefore + 20, '20 pushes for Cat');
    await new Promise((r) => setTimeout(r, 200));
    const pushes = pushLog().slice(pushesBefore);
    assert.equal(pushes.length, 20, 'one push per message, only for the member not in the room');
    assert.ok(pushes.every((p) => p.token === 'cat-phone-token' && p.userId === cat.userId));
    // A group room: the title is the room as Cat sees it, the body names the sender.
    assert.equal(pushes[0]!.title, 'Ann, Bob');
    assert.equal(pushes[0]!.body, 'Ann: hello 0');
    assert.equal(pushes[0]!.data.roomId, roomId);

    const typing = b.next((f) => f.type === 'typing');
    a.send({ type: 'typing', roomId });
    assert.deepEqual(await typing, { type: 'typing', roomId, userId: ann.userId });
    const read = a.next((f) => f.type === 'read');
    b.send({ type: 'read', roomId, messageId: replies[19].messageId });
    assert.deepEqual(await read, { type: 'read', roomId, userId: bob.userId, messageId: replies[19].messageId });
    await waitFor(async () => (await node.server.ports.store.getReadPosition(roomId, bob.userId)) === replies[19].messageId, 'read position stored');

    const bobLeaves = a.next((f) => f.type === 'presence' && f.event === 'exit');
    await b.close();
    assert.deepEqual(await bobLeaves, { type: 'presence', roomId, event: 'exit', userId: bob.userId });
    assert.deepEqual(await presence(), [ann.userId]);
    await a.close();
    await waitFor(async () => (await presence()).length === 0, 'empty room');
  });

  it('keeps a user with two devices present until both leave, with one enter and one exit', async () => {
    const watcher = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await watcher.join(roomId);
    const laptop = await node.signIn(bob, 'laptop');
    const phone = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const pc = await TestSocket.connect(node.wsUrl, laptop.accessToken);
    await phone.join(roomId);
    await pc.join(roomId);
    await phone.call({ type: 'leave', roomId });
    assert.deepEqual(await presence(), [ann.userId, bob.userId].sort(), 'still present through the laptop');
    await pc.close();
    await waitFor(async () => (await presence()).length === 1, 'Bob gone');
    await new Promise((r) => setTimeout(r, 100));
    const bobEvents = watcher.of('presence', roomId).filter((f) => f.userId === bob.userId).map((f) => f.event);
    assert.deepEqual(bobEvents, ['enter', 'exit'], 'one transition each way');
    await phone.close();
    await watcher.close();
  });

  it('does not store a resent clientMsgId twice', async () => {
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await a.join(roomId);
    const first = await a.sendText(roomId, 'only once', 'dup-1');
    await a.close();
    const again = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await again.join(roomId);
    const second = await again.sendText(roomId, 'only once', 'dup-1');
    assert.equal(second.messageId, first.messageId, 'the resend gets the original id');
    await waitFor(async () => (await node.server.ports.store.lastMessage(roomId))?.messageId === first.messageId, 'persisted');
    const history = await node.server.ports.store.history(roomId, { limit: 5 });
    assert.equal(history.filter((m) => m.contents === 'only once').length, 1);
    await again.close();
  });

  it('answers ping with pong', async () => {
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    assert.deepEqual(await a.call({ type: 'ping' }), { type: 'pong', ref: 'r1' });
    await a.close();
  });

  it('closes a device\'s sockets with 4003 when it signs out, and only that device\'s', async () => {
    const tablet = await node.signIn(ann, 'tablet');
    const victim = await TestSocket.connect(node.wsUrl, tablet.accessToken);
    const bystander = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await node.request('POST', '/api/auth/signout', { token: tablet.accessToken });
    assert.equal((await victim.closed).code, 4003);
    assert.equal((await bystander.call({ type: 'ping' })).type, 'pong');
    await assert.rejects(TestSocket.connect(node.wsUrl, tablet.accessToken), /401/);
    await bystander.close();
  });

  it('removes a socket from a room its user left over HTTP', async () => {
    const dan = await node.signUp('Dan');
    const room = await node.createRoom(ann, [dan]);
    const socket = await TestSocket.connect(node.wsUrl, dan.accessToken);
    await socket.join(room);
    const left = socket.next((f) => f.type === 'left' && f.roomId === room);
    await node.request('DELETE', `/api/chatroom/${room}`, { token: dan.accessToken });
    await left;
    const refused = await socket.call({ type: 'send', roomId: room, clientMsgId: 'x', messageType: 'TALK', contents: 'hi' });
    assert.equal(refused.code, 'not_joined');
    await socket.close();
  });
});
