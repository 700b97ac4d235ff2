import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';

describe('rooms over HTTP', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  before(async () => {
    node = await startNode();
    [ann, bob, cat] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat')]);
  });
  after(() => node.stop());

  it('creates a room with the caller as host and member, titled by the other members', async () => {
    const response = await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: [bob.userId, cat.userId] } });
    assert.equal(response.status, 201);
    const room = response.body.data;
    assert.equal(room.hostId, ann.userId);
    assert.equal(room.title, 'Bob, Cat');
    assert.deepEqual(room.members.map((m: { nickname: string }) => m.nickname).sort(), ['Ann', 'Bob', 'Cat']);
    const seenByBob = await node.request('GET', `/api/chatroom/${room.roomId}`, { token: bob.accessToken });
    assert.equal(seenByBob.body.data.title, 'Ann, Cat', 'each member sees the others');
    const ids = await node.request('GET', `/api/chatroom/${room.roomId}/users`, { token: cat.accessToken });
    assert.deepEqual(ids.body.data.userIds.sort(), [ann.userId, bob.userId, cat.userId].sort());
  });

  it('rejects a room with an unknown user, naming the field (400)', async () => {
    const response = await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: [bob.userId, '999999'] } });
    assert.equal(response.status, 400);
    assert.match(response.body.message, /users\/1/);
    assert.equal((await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: {} })).status, 400);
    assert.equal((await node.request('POST', '/api/chatroom', { token: ann.accessToken, body: { users: 'bob' } })).status, 400);
  });

  it('keeps each member\'s own title and input lock', async () => {
    const roomId = await node.createRoom(ann, [bob]);
    const put = await node.request('PUT', `/api/chatroom/${roomId}`, { token: bob.accessToken, body: { title: 'Work', inputLock: true } });
    assert.equal(put.status, 200);
    assert.equal(put.body.data.title, 'Work');
    assert.equal(put.body.data.inputLock, true);
    assert.equal((await node.request('GET', `/api/chatroom/${roomId}`, { token: ann.accessToken })).body.data.title, 'Bob');
    const reset = await node.request('PUT', `/api/chatroom/${roomId}`, { token: bob.accessToken, body: { title: null } });
    assert.equal(reset.body.data.title, 'Ann', 'null goes back to the default title');
    assert.equal((await node.request('PUT', `/api/chatroom/${roomId}`, { token: bob.accessToken, body: {} })).status, 400);
    assert.equal((await node.request('PUT', `/api/chatroom/${roomId}`, { token: bob.accessToken, body: { title: 'x'.repeat(101) } })).status, 400);
  });

  it('lets anyone join an open room but not a closed one', async () => {
    const open = await node.createRoom(ann, [], { isOpen: true, title: 'Lobby' });
    const closed = await node.createRoom(ann, [bob]);
    const joined = await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: open } });
    assert.equal(joined.status, 200);
    assert.ok(joined.body.data.members.some((m: { userId: string; nickname: string }) => m.userId === joined.body.data.myId && m.nickname === cat.nickname));
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: open } })).status, 200, 'joining twice is harmless');
    const refused = await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: closed } });
    assert.equal(refused.status, 403);
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: '123' } })).status, 404);
    assert.equal((await node.request('POST', '/api/chatroom/join', { token: cat.accessToken, body: { chatroomId: 'abc' } })).status, 400);
  });

  it('answers 403 to non-members, 404 for unknown rooms and 400 for malformed ids', async () => {
    const roomId = await node.createRoom(ann, [bob]);
    for (const [method, suffix] of [['GET', ''], ['GET', '/users'], ['DELETE', ''], ['PUT', '']] as const) {
      const body = method === 'PUT' ? { title: 'x' } : undefined;
      const outsider = await node.request(method, `/api/chatroom/${roomId}${suffix}`, { token: cat.accessToken, body });
      assert.equal(outsider.status, 403, `${method} ${suffix} by a non-member`);
      assert.equal(outsider.body.data.code, 'not_member');
      assert.equal((await node.request(method, `/api/chatroom/1234567${suffix}`, { token: ann.accessToken, body })).status, 404);
      const malformed = await node.request(method, `/api/chatroom/not-a-room${suffix}`, { token: ann.accessToken, body });
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.message, /params\/id/);
    }
    for (const path of [`/api/chat/history/${roomId}`, `/api/presence/${roomId}`]) {
      assert.equal((await node.request('GET', path, { token: cat.accessToken })).status, 403, path);
      assert.equal((await node.request('GET', path.replace(roomId, '42'), { token: ann.accessToken })).status, 404, path);
      assert.equal((await node.request('GET', path, {})).status, 401, path);
    }
  });

  it('lets a member leave', async () => {
    const roomId = await node.createRoom(ann, [bob, cat]);
    assert.equal((await node.request('DELETE', `/api/chatroom/${roomId}`, { token: cat.accessToken })).status, 200);
    assert.equal((await node.request('GET', `/api/chatroom/${roomId}`, { token: cat.accessToken })).status, 403);
    const mine = await node.request('GET', '/api/chatroom', { token: cat.accessToken });
    assert.ok(!mine.body.data.some((r: { roomId: string }) => r.roomId === roomId));
    const ids = await node.request('GET', `/api/chatroom/${roomId}/users`, { token: ann.accessToken });
    assert.deepEqual(ids.body.data.userIds.sort(), [ann.userId, bob.userId].sort());
  });

  it('lists my rooms, most recently active first, with last message and unread count', async () => {
    const dan = await node.signUp('Dan');
    const quiet = await node.createRoom(dan, [ann]);
    const busy = await node.createRoom(dan, [bob]);
    const { messages } = node.server.chat;
    for (let i = 0; i < 3; i++) {
      await messages.post({ userId: bob.userId, deviceId: 'phone', nickname: 'Bob' }, { roomId: busy, messageType: 'TALK', contents: `hi ${i}` });
    }
    const list = await waitForList(node, dan.accessToken, (rooms) => rooms[0]?.unreadCount === 3);
    assert.deepEqual(list.map((r) => r.roomId), [busy, quiet]);
    assert.equal(list[0]!.lastMessage.contents, 'hi 2');
    assert.equal(list[0]!.memberCount, 2);
    assert.equal(list[0]!.title, 'Bob');
    assert.equal(list[1]!.lastMessage.messageType, 'INVITE', 'a room with others starts with an INVITE');
    assert.equal(list[1]!.unreadCount, 0, 'the creator\'s own INVITE is not unread for them');
  });
});

async function waitForList(node: TestNode, token: string, done: (rooms: any[]) => boolean): Promise<any[]> {
  for (let i = 0; i < 100; i++) {
    const rooms = (await node.request('GET', '/api/chatroom', { token })).body.data as any[];
    if (done(rooms)) return rooms;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('room list never matched');
}
