import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FlametalkClient, PresenceEvent, Session } from '../../src/client/index.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { clientOf, received, signUp, wholeHistory } from './support.ts';

describe('client SDK: two clients chat', () => {
  let node: TestNode;
  let annClient: FlametalkClient;
  let bobClient: FlametalkClient;
  let ann: Session;
  let bob: Session;

  before(async () => {
    node = await startNode();
    annClient = clientOf(node, 'ann-phone');
    bobClient = clientOf(node, 'bob-phone');
    [ann, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
  });
  after(async () => {
    annClient.close();
    bobClient.close();
    await node.stop();
  });

  it('creates a room, exchanges messages both ways and sees presence, typing and reads', async () => {
    const room = await annClient.createRoom({ users: [bob.userId] });
    assert.equal(room.title, 'Bob');
    assert.deepEqual(room.members.map((m) => m.userId).sort(), [ann.userId, bob.userId].sort());

    const annRoom = await annClient.join(room.roomId);
    assert.equal(annClient.state, 'connected');
    const presence: PresenceEvent[] = [];
    annRoom.on('presence', (event) => presence.push(event));
    const toAnn = received(annRoom);
    const bobRoom = await bobClient.join(room.roomId);
    assert.ok(bobRoom.present.has(ann.userId) && bobRoom.present.has(bob.userId));
    const toBob = received(bobRoom);
    await waitFor(() => presence.some((e) => e.event === 'enter' && e.userId === bob.userId), 'Bob enters');
    assert.ok(annRoom.present.has(bob.userId));

    const ack = await annRoom.send('hi Bob');
    assert.match(ack.messageId, /^[0-9]+$/);
    await waitFor(() => toBob.length === 1, 'Bob gets the message');
    assert.deepEqual(toAnn, toBob, 'Ann has her own message too, as the room has it');
    assert.deepEqual(
      { ...toBob[0], createdAt: undefined },
      { messageId: ack.messageId, messageType: 'TALK', senderId: ann.userId, nickname: 'Ann', roomId: room.roomId, contents: 'hi Bob', fileUrl: null, createdAt: undefined },
    );
    const reply = await bobClient.send(room.roomId, 'hi Ann');
    await waitFor(() => toAnn.length === 2, 'Ann gets the reply');
    assert.equal(toAnn[1]!.messageId, reply.messageId);
    assert.equal(toAnn[1]!.contents, 'hi Ann');
    assert.deepEqual(toBob.map((m) => m.messageId), [ack.messageId, reply.messageId]);

    const typing: string[] = [];
    annRoom.on('typing', ({ userId }) => typing.push(userId));
    const reads: Array<{ userId: string; messageId: string }> = [];
    annRoom.on('read', (event) => reads.push(event));
    bobRoom.typing();
    bobRoom.markRead(ack.messageId);
    await waitFor(() => typing.length === 1 && reads.length === 1, 'typing and read reach Ann');
    assert.deepEqual([typing, reads], [[bob.userId], [{ userId: bob.userId, messageId: ack.messageId }]]);
    await sleep(100);
    assert.deepEqual([toAnn.length, toBob.length], [2, 2], 'each message once on each side');

    const rooms = await bobClient.listRooms();
    assert.equal(rooms.length, 1);
    assert.equal(rooms[0]!.lastMessage?.contents, 'hi Ann');

    await bobRoom.leave();
    await waitFor(() => presence.some((e) => e.event === 'exit' && e.userId === bob.userId), 'Bob exits');
    await assert.rejects(bobRoom.send('after leaving'), { code: 'not_joined' });
  });

  it('pages history newest first through an async iterator', async () => {
    const room = await annClient.createRoom({ users: [bob.userId], title: 'paging' });
    const handle = await annClient.join(room.roomId);
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push((await handle.send(`m${i}`)).messageId);
    await waitFor(async () => (await wholeHistory(bobClient, room.roomId)).length === 7, 'history holds all seven');

    const pages: string[][] = [];
    for await (const page of bobClient.history(room.roomId, { pageSize: 3 })) pages.push(page.messages.map((m) => m.contents));
    assert.deepEqual(pages, [['m6', 'm5', 'm4'], ['m3', 'm2', 'm1'], ['m0', 'Ann님이 Bob님을 초대했습니다.']], 'ending with the room\'s INVITE');

    const afterRead: string[] = [];
    for await (const page of bobClient.history(room.roomId, { after: sent[4]! })) afterRead.push(...page.messages.map((m) => m.contents));
    assert.deepEqual(afterRead, ['m6', 'm5']);

    await assert.rejects(bobClient.history(room.roomId, { pageSize: 500 }).next(), { code: 'bad_request', message: /pageSize/ });
  });

  it('gives a join with since what the app missed since its last run, in handle.missed', async () => {
    const room = await annClient.createRoom({ users: [bob.userId], title: 'since' });
    const handle = await annClient.join(room.roomId);
    const first = await handle.send('seen before');
    const later = [await handle.send('later 1'), await handle.send('later 2')];
    const bobRoom = await bobClient.join(room.roomId, { since: first.messageId });
    assert.deepEqual(bobRoom.missed.map((m) => m.messageId), later.map((a) => a.messageId));
  });
});

describe('client SDK: the session or the room ends elsewhere', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(() => node.stop());

  it('tells the app when this user left the room on another device, and when this device was signed out', async () => {
    const laptop = await node.signUp('Carol', 'laptop'); // the same user on another device, through the raw API
    const phone = clientOf(node, 'phone');
    try {
      await phone.signIn({ email: laptop.email, password: laptop.password });
      const { roomId } = await phone.createRoom({ users: [] });
      const handle = await phone.join(roomId);
      const left: unknown[] = [];
      handle.on('left', (event) => left.push(event));

      const leave = await node.request('DELETE', `/api/chatroom/${roomId}`, { token: laptop.accessToken });
      assert.equal(leave.status, 200);
      await waitFor(() => left.length === 1, 'the phone hears it left the room');
      await assert.rejects(handle.send('still here?'), { code: 'not_joined' });

      const ended: Array<{ code: string }> = [];
      phone.on('signedOut', (reason) => ended.push(reason));
      const revoke = await node.request('DELETE', '/api/device/phone', { token: laptop.accessToken });
      assert.equal(revoke.status, 200);
      await waitFor(() => ended.length === 1, 'the phone hears it was signed out');
      assert.equal(ended[0]!.code, 'token_revoked');
      assert.equal(phone.state, 'idle');
      assert.equal(phone.session, undefined);
      await assert.rejects(phone.listRooms(), { code: 'not_signed_in' });
    } finally {
      phone.close();
    }
  });
});
