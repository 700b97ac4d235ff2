import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { startFakeFcm, type FakeFcm } from '../support/fake-fcm.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
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

describe('open chat: members go by ids of the room', () => {
  let fcm: FakeFcm;
  let node: TestNode;
  let ann: Person;
  let bob: Person;
  let cat: Person;
  const mask = async (user: Person, nickname: string): Promise<string> =>
    (await node.request('POST', '/api/membership/openprofile', { token: user.accessToken, body: { nickname } })).body.data.openProfileId;
  const detail = async (user: Person, roomId: string) => (await node.request('GET', `/api/chatroom/${roomId}`, { token: user.accessToken })).body.data;
  before(async () => {
    fcm = await startFakeFcm();
    node = await startNode({ config: { fcmServiceAccount: fcm.serviceAccountPath, fcmLoopbackPort: fcm.port } });
    [ann, bob, cat] = await Promise.all([signUp(node, 'Ann Realname'), signUp(node, 'Bob Realname'), signUp(node, 'Cat Realname')]);
  });
  after(async () => {
    await node.stop();
    await fcm.close();
  });

  it('shows a member found by phone, who joined with an open profile, only by the room\'s id for them: HTTP, live frames, history, pushes', async () => {
    // Cat knows Bob's account: she found him by his phone number.
    const found = await node.request('GET', `/api/users/search?phoneNumber=${bob.phoneNumber}`, { token: cat.accessToken });
    assert.equal(found.body.data.userId, bob.userId);

    // Ann hosts the room as an open profile; Bob and Cat join with theirs.
    const created = await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: [], isOpen: true, title: 'Night owls', openProfileId: await mask(ann, 'Owl Host') } });
    assert.equal(created.status, 201, created.body.message);
    const roomId: string = created.body.data.roomId;
    const annId: string = created.body.data.myId;
    assert.equal(created.body.data.hostId, annId);
    await node.request('POST', '/api/device/token', { token: cat.accessToken, body: { deviceToken: 'cat-owl-phone' } });
    const catSocket = await TestSocket.connect(node.wsUrl, cat.accessToken);
    // A ping is answered once the session is admitted, which is when it subscribes to the user's room events.
    await catSocket.call({ type: 'ping' });
    await sleep(50);
    const catAdded = catSocket.next((f) => f.type === 'room' && f.event === 'added' && f.room.roomId === roomId);
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: roomId, openProfileId: await mask(cat, 'Night Cat') } })).status, 200);
    const joined = await node.request('POST', '/api/chatroom/join', { token: bob.accessToken, body: { chatroomId: roomId, openProfileId: await mask(bob, 'Mountain Goat') } });
    assert.equal(joined.status, 200);
    const bobId: string = joined.body.data.myId;
    assert.notEqual(bobId, bob.userId);

    const bobSocket = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const catJoined = await catSocket.join(roomId);
    // The room event's default title still lists the real nicknames (known, not fixed here): its ids are checked.
    const { title: _title, ...added } = (await catAdded).room;
    assert.equal(added.hostId, annId);
    const seenByCat: unknown[] = [added, catJoined];
    try {
      const bobEnters = catSocket.next((f) => f.type === 'presence' && f.event === 'enter' && f.userId !== catJoined.myId);
      const bobJoined = await bobSocket.join(roomId);
      assert.equal(bobJoined.myId, bobId, 'the joined frame tells Bob his id in this room');
      const typing = catSocket.next((f) => f.type === 'typing');
      bobSocket.send({ type: 'typing', roomId });
      const live = catSocket.next((f) => f.type === 'message' && f.message.contents === 'hoot');
      const ack = await bobSocket.sendText(roomId, 'hoot');
      const read = catSocket.next((f) => f.type === 'read');
      bobSocket.send({ type: 'read', roomId, messageId: ack.messageId });
      const frames = [await bobEnters, await typing, await live, await read];
      seenByCat.push(...frames);
      assert.deepEqual(frames.map((f) => f.userId ?? f.message.senderId), [bobId, bobId, bobId, bobId]);
      assert.equal(frames[2]!.message.nickname, 'Mountain Goat');

      // Away from the room, Cat's phone gets the next message as a push.
      await catSocket.close();
      await waitFor(async () => !(await node.server.ports.presence.present(roomId)).includes(cat.userId), 'Cat out of the room');
      await bobSocket.sendText(roomId, 'anyone awake?');
      const toCat = () => fcm.delivered.filter((d) => d.token === 'cat-owl-phone');
      const push = await waitFor(() => toCat().find((d) => d.data.body?.endsWith('anyone awake?')), 'the push to Cat');
      // Also the ENTER notice of Bob, pushed while Cat's socket was not in the room yet.
      seenByCat.push(toCat());
      assert.equal(push.data.senderId, bobId);
      assert.equal(push.data.body, 'Mountain Goat: anyone awake?');

      const form = new FormData();
      form.append('chatroomId', roomId);
      form.append('file', new Blob([Buffer.from('owl.png')], { type: 'image/png' }), 'owl.png');
      const uploaded = await fetch(`${node.baseUrl}/api/file`, { method: 'POST', headers: { authorization: `Bearer ${bob.accessToken}` }, body: form });
      assert.equal(uploaded.status, 201);

      const room = await detail(cat, roomId);
      const history = (await node.request('GET', `/api/chat/history/${roomId}`, { token: cat.accessToken })).body.data.messages;
      const presentIds = (await node.request('GET', `/api/presence/${roomId}`, { token: cat.accessToken })).body.data.userIds;
      const memberIds = (await node.request('GET', `/api/chatroom/${roomId}/users`, { token: cat.accessToken })).body.data.userIds;
      const files = (await node.request('GET', `/api/file/chatroom/${roomId}`, { token: cat.accessToken })).body.data.files;
      const myRooms = (await node.request('GET', '/api/chatroom', { token: cat.accessToken })).body.data;
      seenByCat.push(room, history, presentIds, memberIds, files, myRooms);

      assert.deepEqual(room.members.map((m: any) => [m.userId, m.nickname]), [[annId, 'Owl Host'], [room.myId, 'Night Cat'], [bobId, 'Mountain Goat']]);
      assert.equal(room.hostId, annId);
      assert.equal(room.files[0].uploaderId, bobId);
      assert.equal(files[0].uploaderId, bobId);
      assert.deepEqual(presentIds, [bobId]);
      assert.deepEqual([...memberIds].sort(), [annId, room.myId, bobId].sort());
      // Newest first: Bob's two messages, then his ENTER notice (about him) and Cat's.
      assert.deepEqual(history.map((m: any) => [m.messageType, m.senderId, m.userIds ?? null]), [
        ['TALK', bobId, null], ['TALK', bobId, null], ['ENTER', bobId, [bobId]], ['ENTER', room.myId, [room.myId]],
      ]);
      assert.equal(myRooms.find((r: any) => r.roomId === roomId).lastMessage.senderId, bobId);
      assert.equal(myRooms.find((r: any) => r.roomId === roomId).hostId, annId);

      const everything = JSON.stringify(seenByCat);
      for (const secret of [bob.userId, bob.nickname, bob.email, bob.phoneNumber, ann.userId, ann.nickname]) {
        assert.ok(!everything.includes(secret), `Cat saw ${secret}`);
      }

      // Bob tells his own messages by the id the room gives him.
      const bobsHistory = (await node.request('GET', `/api/chat/history/${roomId}`, { token: bob.accessToken })).body.data.messages;
      assert.equal((await detail(bob, roomId)).myId, bobId);
      assert.deepEqual(bobsHistory.filter((m: any) => m.messageType === 'TALK').map((m: any) => m.senderId), [bobId, bobId]);
    } finally {
      await bobSocket.close();
    }
  });

  it('gives a member a different id in every open room, the same one each time in a room', async () => {
    const first = await node.createRoom(ann, [], { isOpen: true });
    const second = await node.createRoom(ann, [], { isOpen: true });
    const goat = await mask(bob, 'Goat Again');
    for (const roomId of [first, second]) {
      assert.equal((await node.request('POST', '/api/chatroom/join', { token: bob.accessToken, body: { chatroomId: roomId, openProfileId: goat } })).status, 200);
    }
    const idIn = async (roomId: string) => (await detail(ann, roomId)).members.find((m: any) => m.nickname === 'Goat Again').userId;
    const [inFirst, inSecond] = [await idIn(first), await idIn(second)];
    assert.notEqual(inFirst, inSecond);
    assert.equal(await idIn(first), inFirst, 'stable');
    assert.equal((await detail(bob, first)).myId, inFirst);
    assert.ok(![inFirst, inSecond].includes(bob.userId));
  });

  it('takes a member\'s id in the room wherever a request names a member of it', async () => {
    const roomId = await node.createRoom(ann, [], { isOpen: true });
    const joined = await node.request('POST', '/api/chatroom/join', { token: bob.accessToken, body: { chatroomId: roomId, openProfileId: await mask(bob, 'Goat') } });
    const bobId: string = joined.body.data.myId;
    // Inviting someone by their id in the room is inviting a member: nothing changes, no "unknown user".
    const invited = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: ann.accessToken, body: { users: [bobId] } });
    assert.equal(invited.status, 200, invited.body.message);
    assert.equal(invited.body.data.members.length, 2);
    // The presence socket's userId: Bob may name himself by his id in the room, not by someone else's.
    const presence = await TestSocket.connect(node.wsUrl.replace(/\/ws$/, '/presence'), bob.accessToken);
    try {
      const annId = (await detail(ann, roomId)).myId;
      presence.send({ type: 'ENTER', userId: annId, roomId, deviceId: 'phone' });
      assert.equal((await presence.next((f) => f.status !== undefined)).status, 403);
      presence.send({ type: 'ENTER', userId: bobId, roomId, deviceId: 'phone' });
      const entered = await presence.next((f) => f.status === 200);
      assert.deepEqual(entered.data.present, [bobId]);
    } finally {
      await presence.close();
    }
  });

  it('lets an open room be created only with an open profile of one\'s own, for open rooms only', async () => {
    const bobs = await mask(bob, 'Not Ann');
    const stolen = await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: [], isOpen: true, openProfileId: bobs } });
    assert.equal(stolen.status, 403);
    const closed = await node.request('POST', '/api/chatroom', { token: bob.accessToken, body: { users: [ann.userId], openProfileId: bobs } });
    assert.equal(closed.status, 400);
    // Without one, the host shows their own nickname (the app asks which face to use), still under the room's id.
    const plain = await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: [], isOpen: true } });
    assert.equal(plain.body.data.members[0].nickname, ann.nickname);
    assert.notEqual(plain.body.data.hostId, ann.userId);
  });
});
