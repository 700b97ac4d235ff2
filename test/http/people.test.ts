import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LogPusher } from '../../src/infra/memory/push.ts';
import { normalizePhone } from '../../src/people/phone.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** A phone number no other user of this run has, in the national form (leading 0). */
const phone = (): string => `010-${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}-${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;

async function signUp(node: TestNode, nickname: string, extra: { phoneNumber?: string; birthday?: string } = {}): Promise<TestUser & { phoneNumber?: string }> {
  const email = `${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  const response = await node.request('POST', '/api/auth/signup', { body: { email, password, nickname, deviceId: 'phone', ...extra } });
  assert.equal(response.status, 201, response.body.message);
  return { ...response.body.data, nickname, email, password, deviceId: 'phone', ...extra };
}

describe('people over HTTP: search, friends, profiles', () => {
  let node: TestNode;
  let ann: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;
  let cat: Awaited<ReturnType<typeof signUp>>;
  let dan: Awaited<ReturnType<typeof signUp>>;
  before(async () => {
    node = await startNode({ config: { userSearchesPerWindow: 8, userSearchWindowSeconds: 60 } });
    const today = new Date().toISOString().slice(5, 10);
    ann = await signUp(node, 'Ann', { phoneNumber: phone() });
    bob = await signUp(node, 'Bob', { phoneNumber: phone(), birthday: `1990-${today}` });
    cat = await signUp(node, 'Cat', { phoneNumber: phone() });
    dan = await signUp(node, 'Dan', { phoneNumber: phone() });
  });
  after(() => node.stop());

  it('normalises phone numbers to digits with the country code', () => {
    assert.equal(normalizePhone('010-1234-5678', '82'), '821012345678');
    assert.equal(normalizePhone('+82 10 1234 5678', '82'), '821012345678');
    assert.equal(normalizePhone('0082 10 1234 5678', '1'), '821012345678');
    assert.equal(normalizePhone('(0)10.1234.5678', '44'), '441012345678');
  });

  it('finds a user by exact phone number (any spelling) or email, never by prefix', async () => {
    const byPhone = await node.request('GET', `/api/users/search?phoneNumber=${encodeURIComponent(`+82 ${bob.phoneNumber!.slice(1)}`)}`, { token: ann.accessToken });
    assert.equal(byPhone.status, 200, byPhone.body.message);
    assert.equal(byPhone.body.data.userId, bob.userId);
    assert.equal(byPhone.body.data.nickname, 'Bob');
    assert.equal(byPhone.body.data.profile.isDefault, true);
    assert.equal(byPhone.body.data.profile.nickname, 'Bob');
    assert.equal(byPhone.body.data.email, undefined, 'no email or phone in the answer');
    const byEmail = await node.request('GET', `/api/users/search?email=${encodeURIComponent(cat.email.toUpperCase())}`, { token: ann.accessToken });
    assert.equal(byEmail.body.data.userId, cat.userId);
    const prefix = await node.request('GET', `/api/users/search?phoneNumber=${encodeURIComponent(bob.phoneNumber!.slice(0, 8))}`, { token: ann.accessToken });
    assert.equal(prefix.status, 404);
    assert.equal((await node.request('GET', '/api/users/search', { token: ann.accessToken })).status, 400, 'one of phoneNumber or email');
    assert.equal((await node.request('GET', '/api/users/search?phoneNumber=abc', { token: ann.accessToken })).status, 400);
    assert.equal((await node.request('GET', '/api/users/search?email=x@example.com')).status, 401);
  });

  it('refuses a second account with the same phone number, however it is written (409)', async () => {
    const response = await node.request('POST', '/api/auth/signup', {
      body: { email: `${randomUUID()}@example.com`, password: 'correct horse battery', nickname: 'Copy', deviceId: 'd', phoneNumber: `+82${ann.phoneNumber!.slice(1)}` },
    });
    assert.equal(response.status, 409);
    assert.equal(response.body.data.code, 'phone_taken');
  });

  it('limits searches per caller (429), so accounts cannot be enumerated', async () => {
    const searcher = await signUp(node, 'Searcher');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await node.request('GET', `/api/users/search?phoneNumber=0109999${String(i).padStart(4, '0')}`, { token: searcher.accessToken })).status);
    }
    assert.deepEqual(statuses.slice(0, 8), Array(8).fill(404));
    assert.deepEqual(statuses.slice(8), [429, 429]);
    // Another caller has a count of its own.
    assert.equal((await node.request('GET', `/api/users/search?email=${encodeURIComponent(bob.email)}`, { token: dan.accessToken })).status, 200);
  });

  it('contact sync adds exactly the registered numbers, idempotently, never the caller', async () => {
    const numbers = [bob.phoneNumber!, `+82 ${cat.phoneNumber!.slice(1)}`, '010-0000-0001', '010-0000-0002', ann.phoneNumber!];
    const first = await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumbers: numbers } });
    assert.equal(first.status, 200, first.body.message);
    assert.deepEqual(first.body.data.friends.map((f: any) => f.userId).sort(), [bob.userId, cat.userId].sort());
    const again = await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumbers: numbers } });
    assert.equal(again.body.data.friends.length, 2);
    const list = await node.request('GET', '/api/membership/friend', { token: ann.accessToken });
    assert.deepEqual(list.body.data.friends.map((f: any) => f.nickname), ['Bob', 'Cat']);
    const tooMany = await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumbers: Array(1001).fill('010-1111-2222') } });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.message, /phoneNumbers/);
    assert.equal((await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: {} })).status, 400);
  });

  it('adds one friend by phone; an unknown number is 404, one\'s own is 400', async () => {
    const added = await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumber: dan.phoneNumber } });
    assert.equal(added.status, 200);
    assert.equal(added.body.data.friends[0].userId, dan.userId);
    assert.equal(added.body.data.friends[0].profile.nickname, 'Dan');
    assert.equal((await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumber: '010-0000-0003' } })).status, 404);
    assert.equal((await node.request('POST', '/api/membership/friend', { token: ann.accessToken, body: { phoneNumber: ann.phoneNumber } })).status, 400);
  });

  it('filters friends (birthday, marked, hidden, blocked) and sorts them by nickname', async () => {
    const put = (friend: TestUser, body: unknown) => node.request('PUT', `/api/membership/friend/${friend.userId}`, { token: ann.accessToken, body });
    assert.equal((await put(cat, { marked: true })).status, 200);
    assert.equal((await put(dan, { marked: true, hidden: true })).status, 200);
    const names = async (filter?: string) =>
      (await node.request('GET', `/api/membership/friend${filter ? `?filter=${filter}` : ''}`, { token: ann.accessToken })).body.data.friends.map((f: any) => f.nickname);
    assert.deepEqual(await names(), ['Bob', 'Cat'], 'default: not hidden, not blocked');
    assert.deepEqual(await names('marked'), ['Cat', 'Dan']);
    assert.deepEqual(await names('hidden'), ['Dan']);
    assert.deepEqual(await names('birthday'), ['Bob']);
    assert.deepEqual(await names('blocked'), []);
    assert.equal((await node.request('GET', '/api/membership/friend?filter=nope', { token: ann.accessToken })).status, 400);
    assert.equal((await put(dan, { hidden: false })).body.data.hidden, false);
    assert.deepEqual(await names(), ['Bob', 'Cat', 'Dan']);
    assert.equal((await put(dan, {})).status, 400);
    assert.equal((await node.request('PUT', `/api/membership/friend/${randomUUID()}`, { token: ann.accessToken, body: { marked: true } })).status, 404);
    const removed = await node.request('DELETE', `/api/membership/friend/${dan.userId}`, { token: ann.accessToken });
    assert.equal(removed.status, 200);
    assert.deepEqual(await names(), ['Bob', 'Cat']);
    assert.equal((await node.request('DELETE', `/api/membership/friend/${dan.userId}`, { token: ann.accessToken })).status, 404);
  });

  it('has exactly one default profile from sign-up; more can be made, changed and deleted, not the default', async () => {
    const mine = await node.request('GET', '/api/membership/profile', { token: cat.accessToken });
    assert.equal(mine.status, 200);
    assert.equal(mine.body.data.profiles.length, 1);
    const [main] = mine.body.data.profiles;
    assert.equal(main.isDefault, true);
    assert.equal(main.nickname, 'Cat');

    const created = await node.request('POST', '/api/membership/profile', {
      token: cat.accessToken, body: { nickname: 'Cat at work', description: 'd'.repeat(60), imageUrl: '/img/1.png', stickers: [{ stickerId: 'star', x: 0.25, y: 0.75 }] },
    });
    assert.equal(created.status, 201, created.body.message);
    assert.equal(created.body.data.isDefault, false);
    assert.deepEqual(created.body.data.stickers, [{ stickerId: 'star', x: 0.25, y: 0.75 }]);
    const work = created.body.data.profileId;
    const tooLong = await node.request('POST', '/api/membership/profile', { token: cat.accessToken, body: { nickname: 'x', description: 'd'.repeat(61) } });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.message, /description/);

    const changed = await node.request('PUT', `/api/membership/profile/${work}`, { token: cat.accessToken, body: { imageUrl: '/img/2.png', description: 'busy' } });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.data.imageUrl, '/img/2.png');
    assert.equal(changed.body.data.nickname, 'Cat at work');
    assert.equal((await node.request('PUT', `/api/membership/profile/${work}`, { token: bob.accessToken, body: { nickname: 'mine now' } })).status, 404);
    assert.equal((await node.request('DELETE', `/api/membership/profile/${main.profileId}`, { token: cat.accessToken })).status, 400);
    const extra = (await node.request('POST', '/api/membership/profile', { token: cat.accessToken, body: { nickname: 'spare' } })).body.data.profileId;
    assert.equal((await node.request('DELETE', `/api/membership/profile/${extra}`, { token: cat.accessToken })).status, 200);
    assert.equal((await node.request('GET', `/api/membership/profile/${extra}`, { token: cat.accessToken })).status, 404);
    assert.equal((await node.request('GET', '/api/membership/profile', { token: cat.accessToken })).body.data.profiles.length, 2);
  });

  it('shows a profile to the friend it is assigned to, and not to a stranger', async () => {
    const secret = (await node.request('POST', '/api/membership/profile', { token: bob.accessToken, body: { nickname: 'Bobby', imageUrl: '/img/bobby.png' } })).body.data.profileId;
    const assignedTo = await node.request('PUT', `/api/membership/friend/${ann.userId}`, { token: bob.accessToken, body: { assignedProfileId: secret } });
    assert.equal(assignedTo.status, 404, 'Ann is not Bob\'s friend yet');
    await node.request('POST', '/api/membership/friend', { token: bob.accessToken, body: { phoneNumber: ann.phoneNumber } });
    const assigned = await node.request('PUT', `/api/membership/friend/${ann.userId}`, { token: bob.accessToken, body: { assignedProfileId: secret } });
    assert.equal(assigned.status, 200);
    assert.equal(assigned.body.data.assignedProfileId, secret);
    const notMine = (await node.request('GET', '/api/membership/profile', { token: cat.accessToken })).body.data.profiles[1].profileId;
    assert.equal((await node.request('PUT', `/api/membership/friend/${ann.userId}`, { token: bob.accessToken, body: { assignedProfileId: notMine } })).status, 400);

    const byFriend = await node.request('GET', `/api/membership/profile/${secret}`, { token: ann.accessToken });
    assert.equal(byFriend.status, 200);
    assert.equal(byFriend.body.data.nickname, 'Bobby');
    assert.equal((await node.request('GET', `/api/membership/profile/${secret}`, { token: dan.accessToken })).status, 403, 'a stranger');
    assert.equal((await node.request('GET', `/api/membership/profile/${secret}`, { token: cat.accessToken })).status, 403, 'another friend');
    const bobsDefault = (await node.request('GET', '/api/membership/profile', { token: bob.accessToken })).body.data.profiles[0].profileId;
    assert.equal((await node.request('GET', `/api/membership/profile/${bobsDefault}`, { token: dan.accessToken })).status, 200, 'default profiles are public');
    // Ann's friend list shows Bob as Bob shows himself to her.
    const annsFriends = (await node.request('GET', '/api/membership/friend', { token: ann.accessToken })).body.data.friends;
    assert.deepEqual(annsFriends.map((f: any) => f.nickname), ['Bobby', 'Cat']);
    assert.equal(annsFriends[0].profile.profileId, secret);
    assert.equal((await node.request('GET', '/api/membership/profile/abc', { token: ann.accessToken })).status, 400);
  });

  it('keeps a feed of a profile\'s images with a per-item lock', async () => {
    const profileId = (await node.request('POST', '/api/membership/profile', { token: dan.accessToken, body: { nickname: 'Dan', imageUrl: '/img/a.png' } })).body.data.profileId;
    await node.request('PUT', `/api/membership/profile/${profileId}`, { token: dan.accessToken, body: { imageUrl: '/img/b.png' } });
    const feed = await node.request('GET', `/api/membership/feed/${profileId}`, { token: dan.accessToken });
    assert.equal(feed.status, 200);
    assert.deepEqual(feed.body.data.feed.map((f: any) => f.imageUrl), ['/img/b.png', '/img/a.png'], 'newest first');
    const oldest = feed.body.data.feed[1].feedId;
    assert.equal((await node.request('PUT', `/api/membership/feed/${oldest}`, { token: ann.accessToken, body: { locked: true } })).status, 403);
    const locked = await node.request('PUT', `/api/membership/feed/${oldest}`, { token: dan.accessToken, body: { locked: true } });
    assert.equal(locked.status, 200);
    assert.equal(locked.body.data.locked, true);
    assert.equal((await node.request('GET', `/api/membership/feed/${profileId}`, { token: dan.accessToken })).body.data.feed.length, 2, 'the owner sees all');
    // Dan assigns this profile to Ann, who then sees only the unlocked item.
    await node.request('POST', '/api/membership/friend', { token: dan.accessToken, body: { phoneNumber: ann.phoneNumber } });
    await node.request('PUT', `/api/membership/friend/${ann.userId}`, { token: dan.accessToken, body: { assignedProfileId: profileId } });
    const seen = await node.request('GET', `/api/membership/feed/${profileId}`, { token: ann.accessToken });
    assert.deepEqual(seen.body.data.feed.map((f: any) => f.imageUrl), ['/img/b.png']);
    assert.equal((await node.request('GET', `/api/membership/feed/${profileId}`, { token: cat.accessToken })).status, 403);
    assert.equal((await node.request('PUT', `/api/membership/feed/${oldest}`, { token: dan.accessToken, body: {} })).status, 400);
  });

  it('keeps open profiles: nickname at most 20 characters', async () => {
    const created = await node.request('POST', '/api/membership/openprofile', { token: ann.accessToken, body: { nickname: 'Masked', imageUrl: '/img/mask.png' } });
    assert.equal(created.status, 201);
    const id = created.body.data.openProfileId;
    assert.equal((await node.request('POST', '/api/membership/openprofile', { token: ann.accessToken, body: { nickname: 'x'.repeat(21) } })).status, 400);
    const changed = await node.request('PUT', `/api/membership/openprofile/${id}`, { token: ann.accessToken, body: { description: 'hello' } });
    assert.equal(changed.body.data.description, 'hello');
    assert.equal((await node.request('PUT', `/api/membership/openprofile/${id}`, { token: bob.accessToken, body: { description: 'x' } })).status, 404);
    assert.deepEqual((await node.request('GET', '/api/membership/openprofile', { token: ann.accessToken })).body.data.openProfiles.map((p: any) => p.nickname), ['Masked']);
    assert.equal((await node.request('DELETE', `/api/membership/openprofile/${id}`, { token: ann.accessToken })).status, 200);
    assert.deepEqual((await node.request('GET', '/api/membership/openprofile', { token: ann.accessToken })).body.data.openProfiles, []);
  });
});

