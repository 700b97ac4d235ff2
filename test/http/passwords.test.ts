import assert from 'node:assert/strict';
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Passwords } from '../../src/auth/passwords.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { sleep } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** A hash as the first release wrote it (scrypt N=2^15, r=8, p=1). */
function legacyScryptHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFKC'), salt, 32, { N: 32_768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', 32_768, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

describe('password storage', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(() => node.stop());

  const storedHash = async (email: string): Promise<string> => (await node.server.ports.store.getUserByEmail(email))!.passwordHash;
  const signIn = (email: string, password: string) => node.request('POST', '/api/auth/signin', { body: { email, password, deviceId: 'phone' } });

  it('stores new passwords as argon2id at OWASP parameters, never the password itself', async () => {
    const user = await node.signUp();
    const hash = await storedHash(user.email);
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!hash.includes(user.password));
  });

  it('still accepts a password stored with the old scrypt scheme, and upgrades it on that sign-in', async () => {
    const user = await node.signUp();
    await node.server.ports.store.updateUser(user.userId, { passwordHash: legacyScryptHash(user.password) });

    assert.equal((await signIn(user.email, 'wrong password')).status, 401);
    assert.match(await storedHash(user.email), /^scrypt\$/, 'a failed sign-in changes nothing');

    assert.equal((await signIn(user.email, user.password)).status, 200);
    assert.match(await storedHash(user.email), /^\$argon2id\$/, 'upgraded after the successful sign-in');
    assert.equal((await signIn(user.email, user.password)).status, 200, 'the upgraded hash works');
    assert.equal((await signIn(user.email, 'wrong password')).status, 401);
  });

  it('upgrades an argon2id hash made with weaker parameters', async () => {
    const user = await node.signUp();
    const weak = new Passwords({ concurrency: 1, maxWaiting: 0, params: { memoryCost: 4096, timeCost: 1, parallelism: 1 } });
    await node.server.ports.store.updateUser(user.userId, { passwordHash: await weak.hash(user.password) });
    assert.match(await storedHash(user.email), /m=4096,t=1/);
    assert.equal((await signIn(user.email, user.password)).status, 200);
    assert.match(await storedHash(user.email), /m=19456,t=2,p=1/);
  });

  it('takes as long for an unknown email as for a wrong password, so timing does not reveal accounts', async () => {
    const user = await node.signUp();
    const time = async (email: string): Promise<number> => {
      const started = performance.now();
      assert.equal((await signIn(email, 'wrong password')).status, 401);
      return performance.now() - started;
    };
    await time(`${randomUUID()}@example.com`); // the dummy hash is made on first use
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(user.email));
      unknown.push(await time(`${randomUUID()}@example.com`));
    }
    const [k, u] = [median(known), median(unknown)];
    assert.ok(u > k * 0.6 && u < k * 1.6, `median wrong password ${k.toFixed(1)} ms, unknown email ${u.toFixed(1)} ms`);
  });
});

describe('password hashing under a flood', () => {
  it('never computes more hashes at once than configured', async () => {
    const passwords = new Passwords({ concurrency: 2, maxWaiting: 100 });
    let peak = 0;
    const probe = setInterval(() => {
      peak = Math.max(peak, passwords.load.running);
    }, 1);
    const hashes = await Promise.all(Array.from({ length: 8 }, (_, i) => passwords.hash(`password ${i}`)));
    clearInterval(probe);
    assert.equal(new Set(hashes).size, 8);
    assert.equal(peak, 2);
    assert.deepEqual(passwords.load, { running: 0, waiting: 0 });
  });

  it('refuses sign-ins beyond the waiting queue with 503 and Retry-After, and serves again afterwards', async () => {
    const node = await startNode({ config: { passwordHashConcurrency: 1, passwordHashQueue: 2 } });
    try {
      const user = await node.signUp();
      const flood = await Promise.all(Array.from({ length: 12 }, () =>
        node.request('POST', '/api/auth/signin', { body: { email: user.email, password: user.password, deviceId: 'phone' } })));
      const busy = flood.filter((r) => r.status === 503);
      assert.ok(busy.length > 0, 'some were refused');
      assert.ok(flood.filter((r) => r.status === 200).length >= 3, 'the running one and the queued ones are served');
      assert.equal(busy[0]!.body.data.code, 'busy');
      assert.equal(busy[0]!.headers.get('retry-after'), '1');
      assert.equal((await node.request('POST', '/api/auth/signin', { body: { email: user.email, password: user.password, deviceId: 'phone' } })).status, 200);
    } finally {
      await node.stop();
    }
  });

  it('keeps the p99 of a WebSocket round trip under 50 ms while a sign-in flood is hashed', async () => {
    // Exempt from the sign-in limits, so every attempt of the flood is hashed (the point here); pings
    // as fast as they come back, so the socket's own frame limit is raised.
    const node = await startNode({ config: { limitExemptIps: ['127.0.0.1'], rateLimitPerSecond: 1_000, rateLimitBurst: 1_000 } });
    try {
      const [target, watcher] = await Promise.all([node.signUp(), node.signUp()]);
      const socket = await TestSocket.connect(node.wsUrl, watcher.accessToken);
      // About 25 ms of hashing each, one at a time, IN_FLIGHT attempts always waiting: the hashing
      // core is busy for all of FLOOD_MS.
      const FLOOD_MS = 6_000;
      const IN_FLIGHT = 24;
      const statuses = { 200: 0, 401: 0, other: 0 };
      const expected = { 200: 0, 401: 0, other: 0 };
      let flooding = true;
      const flood = (async () => {
        const deadline = performance.now() + FLOOD_MS;
        let sent = 0;
        await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
          while (performance.now() < deadline) {
            const attempt = sent++;
            // Mostly guesses, every fourth the right password (a new session on one of a few devices).
            const right = attempt % 4 === 0;
            expected[right ? 200 : 401]++;
            const password = right ? target.password : `wrong password ${attempt}`;
            const response = await node.request('POST', '/api/auth/signin', { body: { email: target.email, password, deviceId: `device-${attempt % 3}` } });
            statuses[response.status === 200 || response.status === 401 ? response.status : 'other']++;
          }
        }));
        flooding = false;
        return sent;
      })();
      const rtts: number[] = [];
      while (flooding) {
        const started = performance.now();
        assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
        rtts.push(performance.now() - started);
        await sleep(5);
      }
      const attempts = await flood;
      await socket.close();

      const p50 = percentile(rtts, 0.5);
      const p99 = percentile(rtts, 0.99);
      console.log(`sign-in flood: ${attempts} attempts in ${FLOOD_MS / 1000} s (${JSON.stringify(statuses)}); `
        + `${rtts.length} pings, round trip p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...rtts).toFixed(1)} ms`);
      assert.deepEqual(statuses, expected, 'every attempt was hashed and answered');
      assert.ok(attempts > 2 * IN_FLIGHT, `the flood kept the hashing busy (${attempts} attempts)`);
      // Hashing on the event loop holds every ping behind the hashes queued before it: p99 in the
      // hundreds of ms, and only a few pings in all.
      assert.ok(p99 < 50, `p99 round trip ${p99.toFixed(1)} ms (p50 ${p50.toFixed(1)} ms)`);
      assert.ok(rtts.length >= 300, `enough pings for a p99 (${rtts.length})`);
    } finally {
      await node.stop();
    }
  });
});
