import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { connectStomp, stompUrl } from '../support/stomp-client.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('system messages and room events', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  let dan: TestUser;

  before(async () => {
    node = await startNode();
    [ann, bob, cat, dan] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat'), node.signUp('Dan')]);
  });
  after(() => node.stop());

  const history = async (roomId: string, token = ann.accessToken): Promise<any[]> =>
    (await node.request('GET', `/api/chat/history/${roomId}?limit=100`, { token })).body.data.messages;

  it('a new room with others starts with an INVITE naming them', async () => {
    const roomId = await node.createRoom(ann, [bob, cat]);
    const [invite, ...rest] = await history(roomId);
    assert.equal(rest.length, 0);
    assert.equal(invite.messageType, 'INVITE');
    assert.equal(invite.senderId, ann.userId);
    assert.deepEqual(invite.userIds, [bob.userId, cat.userId]);
    assert.equal(invite.contents, 'Ann님이 Bob님, Cat님을 초대했습니다.');
    const alone = await node.createRoom(ann, []);
    assert.deepEqual(await history(alone), [], 'no INVITE without anyone invited');
  });

  it('INVITE, ENTER and LEAVE reach native and STOMP clients and stay in history; room events reach the users\' own sockets', async () => {
    const roomId = await node.createRoom(ann, [bob], { isOpen: true });
    const native = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await native.join(roomId);
    const stomp = await connectStomp(stompUrl(node.server.addresses.wsPort), { Authorization: `Bearer ${bob.accessToken}` });
    const sub = stomp.subscribe(roomId);
    await waitFor(async () => (await node.server.ports.presence.present(roomId)).includes(bob.userId), 'Bob subscribed');
    // Cat's and Dan's sockets have joined nothing: room events still reach them.
    const catSocket = await TestSocket.connect(node.wsUrl, cat.accessToken);
    const danSocket = await TestSocket.connect(node.wsUrl, dan.accessToken);
    // A ping is answered once the session is admitted, which is when it subscribes to the user's events.
    await Promise.all([catSocket.call({ type: 'ping' }), danSocket.call({ type: 'ping' })]);
    await new Promise((r) => setTimeout(r, 50));

    const catAdded = catSocket.next((f) => f.type === 'room' && f.event === 'added' && f.room.roomId === roomId);
    const annUpdated = native.next((f) => f.type === 'room' && f.event === 'updated' && f.room.roomId === roomId && f.room.memberCount === 3);
    const invited = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: bob.accessToken, body: { users: [cat.userId, ann.userId] } });
    assert.equal(invited.status, 200);
    assert.equal(invited.body.data.members.length, 3);
    // An open room names every member by an id of its own (see test/http/open-chat.test.ts).
    const idOf = new Map<string, string>(invited.body.data.members.map((m: { nickname: string; userId: string }) => [m.nickname, m.userId]));
    assert.notEqual(idOf.get('Ann'), ann.userId);
    const added = await catAdded;
    assert.deepEqual(added.room, { roomId, title: 'Ann, Bob', hostId: idOf.get('Ann'), isOpen: true, memberCount: 3 });
    assert.equal((await annUpdated).room.title, 'Bob, Cat', 'each user\'s own default title');

    const danAdded = danSocket.next((f) => f.type === 'room' && f.event === 'added' && f.room.roomId === roomId);
    const danJoined = await node.request('POST', '/api/chatroom/join', { token: dan.accessToken, body: { chatroomId: roomId } });
    assert.equal(danJoined.status, 200);
    idOf.set('Dan', danJoined.body.data.myId);
    assert.equal((await danAdded).room.memberCount, 4);

    const catRemoved = catSocket.next((f) => f.type === 'room' && f.event === 'removed');
    assert.equal((await node.request('DELETE', `/api/chatroom/${roomId}`, { token: cat.accessToken })).status, 200);
    assert.deepEqual(await catRemoved, { type: 'room', event: 'removed', room: { roomId } });

    const retitled = danSocket.next((f) => f.type === 'room' && f.event === 'updated' && f.room.title === 'Open chat');
    await node.request('PUT', `/api/chatroom/${roomId}`, { token: dan.accessToken, body: { title: 'Open chat' } });
    await retitled;

    const kinds = ['INVITE', 'ENTER', 'LEAVE'];
    await waitFor(() => native.of('message', roomId).filter((f) => kinds.includes(f.message.messageType)).length === 3, 'native gets all three');
    await waitFor(() => sub.messages.filter((m) => kinds.includes(m.message_type)).length === 3, 'STOMP gets all three');
    const nativeSystem = native.of('message', roomId).map((f) => f.message).filter((m) => kinds.includes(m.messageType));
    const [bobId, catId, danId] = [idOf.get('Bob'), idOf.get('Cat'), idOf.get('Dan')];
    assert.deepEqual(nativeSystem.map((m) => [m.messageType, m.senderId, m.userIds]), [
      ['INVITE', bobId, [catId]], ['ENTER', danId, [danId]], ['LEAVE', catId, [catId]],
    ]);
    assert.deepEqual(sub.messages.filter((m) => kinds.includes(m.message_type)).map((m) => [m.message_type, m.contents, m.user_ids]), [
      ['INVITE', 'Bob님이 Cat님을 초대했습니다.', [catId]], ['ENTER', 'Dan님이 입장했습니다.', [danId]], ['LEAVE', 'Cat님이 나갔습니다.', [catId]],
    ]);
    const stored = (await history(roomId)).reverse().map((m) => m.messageType);
    assert.deepEqual(stored, ['INVITE', 'INVITE', 'ENTER', 'LEAVE'], 'in history once each, in order');
    assert.equal(danSocket.of('room').filter((f) => f.event === 'updated' && f.room.title === 'Open chat').length, 1);
    assert.equal(native.of('room').some((f) => f.room.title === 'Open chat'), false, 'a title is the member\'s own');

    await Promise.all([stomp.disconnect(), native.close(), catSocket.close(), danSocket.close()]);
  });

  it('invite needs a member, known users and a list', async () => {
    const roomId = await node.createRoom(ann, [bob]);
    const byOutsider = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: cat.accessToken, body: { users: [dan.userId] } });
    assert.equal(byOutsider.status, 403);
    const unknown = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: ann.accessToken, body: { users: ['12345'] } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /users\/0/);
    const empty = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: ann.accessToken, body: { users: [] } });
    assert.equal(empty.status, 400);
    const missing = await node.request('POST', '/api/chatroom/999/invite', { token: ann.accessToken, body: { users: [dan.userId] } });
    assert.equal(missing.status, 404);
    const again = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: ann.accessToken, body: { users: [bob.userId] } });
    assert.equal(again.status, 200);
    assert.equal((await history(roomId)).length, 1, 'inviting a member again posts nothing');
  });

  it('speaks English when SYSTEM_MESSAGE_LANGUAGE=en', async () => {
    const english = await startNode({ config: { systemMessageLanguage: 'en' } });
    try {
      const [x, y] = await Promise.all([english.signUp('Xan'), english.signUp('Yul')]);
      const roomId = await english.createRoom(x, [y]);
      const messages = (await english.request('GET', `/api/chat/history/${roomId}`, { token: y.accessToken })).body.data.messages;
      assert.equal(messages[0].contents, 'Xan invited Yul.');
      await english.request('DELETE', `/api/chatroom/${roomId}`, { token: y.accessToken });
      const after = (await english.request('GET', `/api/chat/history/${roomId}`, { token: x.accessToken })).body.data.messages;
      assert.equal(after[0].contents, 'Yul left.');
    } finally {
      await english.stop();
    }
  });
});