describe('blocking', () => {
  let node: TestNode;
  const log = () => node.server.ports.pusher as LogPusher;
  before(async () => {
    node = await startNode();
  });
  after(() => node.stop());

  it('a blocked user cannot open a 1:1 room with the blocker (403); the blocker still can', async () => {
    const eve = await signUp(node, 'Eve');
    const fay = await signUp(node, 'Fay');
    const gus = await signUp(node, 'Gus');
    // Fay blocks Eve without being her friend first.
    const blocked = await node.request('PUT', `/api/membership/friend/${eve.userId}`, { token: fay.accessToken, body: { blocked: true } });
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body.data.blocked, true);
    const refused = await node.request('POST', '/api/chatroom', { token: eve.accessToken, body: { users: [fay.userId] } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.data.code, 'blocked');
    assert.equal((await node.request('POST', '/api/chatroom', { token: gus.accessToken, body: { users: [fay.userId] } })).status, 201, 'others may');
    assert.equal((await node.request('POST', '/api/chatroom', { token: fay.accessToken, body: { users: [eve.userId] } })).status, 201, 'the blocker may');
    const names = (await node.request('GET', '/api/membership/friend?filter=blocked', { token: fay.accessToken })).body.data.friends.map((f: any) => f.nickname);
    assert.deepEqual(names, ['Eve']);
    assert.deepEqual((await node.request('GET', '/api/membership/friend', { token: fay.accessToken })).body.data.friends, [], 'blocked are not in the default list');
    await node.request('PUT', `/api/membership/friend/${eve.userId}`, { token: fay.accessToken, body: { blocked: false } });
    assert.equal((await node.request('POST', '/api/chatroom', { token: eve.accessToken, body: { users: [fay.userId] } })).status, 201, 'unblocked');
  });

  it('messages from the blocked user in an existing 1:1 room do not reach the blocker as pushes', async () => {
    const hal = await signUp(node, 'Hal');
    const ivy = await signUp(node, 'Ivy');
    const roomId = await node.createRoom(hal, [ivy]);
    await node.request('POST', '/api/device/token', { token: ivy.accessToken, body: { deviceToken: 'ivy-device' } });
    const socket = await TestSocket.connect(node.wsUrl, hal.accessToken);
    await socket.join(roomId);
    await socket.sendText(roomId, 'before the block');
    const toIvy = () => log().sent.filter((p) => p.token === 'ivy-device');
    await waitFor(() => toIvy().length === 1, 'the push before the block');
    await node.request('PUT', `/api/membership/friend/${hal.userId}`, { token: ivy.accessToken, body: { blocked: true } });
    await socket.sendText(roomId, 'after the block');
    await sleep(500);
    assert.deepEqual(toIvy().map((p) => p.body), ['before the block']);
    const history = await node.request('GET', `/api/chat/history/${roomId}`, { token: ivy.accessToken });
    assert.deepEqual(history.body.data.messages.filter((m: any) => m.messageType === 'TALK').map((m: any) => m.contents), ['after the block', 'before the block'], 'the message is still in the room');
    await socket.close();
  });
});
