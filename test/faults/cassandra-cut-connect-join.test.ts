import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendAddress } from '../support/backends.ts';
import { OutageProxy } from '../support/outage-proxy.ts';
import { ProcessCluster, duplicates, fullHistory, historyHolding, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * Node A reaches Cassandra through a proxy that the test cuts; node B and the other backends stay
 * up. A user who was on A before connects a new socket to A while the cut lasts, joins the room and
 * sends: the account and the membership come from A's store cache (older than its TTL by then, so
 * the copies A keeps while the store cannot answer), the join says `recovered: false` since the
 * history it would need cannot be read, the send is acked once Kafka holds it, and a member on B
 * gets it live. Once the cut ends, history holds it once.
 */
describe('a node cut off from Cassandra still connects, joins and sends for users it knew', { timeout: 300_000 }, () => {
  const CACHE_TTL_MS = 1_000;
  const FEED_WINDOW = 4;
  const [host, port] = backendAddress('CASSANDRA_CONTACT_POINTS').split(',')[0]!.split(':');
  const proxy = new OutageProxy({ host: host!, port: Number(port ?? 9042) });
  const cluster = new ProcessCluster({ STORE_CACHE_TTL_MS: String(CACHE_TTL_MS), FEED_WINDOW: String(FEED_WINDOW), ROOM_IDLE_MS: '200' });
  let a: ProcessNode;
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    await proxy.up();
    b = await cluster.start('B');
    a = await cluster.start('A', { CASSANDRA_CONTACT_POINTS: `127.0.0.1:${proxy.listenPort}` });
    [ann, bob] = await Promise.all([a.signUp('Ann'), b.signUp('Bob')]);
    roomId = await a.createRoom(ann, [bob]);
  });

  after(async () => {
    await proxy.up().catch(() => undefined);
    await cluster.cleanup();
    await proxy.down();
  }, { timeout: 120_000 });

  it('lets a new socket of a known user connect, join (recovered: false) and send while Cassandra is cut', async () => {
    // Before the cut: Ann has been on A, joined and sent more than the feed window holds, and left.
    const earlier = await cluster.connect(a, ann);
    await earlier.join(roomId);
    const before: string[] = [];
    for (let i = 0; i < FEED_WINDOW + 3; i++) {
      const ack = await earlier.sendText(roomId, `before the cut ${i}`);
      assert.equal(ack.type, 'ack');
      before.push(ack.messageId as string);
    }
    await earlier.close();
    const bobOnB = await cluster.connect(b, bob);
    await bobOnB.join(roomId);
    // A's room actor goes idle (ROOM_IDLE_MS), so the join below finds no recent messages in memory.
    await sleep(1_000);

    await proxy.down();
    await waitFor(async () => (await a.request('GET', '/readyz')).status === 503, 'node A to see Cassandra gone', 15_000, 100);
    assert.notEqual((await a.request('GET', '/readyz')).body.data.cassandra, 'ok');
    // Every copy in A's cache is older than its TTL now: A must ask Cassandra, and cannot.
    await sleep(CACHE_TTL_MS + 200);

    const annAgain = await cluster.connect(a, ann);
    assert.equal((await annAgain.call({ type: 'ping' })).type, 'pong', 'the socket is admitted');
    const joined = await annAgain.join(roomId, before[0]);
    assert.equal(joined.recovered, false, 'the history after `since` cannot be read, so the page is not known to be complete');
    const missed = joined.missed.map((m: any) => m.messageId as string);
    assert.deepEqual(missed, before.slice(-missed.length), 'what it has is the newest of what was missed, in order');
    assert.ok(missed.length >= 1 && missed.length < before.length - 1, `the feed window's part only (${missed.length})`);

    const sent = await annAgain.sendText(roomId, 'while Cassandra is cut', 'cut-1');
    assert.equal(sent.type, 'ack', `acked once Kafka holds it: ${JSON.stringify(sent)}`);
    const messageId = sent.messageId as string;
    await waitFor(() => bobOnB.of('message', roomId).some((f) => f.message.messageId === messageId), 'Bob on B gets it live', 10_000);
    // Still inside the cut: A cannot read any of it.
    assert.equal((await a.request('GET', '/readyz')).status, 503, 'the cut lasted through the join and the send');
    const again = await annAgain.sendText(roomId, 'while Cassandra is cut', 'cut-1');
    assert.equal(again.messageId, messageId, 'a resend is the same message');

    await proxy.up();
    const history = await historyHolding(b, bob, roomId, [...before, messageId], 60_000);
    assert.deepEqual(duplicates(history.map((m) => m.messageId)), []);
    assert.equal(history.filter((m) => m.messageId === messageId).length, 1, 'the message is in history once');
    await waitFor(async () => (await a.request('GET', '/readyz')).status === 200, 'node A to be ready again', 30_000, 250);
    const throughA = await fullHistory(a, ann, roomId);
    assert.equal(throughA.filter((m) => m.contents === 'while Cassandra is cut').length, 1);
  });
});
