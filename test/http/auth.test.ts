import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { claimsOf, forgeAccessToken, unsignedToken } from '../support/tokens.ts';
import { sleep } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** Short, so the theft tests can wait it out; the default is 10 s. */
const REUSE_GRACE_MS = 1_000;

describe('accounts and tokens over HTTP', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { refreshReuseGraceMs: REUSE_GRACE_MS } });
  });
  after(() => node.stop());

  const me = (token: string) => node.request('GET', '/api/chatroom', { token });
  const refresh = (refreshToken: string) => node.request('POST', '/api/auth/token', { body: { refreshToken } });

  it('signs up a user and hands out working tokens', async () => {
    const email = `${randomUUID()}@example.com`;
    const response = await node.request('POST', '/api/auth/signup', {
      body: { email, password: 'long enough secret', nickname: 'Ann', phoneNumber: '010-1234-5678', birthday: '1990-04-01', deviceId: 'phone' },
    });
    assert.equal(response.status, 201);
    assert.equal(response.body.status, 201, 'the envelope repeats the status');
    assert.equal(response.body.data.nickname, 'Ann');
    assert.match(response.body.data.userId, /^[0-9]+$/);
    assert.equal((await me(response.body.data.accessToken)).status, 200);
  });

  it('refuses a second account with the same email, whatever its case (409)', async () => {
    const user = await node.signUp();
    const response = await node.request('POST', '/api/auth/signup', {
      body: { email: user.email.toUpperCase(), password: 'another secret', nickname: 'Copy', deviceId: 'phone' },
    });
    assert.equal(response.status, 409);
    assert.equal(response.body.data.code, 'email_taken');
  });

  it('names the offending field of a bad sign-up (400)', async () => {
    const base = { email: `${randomUUID()}@example.com`, password: 'long enough secret', nickname: 'Ann', deviceId: 'phone' };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base, email: 'not-an-email' }, /email/],
      [{ ...base, password: 'short' }, /password/],
      [{ ...base, nickname: '' }, /nickname/],
      [{ ...base, birthday: '1990-13-45' }, /birthday/],
      [{ ...base, deviceId: undefined }, /deviceId/],
      [{ ...base, admin: true }, /additional properties|admin/],
      [{ ...base, nickname: 42 }, /nickname/],
    ];
    for (const [body, field] of cases) {
      const response = await node.request('POST', '/api/auth/signup', { body });
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(response.body.message, field);
    }
    const malformed = await node.request('POST', '/api/auth/signup', { raw: '{"email": ' });
    assert.equal(malformed.status, 400);
  });

  it('signs in per device and refuses a wrong password or unknown email alike (401)', async () => {
    const user = await node.signUp();
    const laptop = await node.signIn(user, 'laptop');
    assert.equal((await me(laptop.accessToken)).status, 200);
    assert.equal((await me(user.accessToken)).status, 200, 'the phone stays signed in');
    const wrong = await node.request('POST', '/api/auth/signin', { body: { email: user.email, password: 'wrong password', deviceId: 'x' } });
    const unknown = await node.request('POST', '/api/auth/signin', { body: { email: `${randomUUID()}@example.com`, password: 'whatever1', deviceId: 'x' } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body.message, unknown.body.message, 'no hint which one was wrong');
  });

  it('checks whether an email is free', async () => {
    const user = await node.signUp();
    const taken = await node.request('GET', `/api/auth/check?email=${encodeURIComponent(user.email)}`);
    const free = await node.request('GET', `/api/auth/check?email=${randomUUID()}@example.com`);
    assert.deepEqual([taken.status, taken.body.data.available], [200, false]);
    assert.deepEqual([free.status, free.body.data.available], [200, true]);
    assert.equal((await node.request('GET', '/api/auth/check?email=nope')).status, 400);
    assert.equal((await node.request('GET', '/api/auth/check')).status, 400);
  });

  it('rotates refresh tokens: each works once', async () => {
    const user = await node.signUp();
    const first = await node.request('POST', '/api/auth/token', { body: { refreshToken: user.refreshToken } });
    assert.equal(first.status, 200);
    assert.notEqual(first.body.data.refreshToken, user.refreshToken);
    assert.equal((await me(first.body.data.accessToken)).status, 200);
    // FlameTalk's original form: the refresh token in a header.
    const second = await node.request('GET', '/api/auth/token', { headers: { 'REFRESH-TOKEN': first.body.data.refreshToken, 'ACCESS-TOKEN': first.body.data.accessToken } });
    assert.equal(second.status, 200);
    assert.equal((await me(second.body.data.accessToken)).status, 200);
    const bogus = await node.request('POST', '/api/auth/token', { body: { refreshToken: 'garbage' } });
    assert.equal(bogus.status, 401);
  });

  it('treats a stolen refresh token used after the owner refreshed (past the reuse grace) as theft: that device must sign in again, others keep working', async () => {
    const owner = await node.signUp('Victim', 'phone');
    const laptop = await node.signIn(owner, 'laptop');
    const stolen = owner.refreshToken;
    const ownerRefresh = await node.request('POST', '/api/auth/token', { body: { refreshToken: owner.refreshToken } });
    assert.equal(ownerRefresh.status, 200, 'the owner refreshes first');
    await sleep(REUSE_GRACE_MS + 100);

    const thief = await node.request('POST', '/api/auth/token', { body: { refreshToken: stolen } });
    assert.equal(thief.status, 401);
    assert.equal(thief.body.data.code, 'refresh_reused');

    assert.equal((await me(ownerRefresh.body.data.accessToken)).status, 401, "the owner's fresh access token is revoked too");
    const ownerAgain = await node.request('POST', '/api/auth/token', { body: { refreshToken: ownerRefresh.body.data.refreshToken } });
    assert.equal(ownerAgain.status, 401, "the owner's fresh refresh token is dead: sign in again");
    assert.equal((await me(laptop.accessToken)).status, 200, 'the same user on another device is untouched');
    const signedInAgain = await node.signIn(owner, 'phone');
    assert.equal((await me(signedInAgain.accessToken)).status, 200);
  });

  it('gives two concurrent refreshes of one token the same new pair, and the device stays signed in', async () => {
    const user = await node.signUp();
    const [one, two] = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    assert.deepEqual([one.status, two.status], [200, 200], `${one.body.message} / ${two.body.message}`);
    assert.deepEqual(two.body.data, one.body.data, 'the same access and refresh token');
    assert.notEqual(one.body.data.refreshToken, user.refreshToken);
    const pair = one.body.data as { accessToken: string; refreshToken: string };

    assert.equal((await me(pair.accessToken)).status, 200, 'the new access token works');
    const socket = await TestSocket.connect(node.wsUrl, pair.accessToken);
    try {
      assert.equal((await socket.call({ type: 'ping' })).type, 'pong', 'a socket with it connects and is served');
      const after = await refresh(pair.refreshToken);
      assert.equal(after.status, 200, 'the new refresh token is the current one');
      assert.equal((await me(after.body.data.accessToken)).status, 200);
      assert.equal(socket.ws.readyState, socket.ws.OPEN, 'the socket was not signed out');
    } finally {
      await socket.close();
    }
  });

  it('answers a retried refresh whose response was lost with the same pair; a reuse after the grace still signs the device out', async () => {
    const user = await node.signUp();
    const lost = await refresh(user.refreshToken);
    assert.equal(lost.status, 200);
    const retried = await refresh(user.refreshToken);
    assert.equal(retried.status, 200);
    assert.deepEqual(retried.body.data, lost.body.data);
    const socket = await TestSocket.connect(node.wsUrl, retried.body.data.accessToken);

    await sleep(REUSE_GRACE_MS + 100);
    const late = await refresh(user.refreshToken);
    assert.equal(late.status, 401);
    assert.equal(late.body.data.code, 'refresh_reused');
    assert.equal((await socket.closed).code, 4003, 'the socket of the device is closed as revoked');
    assert.equal((await me(retried.body.data.accessToken)).status, 401);
    assert.equal((await refresh(retried.body.data.refreshToken)).status, 401, 'the pair handed out is dead too');
  });

  it('answers 401 for a missing, malformed, forged, expired, unsigned or revoked access token', async () => {
    const user = await node.signUp();
    const claims = claimsOf(user.accessToken);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['missing', {}, 'token_missing'],
      ['not a bearer', { authorization: 'Basic abc' }, 'token_invalid'],
      ['garbage', { authorization: 'Bearer not.a.jwt' }, 'token_invalid'],
      ['bad signature', { authorization: `Bearer ${await forgeAccessToken(claims, { secret: 'another-secret-that-is-long-enough!!' })}` }, 'token_invalid'],
      ['expired', { authorization: `Bearer ${await forgeAccessToken(claims, { expiresInSeconds: -10 })}` }, 'token_expired'],
      ['alg none', { authorization: `Bearer ${unsignedToken(claims)}` }, 'token_invalid'],
      // The same signature bytes spelled another way: padding, a stray character, spare bits set.
      ['padded signature', { authorization: `Bearer ${user.accessToken}=` }, 'token_invalid'],
      ['stray character in the signature', { authorization: `Bearer ${user.accessToken.slice(0, -5)}!${user.accessToken.slice(-5)}` }, 'token_invalid'],
      ['signature with spare bits set', { authorization: `Bearer ${withSpareBitSet(user.accessToken)}` }, 'token_invalid'],
    ];
    for (const [what, headers, code] of cases) {
      const response = await node.request('GET', '/api/chatroom', { headers });
      assert.equal(response.status, 401, what);
      assert.equal(response.body.data.code, code, what);
    }
    assert.equal((await node.request('GET', '/api/chatroom', { headers: { 'ACCESS-TOKEN': user.accessToken } })).status, 200, 'the original ACCESS-TOKEN header works');

    assert.equal((await node.request('POST', '/api/auth/signout', { token: user.accessToken })).status, 200);
    const revoked = await me(user.accessToken);
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.data.code, 'token_revoked');
    assert.equal((await node.request('POST', '/api/auth/token', { body: { refreshToken: user.refreshToken } })).status, 401, 'signed out: refresh is dead too');
  });

  it('lets an account leave and come back by signing in within the grace period', async () => {
    const user = await node.signUp();
    const tablet = await node.signIn(user, 'tablet');
    assert.equal((await node.request('DELETE', '/api/auth/leave', { token: user.accessToken })).status, 200);
    assert.equal((await me(user.accessToken)).status, 401, 'every device is signed out');
    assert.equal((await me(tablet.accessToken)).status, 401);
    const back = await node.signIn(user, 'phone');
    assert.equal((await me(back.accessToken)).status, 200);
  });
});

