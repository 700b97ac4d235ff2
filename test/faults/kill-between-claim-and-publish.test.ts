import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { SEND_LEASE_MS } from '../../src/chat/messages.ts';
import kafkajs from 'kafkajs';
import { OutageProxy, type Held } from '../support/outage-proxy.ts';
import { ProcessCluster, fullHistory, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import type { Frame, TestSocket } from '../support/ws-client.ts';

const DETOUR = pathToFileURL(join(import.meta.dirname, '..', 'support', 'connect-detour.ts')).href;

/**
 * `kill -9` of a node between the de-duplication claim and the publish, then a retry on another
 * node. Node A reaches Kafka only through a proxy of this test; pausing it holds A's publish. The
 * claim exists, the message is not acked, not in history, not delivered (asserted in that window),
 * A dies, and the client resends the same clientMsgId through node B: one ack (within one send
 * lease: A's claim lapses once A stops renewing it), one stored message, one live delivery, one id. Also when A's publish did reach Kafka before the kill (only the
 * broker's answer was held): the message is stored once, under the same id.
 */
describe('a node killed between the claim and the publish; the retry goes to another node', { timeout: 300_000 }, () => {
  const cluster = new ProcessCluster({ PRESENCE_LEASE_MS: '3000' });
  const [kafkaHost, kafkaPort] = cluster.env.KAFKA_BROKERS!.split(',')[0]!.split(':') as [string, string];
  const proxy = new OutageProxy({ host: kafkaHost, port: Number(kafkaPort) });
  const redis = new Redis(cluster.env.REDIS_URL!, { lazyConnect: true });
  const admin = new kafkajs.Kafka({ brokers: cluster.env.KAFKA_BROKERS!.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  let annOnB: TestSocket;
  let bobOnB: TestSocket;

  /** A node of the cluster whose every Kafka connection goes through the proxy. */
  const startNodeBehindProxy = (name: string): Promise<ProcessNode> =>
    cluster.start(name, { CONNECT_DETOUR: `${kafkaHost}:${kafkaPort}>127.0.0.1:${proxy.listenPort}` }, { imports: [DETOUR] });

  /** Messages in the topic, all partitions together. */
  const inKafka = async (): Promise<number> =>
    (await admin.fetchTopicOffsets(cluster.name)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);

  /** The claim of ann's device for a client message id, as Redis holds it. */
  const claimOf = (clientMsgId: string): Promise<Record<string, string>> =>
    redis.hgetall(`${cluster.env.REDIS_PREFIX}dedup:${ann.userId}:${ann.deviceId}:${clientMsgId}`);

  const history = async (contents: string): Promise<string[]> =>
    (await fullHistory(b, bob, roomId)).filter((m) => m.contents === contents).map((m) => m.messageId as string);

  const delivered = (socket: TestSocket, contents: string): string[] =>
    socket.of('message', roomId).filter((f) => f.message.contents === contents).map((f) => f.message.messageId as string);

  before(async () => {
    await Promise.all([proxy.up(), redis.connect(), admin.connect()]);
    b = await cluster.start('B');
    [ann, bob] = await Promise.all([b.signUp('Ann'), b.signUp('Bob')]);
    roomId = await b.createRoom(ann, [bob]);
    annOnB = await cluster.connect(b, ann);
    bobOnB = await cluster.connect(b, bob);
    for (const socket of [annOnB, bobOnB]) await socket.join(roomId);
  });

  after(async () => {
    await cluster.cleanup();
    await proxy.down();
    await Promise.allSettled([redis.quit(), admin.disconnect()]);
  }, { timeout: 120_000 });

  /**
   * Ann sends `contents` on a fresh node A while the proxy holds `held`; asserts the window; kills
   * A; resends on B. Returns the id A's claim recorded and the answer to the resend.
   */
  async function sendThenKill(name: string, held: Held, contents: string, t: { diagnostic(message: string): void }) {
    const clientMsgId = `${name}-send`;
    proxy.resume();
    const a = await startNodeBehindProxy(name);
    const annOnA = await cluster.connect(a, ann);
    await annOnA.join(roomId);
    // A's producer is connected and knows the partition leaders before the fault.
    assert.equal((await annOnA.sendText(roomId, `${name} warm-up`)).type, 'ack');
    const messagesBefore = await inKafka();

    proxy.pause(held);
    let answerOnA: Frame | undefined;
    void annOnA.call({ type: 'send', roomId, clientMsgId, messageType: 'TALK', contents }, 120_000)
      .then((frame) => (answerOnA = frame), () => undefined);
    const claim = await waitFor(async () => {
      const hash = await claimOf(clientMsgId);
      return hash.id ? hash : undefined;
    }, 'A to claim the send', 10_000);
    if (held === 'replies') await waitFor(async () => (await inKafka()) > messagesBefore, 'A\'s publish to reach Kafka', 10_000, 50);
    await sleep(1_000);

    // The window: claimed, not committed, not acked, not stored, not delivered.
    assert.ok(claim.msg && claim.lease, 'the claim is pending: it holds the message and a lease, not a commit');
    assert.equal(answerOnA, undefined, 'no answer to the send while its publish is held');
    assert.equal(await inKafka(), held === 'both-ways' ? messagesBefore : messagesBefore + 1,
      held === 'both-ways' ? 'the message is not in Kafka' : 'the message is in Kafka (only the broker\'s answer was held)');
    if (held === 'both-ways') {
      assert.deepEqual(await history(contents), [], 'history does not have it');
      assert.deepEqual(delivered(bobOnB, contents), [], 'nobody got it live');
    }
    // (Once in Kafka, the persister may store and deliver it already: durable, only not acked yet.)

    a.kill('SIGKILL');
    assert.equal((await a.exited).signal, 'SIGKILL');
    assert.equal(answerOnA, undefined, 'A died without answering');

    const resentAt = performance.now();
    const resend = await annOnB.call({ type: 'send', roomId, clientMsgId, messageType: 'TALK', contents }, 90_000);
    const answeredInMs = performance.now() - resentAt;
    t.diagnostic(`${name}: the resend on B was answered ${answeredInMs.toFixed(0)} ms after it was sent (send lease ${SEND_LEASE_MS} ms)`);
    // One send lease (the dead node's claim lapses) and a publish; before leases were renewed it took 34 s.
    assert.ok(answeredInMs < 15_000, `the dead node's claim held the retry ${answeredInMs.toFixed(0)} ms`);
    return { claimedId: claim.id!, resend };
  }

  /** The message is stored once, delivered once, under `messageId`, and a further resend gets that id at once. */
  async function assertOnce(clientMsgId: string, contents: string, resend: Frame, messageId: string): Promise<void> {
    await waitFor(async () => (await history(contents)).length > 0, 'the message in history', 60_000, 250);
    await waitFor(() => delivered(bobOnB, contents).length > 0, 'Bob to get it live', 30_000);
    await sleep(1_000);
    assert.deepEqual(await history(contents), [messageId], 'stored once, under the acked id');
    assert.deepEqual(delivered(bobOnB, contents), [messageId], 'delivered to Bob once');
    const answers = annOnB.frames.filter((f) => f.ref === resend.ref);
    assert.deepEqual(answers.map((f) => f.type), ['ack'], 'the resend was answered once');
    const again = await annOnB.call({ type: 'send', roomId, clientMsgId, messageType: 'TALK', contents });
    assert.equal(again.type, 'ack');
    assert.equal(again.messageId, messageId, 'a second resend gets the same id');
    await sleep(500);
    assert.deepEqual(await history(contents), [messageId], 'the second resend stored nothing');
    assert.deepEqual(delivered(bobOnB, contents), [messageId], 'the second resend delivered nothing');
    // Nothing the dead node or the retry left behind holds the room: the next message arrives at once.
    const next = await bobOnB.sendText(roomId, `after ${clientMsgId}`);
    await waitFor(() => annOnB.of('message', roomId).some((f) => f.message.messageId === next.messageId), 'the next message live', 5_000);
  }

  it('publish held before it reached Kafka: the retry on B is acked once, stored once, delivered once', async (t) => {
    const contents = 'held before the broker';
    const { claimedId, resend } = await sendThenKill('A1', 'both-ways', contents, t);
    assert.equal(resend.type, 'ack', `the retry is acked (got ${JSON.stringify(resend)})`);
    assert.equal(resend.messageId, claimedId, 'under the id the dead node had claimed');
    await assertOnce('A1-send', contents, resend, claimedId);
  });

  it('publish reached Kafka, its answer never came back: still stored once, under the same id', async (t) => {
    const contents = 'stored by the broker, unanswered';
    const { claimedId, resend } = await sendThenKill('A2', 'replies', contents, t);
    assert.equal(resend.type, 'ack', `the retry is acked (got ${JSON.stringify(resend)})`);
    assert.equal(resend.messageId, claimedId, 'no new id for the same clientMsgId');
    await assertOnce('A2-send', contents, resend, claimedId);
  });
});
