import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket, type Frame } from '../support/ws-client.ts';

interface Person extends TestUser { phoneNumber: string }

async function signUp(node: TestNode, nickname: string): Promise<Person> {
  const email = `${randomUUID()}@example.com`;
  const phoneNumber = `010${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const response = await node.request('POST', '/api/auth/signup', { body: { email, password: 'correct horse battery', nickname, phoneNumber, deviceId: 'phone' } });
  assert.equal(response.status, 201, response.body.message);
  return { ...response.body.data, nickname, email, password: 'correct horse battery', deviceId: 'phone', phoneNumber };
}

describe('open chat', () => {
  let node: TestNode;
  let ann: Person;
  let bob: Person;
  let cat: Person;
  let roomId: string;
  let code: string;
  before(async () => {
    node = await startNode();
    [ann, bob, cat] = await Promise.all([signUp(node, 'Ann Realname'), signUp(node, 'Bob Realname'), signUp(node, 'Cat Realname')]);
  });
  after(() => node.stop());

  it('gives open rooms a link code, finds them by title and resolves the code', async () => {
    const tag = randomUUID().slice(0, 6);
    roomId = await node.createRoom(ann, [], { isOpen: true, title: `Hiking ${tag} club` });
    const detail = await node.request('GET', `/api/chatroom/${roomId}`, { token: ann.accessToken });
    code = detail.body.data.code;
    assert.match(code, /^[a-zA-Z0-9]{8}$/);
    const found = await node.request('GET', `/api/chatroom/open?query=${encodeURIComponent(`HIKING ${tag}`)}`, { token: bob.accessToken });
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.data.rooms.map((r: any) => [r.roomId, r.code, r.title, r.memberCount]), [[roomId, code, `Hiking ${tag} club`, 1]]);
    assert.deepEqual((await node.request('GET', `/api/chatroom/open?query=nothing-${tag}`, { token: bob.accessToken })).body.data.rooms, []);
    const closed = await node.createRoom(ann, [bob], { title: `Hiking ${tag} private` });
    assert.ok(!(await node.request('GET', `/api/chatroom/open?query=${tag}`, { token: bob.accessToken })).body.data.rooms.some((r: any) => r.roomId === closed));
    const resolved = await node.request('GET', `/api/chatroom/open/${code}`, { token: cat.accessToken });
    assert.equal(resolved.body.data.roomId, roomId);
    assert.equal((await node.request('GET', '/api/chatroom/open/zzzzzzzz', { token: cat.accessToken })).status, 404);
    assert.equal((await node.request('GET', '/api/chatroom/open/bad!code', { token: cat.accessToken })).status, 400);
    assert.equal((await node.request('GET', '/api/chatroom/open', { token: cat.accessToken })).status, 400);
  });

  it('joins with an open profile that must be one\'s own, and only open rooms', async () => {
    const bobMask = (await node.request('POST', '/api/membership/openprofile', { token: bob.accessToken, body: { nickname: 'Mountain Goat', imageUrl: '/img/goat.png' } })).body.data.openProfileId;
    const catMask = (await node.request('POST', '/api/membership/openprofile', { token: cat.accessToken, body: { nickname: 'Trail Fox' } })).body.data.openProfileId;
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: roomId, openProfileId: bobMask } })).status, 403, 'someone else\'s');
    const closed = await node.createRoom(ann, [bob]);
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: closed, openProfileId: catMask } })).status, 403);
    const joined = await node.request('POST', '/api/chatroom/join', { token: bob.accessToken, body: { chatroomId: roomId, openProfileId: bobMask } });
    assert.equal(joined.status, 200, joined.body.message);
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: roomId, openProfileId: catMask } })).status, 200);
  });

  it('never shows a member\'s real nickname, phone or email to the others: messages, members, presence, history, pushes', async () => {
    const secrets = (p: Person) => [p.nickname, p.email, p.phoneNumber, p.phoneNumber.slice(1)];
    await node.request('POST', '/api/device/token', { token: cat.accessToken, body: { deviceToken: 'cat-open-device' } });
    const catSocket = await TestSocket.connect(node.wsUrl, cat.accessToken);
    const bobSocket = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const seenByCat: unknown[] = [];
    try {
      seenByCat.push(await catSocket.join(roomId));
      seenByCat.push(await bobSocket.join(roomId));
      const sent = await bobSocket.sendText(roomId, 'hello from the goat');
      assert.equal(sent.type, 'ack');
      const live = (await catSocket.next((f: Frame) => f.type === 'message' && f.message?.contents === 'hello from the goat', 10_000, 'the message', true)).message;
      seenByCat.push(live);
      assert.equal(live.nickname, 'Mountain Goat');
      // Cat leaves the room's socket, so the next message is pushed to her phone.
      await catSocket.close();
      await bobSocket.sendText(roomId, 'are you there?');
      const log = () => (node.server.ports.pusher as LogPusher).sent.filter((p) => p.token === 'cat-open-device');
      await waitFor(() => log().length >= 1, 'the push to Cat');
      seenByCat.push(log());
      // A group room's push is titled by the room (an open room's own title) and names the sender in the body.
      assert.match(log()[0]!.title, /^Hiking/);
      assert.equal(log()[0]!.body, 'Mountain Goat: are you there?');

      const detail = await node.request('GET', `/api/chatroom/${roomId}`, { token: cat.accessToken });
      seenByCat.push(detail.body);
      const names = detail.body.data.members.map((m: any) => m.nickname);
      assert.ok(names.includes('Mountain Goat') && names.includes('Trail Fox'), names.join());
      const goat = detail.body.data.members.find((m: any) => m.nickname === 'Mountain Goat');
      assert.equal(goat.imageUrl, '/img/goat.png', 'the open profile\'s image, not the real one');
      assert.match(detail.body.data.title, /^Hiking/);
      const history = await node.request('GET', `/api/chat/history/${roomId}`, { token: cat.accessToken });
      seenByCat.push(history.body);
      // Newest first: Bob's two messages, then the ENTER notices of Cat and Bob, each under the alias.
      assert.deepEqual(history.body.data.messages.map((m: any) => [m.messageType, m.nickname]), [
        ['TALK', 'Mountain Goat'], ['TALK', 'Mountain Goat'], ['ENTER', 'Trail Fox'], ['ENTER', 'Mountain Goat'],
      ]);
      seenByCat.push((await node.request('GET', `/api/presence/${roomId}`, { token: cat.accessToken })).body);
      seenByCat.push((await node.request('GET', `/api/chatroom/${roomId}/users`, { token: cat.accessToken })).body);
      seenByCat.push((await node.request('GET', '/api/chatroom', { token: cat.accessToken })).body);

      const everything = JSON.stringify(seenByCat);
      for (const secret of secrets(bob)) assert.ok(!everything.includes(secret), `Cat saw Bob's ${secret}`);
      // And Bob sees Cat only as her open profile.
      const bobsView = JSON.stringify((await node.request('GET', `/api/chatroom/${roomId}`, { token: bob.accessToken })).body);
      for (const secret of secrets(cat)) assert.ok(!bobsView.includes(secret), `Bob saw Cat's ${secret}`);
    } finally {
      await bobSocket.close();
    }
  });
});
