import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, stopBackend } from '../../scripts/backends/index.ts';
import { ProcessCluster, duplicates, historyHolding, startTraffic, twoNodesOneRoom, type ContinuousSender, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * Cassandra goes away for 10 s while clients on two nodes send. The bus holds every message, so
 * sends are still acked and delivered live; history catches up once Cassandra is back, each
 * message once.
 */
describe('a 10 s Cassandra outage under traffic', { timeout: 420_000 }, () => {
  const OUTAGE_MS = 10_000;
  const cluster = new ProcessCluster();
  let a: ProcessNode;
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  let cat: TestUser;
  /** Ann and Cat only: no member of it is connected to B until Cat reconnects there. */
  let quietRoom: string;

  before(async () => {
    ({ a, b, ann, bob, roomId } = await twoNodesOneRoom(cluster));
    cat = await a.signUp('Cat');
    quietRoom = await a.createRoom(ann, [cat]);
  });

  after(async () => {
    // Whatever happened, Cassandra is back for whoever runs next.
    await startBackend('cassandra', { log: () => undefined });
    await cluster.cleanup();
  }, { timeout: 300_000 });

  it('keeps acking and delivering sends, and history catches up afterwards without duplicates', async (t) => {
    const annQuiet = await cluster.connect(a, ann);
    const catOnA = await cluster.connect(a, cat);
    await Promise.all([annQuiet.join(quietRoom), catOnA.join(quietRoom)]);
    const seenByCat = (await annQuiet.sendText(quietRoom, 'before the outage')).messageId as string;
    await waitFor(() => catOnA.of('message', quietRoom).length === 1, 'Cat sees the first message');

    const senders = await startTraffic(cluster, [{ node: a, user: ann, name: 'ann' }, { node: b, user: bob, name: 'bob' }], roomId);
    const bobOnB = senders[1]!.socket;

    await stopBackend('cassandra', { log: (line) => t.diagnostic(line) });
    const down = performance.now();
    const issuedWhenDown = senders.map((s) => s.issued.length);
    const readiness = await a.request('GET', '/readyz');
    assert.equal(readiness.status, 503, 'not ready without Cassandra');
    assert.match(JSON.stringify(readiness.body), /cassandra/);

    // While Cassandra is away: sends issued now are acked, and reach the other node live.
    const ackedSince = (sender: ContinuousSender, from: number) => sender.issued.slice(from).filter((c) => sender.acks.has(c));
    await waitFor(() => senders.every((s, i) => ackedSince(s, issuedWhenDown[i]!).length >= 50), 'sends acked during the outage', 30_000, 50);
    const annDuringOutage = new Set(ackedSince(senders[0]!, issuedWhenDown[0]!));
    await waitFor(() => bobOnB.of('message', roomId).filter((f) => annDuringOutage.has(f.message.contents)).length === annDuringOutage.size, 'ann\'s messages from the outage delivered to bob on B', 30_000);
    // Cat drops off A, and Ann sends while the persister cannot store anything.
    await catOnA.close();
    const missedByCat: string[] = [];
    for (let i = 0; i < 3; i++) missedByCat.push((await annQuiet.sendText(quietRoom, `while Cat was away ${i}`)).messageId);

    // The outage lasts its 10 s (the traffic goes on meanwhile).
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - down)));
    const issuedWhenBack = senders.map((s) => s.issued.length);
    for (const [i, sender] of senders.entries()) {
      const during = sender.issued.slice(issuedWhenDown[i], issuedWhenBack[i]);
      assert.deepEqual(during.filter((c) => sender.errors.has(c)).map((c) => sender.errors.get(c)), [], `no send of ${sender.prefix} refused during the outage`);
      t.diagnostic(`${sender.prefix}: ${during.filter((c) => sender.acks.has(c)).length} of ${during.length} sends during the outage acked`);
    }

    const t0 = performance.now();
    await startBackend('cassandra', { log: (line) => t.diagnostic(line) });
    const back = performance.now();
    t.diagnostic(`Cassandra down ${((t0 - down) / 1000).toFixed(1)} s, then ${((back - t0) / 1000).toFixed(1)} s to start again`);
    // Cat comes back on B, which has no room actor for the quiet room, while the persister is still
    // catching up: the feed holds what the store may not have yet.
    await waitFor(async () => (await b.request('GET', '/readyz')).status === 200, 'node B to be ready again', 20_000, 250);
    const catOnB = await cluster.connect(b, cat);
    const rejoined = await catOnB.join(quietRoom, seenByCat);
    assert.equal(rejoined.recovered, true);
    assert.deepEqual(rejoined.missed.map((m: any) => m.messageId), missedByCat, 'exactly the missed messages, in order');
    const live = (await annQuiet.sendText(quietRoom, 'after Cat is back')).messageId;
    await waitFor(() => catOnB.of('message', quietRoom).some((f) => f.message.messageId === live), 'a new message reaches Cat on B live', 10_000);

    for (const sender of senders) await sender.stop();
    for (const sender of senders) {
      assert.ok(sender.open, `${sender.prefix}'s socket stayed open`);
      assert.equal(sender.inFlight, 0, `every send of ${sender.prefix} answered`);
      assert.deepEqual([...sender.errors.values()], [], `no send of ${sender.prefix} refused`);
    }

    const acked = senders.flatMap((s) => s.ackedIds());
    const history = await historyHolding(b, bob, roomId, acked, 120_000);
    t.diagnostic(`history caught up ${((performance.now() - back) / 1000).toFixed(1)} s after Cassandra was back: ${acked.length} messages`);
    const ids = history.map((m) => m.messageId as string);
    assert.deepEqual(duplicates(ids), [], 'each message once in history');
    assert.equal(ids.length, acked.length, 'nothing but the acked messages');
    // A node that had no query to make meanwhile notices at its next reconnection attempt (the
    // driver's policy waits at most 10 s between them).
    for (const [name, node] of [['A', a], ['B', b]] as const) {
      await waitFor(async () => (await node.request('GET', '/readyz')).status === 200, `node ${name} to be ready again`, 20_000, 250);
    }
    t.diagnostic(`both nodes ready ${((performance.now() - back) / 1000).toFixed(1)} s after Cassandra was back`);
  });
});
