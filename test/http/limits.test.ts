import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { startNode, type ApiClient, type ApiResponse, type TestNode, type TestUser } from '../support/server.ts';

const signIn = (node: ApiClient, email: string, password: string, headers: Record<string, string> = {}) =>
  node.request('POST', '/api/auth/signin', { body: { email, password, deviceId: 'phone' }, headers });

async function failTimes(node: ApiClient, email: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) assert.equal((await signIn(node, email, `wrong password ${i}`)).status, 401, `failure ${i + 1} is a plain 401`);
}

function assertLimited(response: ApiResponse, maxRetrySeconds: number): void {
  assert.equal(response.status, 429);
  assert.equal(response.body.status, 429, 'in the envelope');
  assert.equal(response.body.data.code, 'rate_limited');
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= maxRetrySeconds, `Retry-After ${response.headers.get('retry-after')}`);
}

describe('HTTP abuse limits (defaults, one node)', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode();
  });
  after(() => node.stop());

  it('answers the 11th wrong password for one account within 15 minutes with 429 and Retry-After, even with the right password', async () => {
    const user = await node.signUp();
    await failTimes(node, user.email, 10);
    const locked = await signIn(node, user.email, 'wrong again');
    assertLimited(locked, 900);
    assert.match(locked.body.message, /failed sign-ins for this account.*retry in 15 min/);
    assertLimited(await signIn(node, user.email, user.password), 900);
    assertLimited(await signIn(node, user.email.toUpperCase(), user.password), 900);

    const other = await node.signUp();
    assert.equal((await signIn(node, other.email, other.password)).status, 200, 'other accounts are not affected');
  });

  it('starts the count afresh after a successful sign-in', async () => {
    const user = await node.signUp();
    await failTimes(node, user.email, 9);
    assert.equal((await signIn(node, user.email, user.password)).status, 200);
    await failTimes(node, user.email, 10);
    assertLimited(await signIn(node, user.email, user.password), 900);
  });

  it('locks an unknown email the same way, so the limit does not reveal which accounts exist', async () => {
    const email = `${randomUUID()}@example.com`;
    await failTimes(node, email, 10);
    assertLimited(await signIn(node, email, 'anything'), 900);
  });
});

describe('HTTP abuse limits (configured)', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({
      config: {
        signInAccountFailures: 3, signInFailureWindowSeconds: 2, signInIpFailures: 100,
        signUpsPerIp: 1_000, refreshesPerIp: 2, refreshWindowSeconds: 60,
      },
    });
  });
  after(() => node.stop());

  it('lets the right password in again once the lockout window has passed', async () => {
    const user = await node.signUp();
    await failTimes(node, user.email, 3);
    assertLimited(await signIn(node, user.email, user.password), 2);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    assert.equal((await signIn(node, user.email, user.password)).status, 200);
  });

  it('counts parallel guesses before checking them, so a burst cannot slip past the limit', async () => {
    const user = await node.signUp();
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => signIn(node, user.email, `guess ${i}`)));
    assert.equal(burst.filter((r) => r.status === 401).length, 3, 'exactly the allowed number of guesses were checked');
    assert.equal(burst.filter((r) => r.status === 429).length, 9);
  });

  it('limits token refreshes per address, the POST and the original GET together', async () => {
    const user = await node.signUp();
    const first = await node.request('POST', '/api/auth/token', { body: { refreshToken: user.refreshToken } });
    assert.equal(first.status, 200);
    const second = await node.request('GET', '/api/auth/token', { headers: { 'REFRESH-TOKEN': first.body.data.refreshToken } });
    assert.equal(second.status, 200);
    const third = await node.request('POST', '/api/auth/token', { body: { refreshToken: second.body.data.refreshToken } });
    assertLimited(third, 60);
    assert.match(third.body.message, /too many requests from this address/);
  });
});

