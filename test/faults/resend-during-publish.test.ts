import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Redis } from 'ioredis';
import { KafkaBus } from '../../src/infra/kafka/bus.ts';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { OutageProxy } from '../support/outage-proxy.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TestSocket, type Frame } from '../support/ws-client.ts';

/**
 * The crash window of de-duplication: a send is claimed, its publish hangs (the broker is cut off
 * from node A), and the client resends the same clientMsgId through node B. The resend must not be
 * acked while nothing is durable; once A's publish fails, B publishes the message under the same id.
 */
describe('a resend while the first publish hangs and then fails', { timeout: 120_000 }, () => {
  const name = uniqueName('flametalk_resend');
  const brokers = backendAddress('KAFKA_BROKERS').split(',');
  const [host, port] = brokers[0]!.split(':');
  const proxy = new OutageProxy({ host: host!, port: Number(port) });
  const store = new MemoryStore();
  const config = {
    redisUrl: backendAddress('REDIS_URL'), redisPrefix: `${name}:`, kafkaBrokers: brokers, kafkaTopic: name, kafkaPartitions: 4,
    kafkaReplicationFactor: 1,
  };
  let a: TestNode;
  let b: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    await proxy.up();
    const bus = await KafkaBus.connect({
      brokers, topic: name, partitions: 4, replicationFactor: 1, clientId: `${name}-a`, groupPrefix: `${name}.`,
      logger: pino({ level: 'silent' }), client: { socketFactory: proxy.socketFactory },
    });
    a = await startNode({ config, drivers: { bus, store } });
    b = await startNode({ config, drivers: { store } });
    [ann, bob] = await Promise.all([a.signUp('Ann'), a.signUp('Bob')]);
    roomId = await a.createRoom(ann, [bob]);
  });

  after(async () => {
    await proxy.up().catch(() => undefined);
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await proxy.down();
    const redis = new Redis(config.redisUrl);
    for await (const keys of redis.scanStream({ match: `${name}:*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
    await redis.quit();
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('acks the resend only once the message is durable, with one id, stored and delivered once', async () => {
    const annOnA = await TestSocket.connect(a.wsUrl, ann.accessToken);
    const annOnB = await TestSocket.connect(b.wsUrl, ann.accessToken);
    const bobOnB = await TestSocket.connect(b.wsUrl, bob.accessToken);
    for (const socket of [annOnA, annOnB, bobOnB]) await socket.join(roomId);
    assert.equal((await annOnA.sendText(roomId, 'through A while the broker is there')).type, 'ack');

    await proxy.down();
    const first = annOnA.call({ type: 'send', roomId, clientMsgId: 'c-1', messageType: 'TALK', contents: 'hello' }, 60_000);
    await sleep(300);
    let resendAnswer: Frame | undefined;
    const resend = annOnB.call({ type: 'send', roomId, clientMsgId: 'c-1', messageType: 'TALK', contents: 'hello' }, 60_000)
      .then((frame) => (resendAnswer = frame));

    // The fault is in effect: nothing is durable, so nothing is acked, stored or delivered.
    await sleep(5_000);
    assert.equal(resendAnswer, undefined, 'the resend is not acked while the first attempt has not made it durable');
    assert.deepEqual((await store.history(roomId, { limit: 10 })).filter((m) => m.contents === 'hello'), []);
    assert.deepEqual(bobOnB.of('message', roomId).filter((f) => f.message.contents === 'hello'), []);

    const firstAnswer = await first;
    assert.equal(firstAnswer.type, 'error', 'the attempt whose publish failed is not acked');
    assert.equal(firstAnswer.code, 'unavailable');
    const ack = await resend;
    assert.equal(ack.type, 'ack', 'the resend publishes the message itself once the first attempt gave up');
    const messageId = ack.messageId as string;

    await waitFor(async () => (await store.history(roomId, { limit: 10 })).some((m) => m.messageId === messageId), 'the acked message in history', 30_000);
    const stored = (await store.history(roomId, { limit: 10 })).filter((m) => m.contents === 'hello');
    assert.deepEqual(stored.map((m) => m.messageId), [messageId], 'stored once, under the acked id');
    await waitFor(() => bobOnB.of('message', roomId).some((f) => f.message.messageId === messageId), 'Bob gets it', 10_000);
    await sleep(300);
    assert.equal(bobOnB.of('message', roomId).filter((f) => f.message.contents === 'hello').length, 1, 'delivered once');
    const again = await annOnB.call({ type: 'send', roomId, clientMsgId: 'c-1', messageType: 'TALK', contents: 'hello' });
    assert.equal(again.messageId, messageId, 'a later resend gets the same id at once');
    for (const socket of [annOnA, annOnB, bobOnB]) await socket.close();
  });
});
