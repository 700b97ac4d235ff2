import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProcessCluster, fullHistory, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { connectStomp, stompUrl, type StompTestClient } from '../support/stomp-client.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** FlameTalk's sockets and room events across two `npm start` processes sharing Redis, Kafka and Cassandra. */
describe('compatibility sockets and room events on a two-node cluster', { timeout: 180_000 }, () => {
  let cluster: ProcessCluster;
  let a: ProcessNode;
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  let dan: TestUser;
  const stomps: StompTestClient[] = [];

  before(async () => {
    cluster = new ProcessCluster({ STOMP_HEARTBEAT_MS: '1000' });
    [a, b] = await cluster.startAll(['A', 'B']);
    [ann, bob, cat, dan] = await Promise.all([a.signUp('Ann'), b.signUp('Bob'), a.signUp('Cat'), b.signUp('Dan')]);
  });
  after(async () => {
    for (const stomp of stomps) stomp.socket()?.terminate();
    await cluster?.cleanup();
  });

  it('a user added to a room on node A gets "room added" on a socket on node B', async () => {
    const catOnB = await cluster.connect(b, cat);
    await catOnB.call({ type: 'ping' });
    const annOnB = await cluster.connect(b, ann);
    await annOnB.call({ type: 'ping' });
    await new Promise((r) => setTimeout(r, 200));
    const roomId = await a.createRoom(ann, [bob]);
    const annAdded = await annOnB.next((f) => f.type === 'room' && f.event === 'added' && f.room.roomId === roomId, 15_000, 'room added for Ann on B', true);
    assert.equal(annAdded.room.memberCount, 2);
    const catAdded = catOnB.next((f) => f.type === 'room' && f.event === 'added' && f.room.roomId === roomId, 15_000, 'room added for Cat on B');
    const invited = await a.request('POST', `/api/chatroom/${roomId}/invite`, { token: ann.accessToken, body: { users: [cat.userId] } });
    assert.equal(invited.status, 200, invited.body.message);
    const added = await catAdded;
    assert.deepEqual(added.room, { roomId, title: 'Ann, Bob', hostId: ann.userId, isOpen: false, memberCount: 3 });
    await annOnB.next((f) => f.type === 'room' && f.event === 'updated' && f.room.memberCount === 3, 15_000, 'count update for Ann on B', true);
    const removed = catOnB.next((f) => f.type === 'room' && f.event === 'removed', 15_000, 'room removed for Cat on B');
    assert.equal((await a.request('DELETE', `/api/chatroom/${roomId}`, { token: cat.accessToken })).status, 200);
    assert.deepEqual((await removed).room, { roomId });
  });

  it('native (A), STOMP (B) and presence-socket (A) clients in one room see one another; a STOMP message is in history once', async () => {
    const roomId = await a.createRoom(ann, [bob, dan]);
    const native = await cluster.connect(a, ann);
    await native.join(roomId);
    const presence = await TestSocket.connect(`ws://127.0.0.1:${a.wsPort}/presence`, dan.accessToken);
    const danEnters = native.next((f) => f.type === 'presence' && f.userId === dan.userId && f.event === 'enter', 15_000, 'Dan enters');
    presence.send({ type: 'ENTER', userId: dan.userId, roomId, deviceId: 'web' });
    assert.equal((await presence.next((f) => f.status !== undefined)).status, 200);
    await danEnters;

    const bobEnters = presence.next((f) => f.type === 'ENTER' && f.userId === bob.userId, 15_000, 'Bob (STOMP on B) enters, seen on A');
    const stomp = await connectStomp(stompUrl(b.wsPort), { Authorization: `Bearer ${bob.accessToken}` }, { heartbeatIncoming: 1000, heartbeatOutgoing: 1000 });
    stomps.push(stomp);
    const sub = stomp.subscribe(roomId);
    await bobEnters;

    const receipt = await stomp.send({ type: 'TALK', room_id: roomId, sender_id: ann.userId, contents: 'STOMP on B' });
    assert.ok(receipt);
    const got = await native.next((f) => f.type === 'message' && f.message.contents === 'STOMP on B', 15_000, 'native on A gets it', true);
    assert.equal(got.message.senderId, bob.userId);
    await native.sendText(roomId, 'native on A');
    await waitFor(() => sub.messages.some((m) => m.contents === 'native on A'), 'STOMP on B gets the native message', 15_000);
    await waitFor(() => sub.messages.some((m) => m.contents === 'STOMP on B'), 'STOMP on B gets its own message', 15_000);

    for (const node of [a, b]) {
      const history = await waitFor(async () => {
        const messages = await fullHistory(node, dan, roomId, 100, true);
        return messages.some((m) => m.contents === 'native on A') ? messages : undefined;
      }, `history through ${node.name}`, 30_000, 250);
      assert.equal(history.filter((m) => m.contents === 'STOMP on B').length, 1, `a STOMP message is in history exactly once (${node.name})`);
      assert.deepEqual(history.map((m) => m.messageType).reverse(), ['INVITE', 'TALK', 'TALK']);
    }

    const bobExits = native.next((f) => f.type === 'presence' && f.userId === bob.userId && f.event === 'exit', 15_000, 'Bob exits');
    await stomp.disconnect();
    await bobExits;
    await presence.close();
  });
});