describe('refresh rotation across two nodes (Redis)', () => {
  let a: TestNode;
  let b: TestNode;
  const redisPrefix = `${uniqueName('refresh')}:`;
  before(async () => {
    // Two nodes on one Redis (tokens) and one user store: a cluster without Kafka and Cassandra.
    const store = new MemoryStore();
    const config = { redisUrl: backendAddress('REDIS_URL'), redisPrefix };
    a = await startNode({ config, drivers: { store } });
    b = await startNode({ config, drivers: { store } });
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    const redis = new Redis(backendAddress('REDIS_URL'));
    for await (const keys of redis.scanStream({ match: `${redisPrefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('gives the same new pair to two concurrent refreshes sent to different nodes, and the device stays signed in on both', async () => {
    const user = await a.signUp();
    const refreshOn = (node: TestNode) => node.request('POST', '/api/auth/token', { body: { refreshToken: user.refreshToken } });
    const [onA, onB] = await Promise.all([refreshOn(a), refreshOn(b)]);
    assert.deepEqual([onA.status, onB.status], [200, 200], `${onA.body.message} / ${onB.body.message}`);
    assert.deepEqual(onB.body.data, onA.body.data);
    for (const node of [a, b]) {
      assert.equal((await node.request('GET', '/api/chatroom', { token: onA.body.data.accessToken })).status, 200);
      const socket = await TestSocket.connect(node.wsUrl, onA.body.data.accessToken);
      assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
      await socket.close();
    }
    assert.equal((await b.request('POST', '/api/auth/token', { body: { refreshToken: onA.body.data.refreshToken } })).status, 200);
  });
});

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A 32-byte signature takes 43 base64url characters, whose last 2 bits are spare: set the lowest. */
function withSpareBitSet(token: string): string {
  const last = BASE64URL.indexOf(token.at(-1)!);
  return token.slice(0, -1) + BASE64URL[last ^ 1];
}
