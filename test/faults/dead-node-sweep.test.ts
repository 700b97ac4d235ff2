import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { PresenceKeeper } from '../../src/chat/presence-keeper.ts';
import type { RoomSignal, UserSignal } from '../../src/chat/model.ts';
import { RedisFeed } from '../../src/infra/redis/feed.ts';
import { RedisPresenceStore } from '../../src/infra/redis/presence.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * A node dies holding 50,000 presence entries; two live nodes' presence keepers sweep them on real
 * Redis with a 1 s lease. While the sweep runs (sampled every few milliseconds, not only after it),
 * neither live node's lease lapses, so neither is taken for dead and swept in turn; afterwards every
 * entry of the dead node is gone and each user who thereby left a room got one exit, published to
 * the room's feed.
 */
describe('the sweep of a dead node with 50,000 presence entries', { timeout: 120_000 }, () => {
  const ENTRIES = 50_000;
  const ROOMS = 50;
  const LEASE_MS = 1_000;
  const prefix = `${uniqueName('flametalk_sweep')}:`;
  const connections: Redis[] = [];
  const keepers: PresenceKeeper[] = [];
  const feeds: RedisFeed[] = [];
  const lapses = new Map<string, number>();
  const room = (i: number): string => `room-${i % ROOMS}`;
  /** The dead node's i-th entry: users spread over the rooms, one connection each. */
  const user = (i: number): string => `user-${i}`;
  let monitor: Redis;

  const connect = async (): Promise<Redis> => {
    const redis = new Redis(backendAddress('REDIS_URL'), { lazyConnect: true });
    connections.push(redis);
    await redis.connect();
    return redis;
  };

  /** A live node as far as presence goes: its own connections, its presence store, feed and keeper. */
  async function liveNode(nodeId: string) {
    const [client, subscriber] = [await connect(), await connect()];
    const presence = new RedisPresenceStore(client, { nodeId, leaseMs: LEASE_MS, prefix });
    const feed = new RedisFeed(client, subscriber, { prefix });
    feeds.push(feed);
    lapses.set(nodeId, 0);
    const keeper = new PresenceKeeper(presence, feed, LEASE_MS, () => lapses.set(nodeId, lapses.get(nodeId)! + 1), pino({ level: 'silent' }));
    keepers.push(keeper);
    return { presence, keeper };
  }

  before(async () => {
    monitor = await connect();
  });

  after(async () => {
    await Promise.allSettled(keepers.map((keeper) => keeper.stop()));
    await Promise.allSettled(feeds.map((feed) => feed.close()));
    for await (const keys of monitor.scanStream({ match: `${prefix}*`, count: 1_000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await monitor.unlink(...keys);
    }
    await Promise.allSettled(connections.map((redis) => redis.quit()));
  });

  it('keeps both live nodes\' leases alive throughout, removes every entry, publishes each exit once', async (t) => {
    // The dead node, while it lived: 50,000 entries through the driver (its lease outlasts the seeding).
    const dead = new RedisPresenceStore(await connect(), { nodeId: 'dead', leaseMs: 600_000, prefix });
    for (let from = 0; from < ENTRIES; from += 5_000) {
      await Promise.all(Array.from({ length: 5_000 }, (_, k) => dead.enter(room(from + k), user(from + k), `dead-${from + k}`)));
    }
    const deadEntries = `${prefix}node-entries:dead`;
    assert.equal(await monitor.scard(deadEntries), ENTRIES);

    const a = await liveNode('live-a');
    const b = await liveNode('live-b');
    a.keeper.start();
    b.keeper.start();
    // Users 0 and 1 are in their rooms through a live node too: they stay, without an exit.
    await a.presence.enter(room(0), user(0), 'on-a');
    await b.presence.enter(room(1), user(1), 'on-b');
    await a.presence.enter(room(2), 'only-on-a', 'a-own');
    await b.presence.enter(room(3), 'only-on-b', 'b-own');

    // The rooms' exits as any node subscribed to them receives them.
    const observer = new RedisFeed(await connect(), await connect(), { prefix });
    feeds.push(observer);
    const exits: string[] = [];
    const onSignal = (signal: RoomSignal | UserSignal): void => {
      if (signal.kind === 'presence' && signal.event === 'exit') exits.push(`${signal.roomId}/${signal.userId}`);
    };
    for (let r = 0; r < ROOMS; r++) await observer.subscribe({ room: room(r) }, { entries: () => undefined, signal: onSignal, interrupted: () => undefined });

    await sleep(LEASE_MS);

    // Samples of both live leases' remaining time and the dead node's remaining entries, back to back.
    const samples: Array<{ at: number; ttl: Record<string, number>; remaining: number }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const replies = await monitor.multi().pttl(`${prefix}lease:live-a`).pttl(`${prefix}lease:live-b`).scard(deadEntries).exec();
        const [ttlA, ttlB, remaining] = replies!.map(([, value]) => value as number) as [number, number, number];
        samples.push({ at: performance.now(), ttl: { 'live-a': ttlA, 'live-b': ttlB }, remaining });
        await sleep(5);
      }
    })();

    // The node dies: its lease runs out.
    const diedAt = performance.now();
    await monitor.del(`${prefix}lease:dead`);
    const expected = ENTRIES - 2;
    await waitFor(async () => exits.length >= expected && (await monitor.exists(deadEntries)) === 0, 'the sweep to finish and its exits to arrive', 60_000, 25);
    const sweptIn = performance.now() - diedAt;
    // A lease that lapsed because of the sweep would show within one more lease.
    await sleep(LEASE_MS);
    sampling = false;
    await sampler;

    const during = samples.filter((s) => s.at >= diedAt && s.at <= diedAt + sweptIn);
    const partWay = samples.filter((s) => s.remaining > 0 && s.remaining < ENTRIES);
    t.diagnostic(`swept ${ENTRIES} entries and got their exits in ${sweptIn.toFixed(0)} ms; ${during.length} samples meanwhile, ${partWay.length} with the entries part-way swept`);
    for (const node of ['live-a', 'live-b']) {
      const lowest = Math.min(...samples.map((s) => s.ttl[node]!));
      t.diagnostic(`${node}: lowest remaining lease ${lowest} ms of ${LEASE_MS}`);
    }
    assert.ok(during.length >= 10, `the test sampled the leases while the sweep ran (${during.length} samples)`);
    for (const sample of samples) {
      for (const node of ['live-a', 'live-b']) {
        assert.ok(sample.ttl[node]! > 0, `${node}'s lease lapsed ${(sample.at - diedAt).toFixed(0)} ms after the death, ${sample.remaining} entries left to sweep`);
      }
    }
    assert.ok(partWay.length > 0, 'other clients\' commands ran part-way through the sweep (it never held Redis for all 50,000 entries)');
    assert.deepEqual(Object.fromEntries(lapses), { 'live-a': 0, 'live-b': 0 }, 'no live node found its own lease lapsed');

    assert.deepEqual((await monitor.smembers(`${prefix}nodes`)).sort(), ['live-a', 'live-b'], 'the dead node is gone, the live ones are not');
    assert.equal(new Set(exits).size, exits.length, 'no exit published twice');
    const wanted = Array.from({ length: ENTRIES - 2 }, (_, k) => `${room(k + 2)}/${user(k + 2)}`);
    assert.deepEqual([...exits].sort(), wanted.sort(), 'one exit for each user of the dead node, none for users still here through a live node');
    assert.deepEqual(await a.presence.present(room(0)), [user(0)]);
    assert.deepEqual(await a.presence.present(room(1)), [user(1)]);
    assert.deepEqual(await a.presence.present(room(2)), ['only-on-a']);
    assert.deepEqual(await b.presence.present(room(3)), ['only-on-b']);
    assert.deepEqual(await b.presence.present(room(4)), []);
  });
});