describe('HTTP abuse limits per client address', () => {
  it('limits sign-ups per address', async () => {
    const node = await startNode({ config: { signUpsPerIp: 2, signUpWindowSeconds: 600 } });
    try {
      await node.signUp();
      await node.signUp();
      const third = await node.request('POST', '/api/auth/signup', {
        body: { email: `${randomUUID()}@example.com`, password: 'long enough secret', nickname: 'Third', deviceId: 'phone' },
      });
      assertLimited(third, 600);
    } finally {
      await node.stop();
    }
  });

  it('limits failed sign-ins per address across accounts, and successes do not count', async () => {
    const node = await startNode({ config: { signInIpFailures: 4, signInAccountFailures: 10 } });
    try {
      const user = await node.signUp();
      for (let i = 0; i < 6; i++) assert.equal((await signIn(node, user.email, user.password)).status, 200, 'successes are free');
      for (let i = 0; i < 4; i++) assert.equal((await signIn(node, `${randomUUID()}@example.com`, 'guess')).status, 401);
      const limited = await signIn(node, user.email, user.password);
      assertLimited(limited, 900);
      assert.match(limited.body.message, /from this address/);
    } finally {
      await node.stop();
    }
  });

  it('never limits an exempt address', async () => {
    const node = await startNode({ config: { signUpsPerIp: 1, signInAccountFailures: 1, limitExemptIps: ['127.0.0.1'] } });
    try {
      const user = await node.signUp();
      await node.signUp();
      await failTimes(node, user.email, 3);
      assert.equal((await signIn(node, user.email, user.password)).status, 200);
    } finally {
      await node.stop();
    }
  });

  it('believes X-Forwarded-For only from a trusted proxy', async () => {
    const signUpFrom = (node: TestNode, forwardedFor: string) => node.request('POST', '/api/auth/signup', {
      headers: { 'x-forwarded-for': forwardedFor },
      body: { email: `${randomUUID()}@example.com`, password: 'long enough secret', nickname: 'Fwd', deviceId: 'phone' },
    });
    const direct = await startNode({ config: { signUpsPerIp: 1 } });
    const proxied = await startNode({ config: { signUpsPerIp: 1, trustedProxies: ['loopback'] } });
    try {
      assert.equal((await signUpFrom(direct, '203.0.113.1')).status, 201);
      assert.equal((await signUpFrom(direct, '203.0.113.2')).status, 429, 'a forged header does not buy a fresh count');
      assert.equal((await signUpFrom(proxied, '203.0.113.1')).status, 201);
      assert.equal((await signUpFrom(proxied, '203.0.113.2')).status, 201, 'behind the proxy, each client has its own count');
      assert.equal((await signUpFrom(proxied, '203.0.113.2')).status, 429);
    } finally {
      await Promise.all([direct.stop(), proxied.stop()]);
    }
  });

  it('refuses bad limit settings with a message naming the variable', () => {
    assert.throws(() => loadConfig({ SIGNIN_ACCOUNT_FAILURES: '0', TRUSTED_PROXIES: 'not a proxy' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /SIGNIN_ACCOUNT_FAILURES \(signInAccountFailures\) must be >= 1/);
      assert.match(error.message, /TRUSTED_PROXIES \(trustedProxies\)/);
      return true;
    });
  });
});

describe('HTTP abuse limits across nodes (Redis)', () => {
  let a: TestNode;
  let b: TestNode;
  let user: TestUser;
  const redisPrefix = `${uniqueName('limits')}:`;
  before(async () => {
    // Two nodes on one Redis and one user store: a cluster without Kafka and Cassandra.
    const store = new MemoryStore();
    const config = { redisUrl: backendAddress('REDIS_URL'), redisPrefix, signInAccountFailures: 10 };
    a = await startNode({ config, drivers: { store } });
    b = await startNode({ config, drivers: { store } });
    user = await a.signUp();
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    const redis = new Redis(backendAddress('REDIS_URL'));
    for await (const keys of redis.scanStream({ match: `${redisPrefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('counts failures on every node against one limit: the 11th wrong password gets 429 with Retry-After, and so does the right one', async () => {
    await failTimes(a, user.email, 5);
    await failTimes(b, user.email, 5);
    assertLimited(await signIn(a, user.email, 'the 11th wrong password'), 900);
    assertLimited(await signIn(a, user.email, user.password), 900);
    assertLimited(await signIn(b, user.email, user.password), 900);
  });

  it('a success on one node resets the count for the others', async () => {
    const other = await b.signUp();
    await failTimes(a, other.email, 9);
    assert.equal((await signIn(b, other.email, other.password)).status, 200);
    await failTimes(a, other.email, 10);
    assertLimited(await signIn(b, other.email, other.password), 900);
  });
});
