import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { AccountPurge } from '../../src/chat/purge.ts';
import { MemoryJobLeases } from '../../src/infra/memory/job-lease.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { TestSocket } from '../support/ws-client.ts';

const DAY = 86_400_000;

describe('the account purge', () => {
  let node: TestNode;
  /** The clock of the leave grace and the purge: the test moves it. */
  let clock = Date.now();

  before(async () => {
    node = await startNode({ now: () => clock, config: { systemMessageLanguage: 'en' } });
  });
  after(() => node.stop());

  const signUpWithPhone = async (nickname: string, email: string, phoneNumber: string) => {
    const response = await node.request('POST', '/api/auth/signup', {
      body: { email, password: 'correct horse battery', nickname, phoneNumber, deviceId: 'phone' },
    });
    return response;
  };
  const signIn = (user: Pick<TestUser, 'email' | 'password'>) =>
    node.request('POST', '/api/auth/signin', { body: { email: user.email, password: user.password, deviceId: 'phone' } });
  const leave = async (user: { accessToken: string }) =>
    assert.equal((await node.request('DELETE', '/api/auth/leave', { token: user.accessToken })).status, 200);

  it('restores an account signed into on day 29, deletes it on day 31 and frees its email and phone; the others see it leave', async () => {
    const email = `ann-${clock}@example.com`;
    const signedUp = await signUpWithPhone('Ann', email, '+821012345678');
    assert.equal(signedUp.status, 201);
    let ann: TestUser = { ...signedUp.body.data, nickname: 'Ann', email, password: 'correct horse battery', deviceId: 'phone' };
    const [bob, cat] = await Promise.all([node.signUp('Bob'), node.signUp('Cat')]);
    const roomId = await node.createRoom(bob, [ann, cat]);
    const { messages, purge } = node.server.chat;
    await messages.post({ userId: ann.userId, deviceId: 'phone', nickname: 'Ann' }, { roomId, messageType: 'TALK', contents: 'hello from Ann' });
    await node.server.ports.people.addFriends([
      { userId: ann.userId, friendId: bob.userId, marked: false, hidden: false, blocked: false, assignedProfileId: null, createdAt: clock },
      { userId: bob.userId, friendId: ann.userId, marked: true, hidden: false, blocked: false, assignedProfileId: null, createdAt: clock },
    ]);
    assert.ok((await node.server.ports.people.profilesOf(ann.userId)).length > 0, 'Ann has a default profile');

    // Day 0: Ann leaves. Day 29: the purge leaves her alone and signing in restores her.
    await leave(ann);
    clock += 29 * DAY;
    assert.equal(await purge.runOnce(), 0, 'nothing is due on day 29');
    const back = await signIn(ann);
    assert.equal(back.status, 200, 'signing in on day 29 restores the account');
    ann = { ...ann, ...back.body.data };
    assert.equal((await node.server.ports.store.getUser(ann.userId))?.leftAt, null);
    assert.equal((await node.request('GET', `/api/chatroom/${roomId}`, { token: ann.accessToken })).status, 200, 'still a member');
    await node.request('POST', '/api/device/token', { token: ann.accessToken, body: { deviceToken: 'fcm-ann' } });

    // She leaves again; 31 days later the purge deletes her for good.
    await leave(ann);
    clock += 31 * DAY;
    const bobSocket = await TestSocket.connect(node.wsUrl, bob.accessToken);
    await bobSocket.join(roomId);
    const leaveSeen = bobSocket.next((f) => f.type === 'message' && f.message.messageType === 'LEAVE' && f.message.senderId === ann.userId);
    const countSeen = bobSocket.next((f) => f.type === 'room' && f.event === 'updated' && f.room.roomId === roomId && f.room.memberCount === 2);
    assert.equal(await purge.runOnce(), 1);
    const leaveFrame = await leaveSeen;
    assert.deepEqual(leaveFrame.message.userIds, [ann.userId]);
    assert.equal(leaveFrame.message.nickname, 'deleted user');
    assert.equal(leaveFrame.message.contents, 'deleted user left.', 'the LEAVE names no one');
    await countSeen;
    await bobSocket.close();

    const detail = await node.request('GET', `/api/chatroom/${roomId}`, { token: bob.accessToken });
    assert.deepEqual(detail.body.data.members.map((m: any) => m.userId).sort(), [bob.userId, cat.userId].sort(), 'Ann is no member');
    assert.equal((await signIn(ann)).status, 401, 'the account is gone');
    assert.equal(await node.server.ports.store.getUser(ann.userId), undefined);
    assert.deepEqual(await node.server.ports.store.deviceTokens([ann.userId]), [], 'her push tokens are gone');
    assert.deepEqual(await node.server.ports.people.profilesOf(ann.userId), [], 'her profiles are gone');
    assert.deepEqual(await node.server.ports.people.friendsOf(ann.userId), [], 'her friend list is gone');
    assert.equal(await node.server.ports.people.getFriend(bob.userId, ann.userId), undefined, 'she is off Bob\'s friend list');
    assert.deepEqual(await node.server.ports.tokens.sessionsOf(ann.userId), []);

    // History keeps her messages, under a neutral name.
    const history = (await node.request('GET', `/api/chat/history/${roomId}?limit=100`, { token: cat.accessToken })).body.data.messages;
    const talk = history.find((m: any) => m.messageType === 'TALK');
    assert.equal(talk.contents, 'hello from Ann', 'the message stays');
    assert.equal(talk.senderId, ann.userId);
    assert.equal(talk.nickname, 'deleted user', 'under a neutral sender');
    assert.ok(history.filter((m: any) => m.messageType !== 'TALK').every((m: any) => m.senderId !== ann.userId || m.nickname === 'deleted user'));
    assert.ok(history.some((m: any) => m.senderId === bob.userId && m.nickname === 'Bob'), 'others keep their names');

    // The email (in any case) and the phone number can be registered again.
    const again = await signUpWithPhone('Ann again', email.toUpperCase(), '+821012345678');
    assert.equal(again.status, 201, again.body.message);
    assert.notEqual(again.body.data.userId, ann.userId, 'a new account');
    assert.equal(await purge.runOnce(), 0, 'the new account is not touched');
  });

  it('an account that never came back is purged without a sign-in, and a repeated run changes nothing', async () => {
    const dan = await node.signUp('Dan');
    await leave(dan);
    clock += 30 * DAY - 1000;
    assert.equal(await node.server.chat.purge.runOnce(), 0, 'not before the 30 days are over');
    clock += 2000;
    assert.equal(await node.server.chat.purge.runOnce(), 1);
    assert.equal(await node.server.chat.purge.runOnce(), 0);
    assert.equal((await signIn(dan)).status, 401);
  });

  it('runs on one node at a time: while another holds the lease, a run purges nothing', async () => {
    const eve = await node.signUp('Eve');
    await leave(eve);
    clock += 31 * DAY;
    const shared = new Map();
    const otherNode = new MemoryJobLeases(shared);
    assert.equal(await otherNode.tryAcquire('account-purge', 60_000), true);
    const { ports, chat } = node.server;
    const purge = new AccountPurge({
      store: ports.store, people: ports.people, tokens: ports.tokens, rooms: chat.rooms, leases: new MemoryJobLeases(shared),
      logger: pino({ level: 'silent' }), afterMs: 30 * DAY, deletedName: 'deleted user', now: () => clock,
    });
    assert.equal(await purge.runOnce(), 0);
    assert.ok(await ports.store.getUser(eve.userId), 'untouched while the other node holds the lease');
    await otherNode.release('account-purge');
    assert.equal(await purge.runOnce(), 1);
    assert.equal(await ports.store.getUser(eve.userId), undefined);
  });
});
