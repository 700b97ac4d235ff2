import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { RoomEvent } from '../../src/chat/model.ts';
import { SnowflakeGenerator } from '../../src/chat/snowflake.ts';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { RedisFeed } from '../../src/infra/redis/feed.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/**
 * Live delivery between nodes goes per room through the Redis feed: a node hears only the rooms it
 * has members of, and a receiver puts the room's order back together when live delivery has a gap.
 */
describe('room feed routing between two nodes', { timeout: 60_000 }, () => {
  const prefix = `${uniqueName('flametalk_feed')}:`;
  const url = backendAddress('REDIS_URL');
  const store = new MemoryStore();
  const config = { redisUrl: url, redisPrefix: prefix, gapRepairMs: 100, gapSkipMs: 1_500 };
  const redis = new Redis(url);
  let a: TestNode;
  let b: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let cat: TestUser;
  const heardOnB: RoomEvent[] = [];

  before(async () => {
    a = await startNode({ config, drivers: { store } });
    b = await startNode({ config, drivers: { store } });
    b.server.events.on('roomEvent', (event) => heardOnB.push(event));
    [ann, bob, cat] = await Promise.all([a.signUp('Ann'), a.signUp('Bob'), a.signUp('Cat')]);
  });
  after(async () => {
    await Promise.allSettled([a.stop(), b.stop()]);
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
    await redis.quit();
  });

  it('gives a node nothing of a room none of its sockets joined', async () => {
    const onlyOnA = await a.createRoom(ann, [cat]);
    const shared = await a.createRoom(ann, [bob]);
    const annOnA = await TestSocket.connect(a.wsUrl, ann.accessToken);
    const catOnA = await TestSocket.connect(a.wsUrl, cat.accessToken);
    const bobOnB = await TestSocket.connect(b.wsUrl, bob.accessToken);
    await Promise.all([annOnA.join(onlyOnA), catOnA.join(onlyOnA), annOnA.join(shared), bobOnB.join(shared)]);

    for (let i = 0; i < 20; i++) await annOnA.sendText(onlyOnA, `private ${i}`);
    annOnA.send({ type: 'typing', roomId: onlyOnA });
    await annOnA.sendText(shared, 'for Bob');
    await waitFor(() => bobOnB.of('message', shared).length === 1, 'Bob gets the shared room\'s message');
    await waitFor(() => catOnA.of('message', onlyOnA).length === 20, 'Cat gets all 20 on A');
    await sleep(200);
    assert.deepEqual(heardOnB.filter((e) => e.roomId === onlyOnA), [], 'B heard nothing of a room without members on B');
    assert.ok(heardOnB.some((e) => e.roomId === shared && e.kind === 'message'), 'B hears its own rooms');
    const [, subscribers] = (await redis.call('PUBSUB', 'SHARDNUMSUB', `${prefix}feed:{${onlyOnA}}`)) as [string, number];
    assert.equal(subscribers, 1, 'only A subscribes to the room\'s channel');
    for (const socket of [annOnA, catOnA, bobOnB]) await socket.close();
  });

  it('holds a later message while an earlier position is still on its way, then delivers both in order', async () => {
    const roomId = await a.createRoom(ann, [bob]);
    const annOnA = await TestSocket.connect(a.wsUrl, ann.accessToken);
    const bobOnB = await TestSocket.connect(b.wsUrl, bob.accessToken);
    await Promise.all([annOnA.join(roomId), bobOnB.join(roomId)]);
    // A slow sender on a third node: its position comes first, its commit after Ann's message.
    const slowSubscriber = redis.duplicate();
    const slow = new RedisFeed(redis, slowSubscriber, { prefix });
    const ids = new SnowflakeGenerator(1000);
    const [position] = await slow.reserve(roomId, [{ messageId: ids.next() }], { leaseMs: 30_000, raisedAt: (ms) => ids.raisedAt(ms) });
    const later = (await annOnA.sendText(roomId, 'second in the order')).messageId;
    await sleep(50);
    assert.deepEqual(bobOnB.of('message', roomId), [], 'the later message waits for the earlier position');
    const message = { messageId: position!.messageId, roomId, senderId: cat.userId, nickname: 'Slow', messageType: 'TALK' as const, contents: 'first in the order', fileUrl: null, createdAt: Date.now() };
    await slow.commit(roomId, [{ seq: position!.seq, message }]);
    await waitFor(() => bobOnB.of('message', roomId).length === 2, 'both messages');
    assert.deepEqual(bobOnB.of('message', roomId).map((f) => f.message.messageId), [position!.messageId, later], 'in the room\'s order');

    // A sender that dies after taking a position: the receiver gives up on it and goes on.
    await slow.reserve(roomId, [{ messageId: ids.next() }], { leaseMs: 30_000, raisedAt: (ms) => ids.raisedAt(ms) });
    const t0 = performance.now();
    const after = (await annOnA.sendText(roomId, 'after a dead position')).messageId;
    await waitFor(() => bobOnB.of('message', roomId).length === 3, 'the message after the dead position', 5_000);
    const waited = performance.now() - t0;
    assert.ok(waited >= 1_000, `held for ${waited.toFixed(0)} ms first`);
    assert.equal(bobOnB.of('message', roomId)[2]!.message.messageId, after);
    await slow.close();
    await slowSubscriber.quit();
    for (const socket of [annOnA, bobOnB]) await socket.close();
  });

  it('delivers a message committed to a position after it was voided, once, and recovers it for a client who saw what came before', async () => {
    const roomId = await a.createRoom(ann, [bob, cat]);
    const annOnA = await TestSocket.connect(a.wsUrl, ann.accessToken);
    const bobOnB = await TestSocket.connect(b.wsUrl, bob.accessToken);
    const catOnB = await TestSocket.connect(b.wsUrl, cat.accessToken);
    await Promise.all([annOnA.join(roomId), bobOnB.join(roomId), catOnB.join(roomId)]);
    const before = (await annOnA.sendText(roomId, 'before the hole')).messageId;
    await waitFor(() => bobOnB.of('message', roomId).length === 1 && catOnB.of('message', roomId).length === 1, 'the first message on B');
    await bobOnB.close();

    // A sender whose publish timed out voids its position; the publish had succeeded after all,
    // so the persister commits the message there later.
    const slowSubscriber = redis.duplicate();
    const slow = new RedisFeed(redis, slowSubscriber, { prefix });
    const ids = new SnowflakeGenerator(1001);
    const [position] = await slow.reserve(roomId, [{ messageId: ids.next() }], { leaseMs: 30_000, raisedAt: (ms) => ids.raisedAt(ms) });
    await slow.commit(roomId, [{ seq: position!.seq, void: true }]);
    const next = (await annOnA.sendText(roomId, 'after the hole')).messageId;
    await waitFor(() => catOnB.of('message', roomId).length === 2, 'the message after the void');
    const late = { messageId: position!.messageId, roomId, senderId: ann.userId, nickname: 'Ann', messageType: 'TALK' as const, contents: 'durable after all', fileUrl: null, createdAt: Date.now() };
    await slow.commit(roomId, [{ seq: position!.seq, message: late }]);
    await waitFor(() => catOnB.of('message', roomId).length === 3, 'the late message at Cat', 3_000);

    // Bob comes back to B and asks for what came after the last message he saw.
    const bobAgain = await TestSocket.connect(b.wsUrl, bob.accessToken);
    const rejoined = await bobAgain.join(roomId, before);
    assert.equal(rejoined.recovered, true);
    assert.deepEqual((rejoined.missed as Array<{ messageId: string }>).map((m) => m.messageId), [late.messageId, next], 'the late one too, in id order');
    await sleep(200);
    assert.deepEqual(catOnB.of('message', roomId).map((f) => f.message.messageId), [before, next, late.messageId], 'late, and once');
    await slow.close();
    await slowSubscriber.quit();
    for (const socket of [annOnA, catOnB, bobAgain]) await socket.close();
  });

  it('repairs what live delivery lost while a node\'s feed connection was cut, in order and once', async () => {
    const roomId = await a.createRoom(ann, [bob]);
    const annOnA = await TestSocket.connect(a.wsUrl, ann.accessToken);
    const bobOnB = await TestSocket.connect(b.wsUrl, bob.accessToken);
    await Promise.all([annOnA.join(roomId), bobOnB.join(roomId)]);
    await annOnA.sendText(roomId, 'before the cut');
    await waitFor(() => bobOnB.of('message', roomId).length === 1, 'the first message');

    const channel = `${prefix}feed:{${roomId}}`;
    assert.equal(((await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1], 2, 'both nodes subscribe');
    // Cut the feed connections of this test's nodes (named after its prefix), then send at once.
    const feedConnections = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.includes(` name=${prefix}feed-`));
    assert.equal(feedConnections.length, 2);
    for (const line of feedConnections) await redis.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) sent.push((await annOnA.sendText(roomId, `during the cut ${i}`)).messageId);
    await waitFor(() => bobOnB.of('message', roomId).length === 11, 'every message reaches Bob', 10_000);
    await sleep(300);
    assert.deepEqual(bobOnB.of('message', roomId).slice(1).map((f) => f.message.messageId), sent, 'in order, each once');
    for (const socket of [annOnA, bobOnB]) await socket.close();
  });
});
