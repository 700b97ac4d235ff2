import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBackend, stopBackend } from '../../scripts/backends/index.ts';
import { ProcessCluster, duplicates, historyHolding, startTraffic, twoNodesOneRoom, type ContinuousSender, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The Kafka broker stops and starts again while clients on two nodes keep sending. A send may be
 * refused meanwhile (an error frame), but an acknowledged message is never lost, and sending works
 * again by itself once the broker is back.
 */
describe('a Kafka broker restart under traffic', { timeout: 300_000 }, () => {
  const cluster = new ProcessCluster();
  let a: ProcessNode;
  let b: ProcessNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    ({ a, b, ann, bob, roomId } = await twoNodesOneRoom(cluster));
  });

  after(async () => {
    // Whatever happened, the broker is back for whoever runs next.
    await startBackend('kafka', { log: () => undefined });
    await cluster.cleanup();
  }, { timeout: 180_000 });

  it('acks nothing it then loses, and sends resume by themselves after the broker returns', async (t) => {
    const senders = await startTraffic(cluster, [{ node: a, user: ann, name: 'ann' }, { node: b, user: bob, name: 'bob' }], roomId);
    const bobOnB = senders[1]!.socket;

    const t0 = performance.now();
    await stopBackend('kafka', { log: (line) => t.diagnostic(line) });
    await startBackend('kafka', { log: (line) => t.diagnostic(line) });
    const back = performance.now();
    t.diagnostic(`broker away and back in ${(back - t0).toFixed(0)} ms`);
    const issuedWhenBack = senders.map((s) => s.issued.length);

    // Both keep sending; sends issued after the broker is back get acked without anyone reconnecting.
    const ackedAfterReturn = (sender: ContinuousSender, from: number) => sender.issued.slice(from).filter((c) => sender.acks.has(c)).length;
    await waitFor(() => senders.every((s, i) => ackedAfterReturn(s, issuedWhenBack[i]!) >= 20), 'sends issued after the restart to be acked on both nodes', 90_000, 100);
    t.diagnostic(`sends acked again ${(performance.now() - back).toFixed(0)} ms after the broker was back`);
    // ...and reach the other node live: ann's new messages at bob on B.
    const annLater = new Set(senders[0]!.issued.slice(issuedWhenBack[0]!));
    await waitFor(() => bobOnB.of('message', roomId).some((f) => annLater.has(f.message.contents)), 'ann\'s new messages delivered to bob on the other node', 30_000);
    for (const sender of senders) await sender.stop();
    for (const sender of senders) {
      assert.ok(sender.open, `${sender.prefix}'s socket stayed open through the restart`);
      assert.equal(sender.inFlight, 0, `every send of ${sender.prefix} answered`);
      const codes = new Set([...sender.errors.values()].map((e) => e.code));
      assert.ok([...codes].every((code) => code === 'unavailable'), `refused sends say "unavailable": ${[...codes].join(', ')}`);
      t.diagnostic(`${sender.prefix}: ${sender.issued.length} sent, ${sender.acks.size} acked, ${sender.errors.size} refused`);
    }

    // A refused send is one to send again under its clientMsgId: each is then acked, and stored once
    // (also one whose first attempt reached the log after all before it was refused).
    const resent: string[] = [];
    for (const sender of senders) {
      for (const contents of sender.errors.keys()) {
        const ack = await sender.socket.call({ type: 'send', roomId, clientMsgId: contents, messageType: 'TALK', contents }, 30_000);
        assert.equal(ack.type, 'ack', `the resend of ${contents} is acked: ${JSON.stringify(ack)}`);
        resent.push(ack.messageId as string);
      }
    }
    const acked = [...senders.flatMap((s) => s.ackedIds()), ...resent];
    const history = await historyHolding(b, bob, roomId, acked, 90_000);
    const ids = history.map((m) => m.messageId as string);
    assert.deepEqual(duplicates(ids), [], 'each message once in history');
    const refused = senders.flatMap((s) => [...s.errors.keys()]);
    const stored = history.map((m) => m.contents as string);
    assert.deepEqual(refused.filter((c) => stored.filter((x) => x === c).length !== 1), [], 'every refused and resent send is in history exactly once');
    t.diagnostic(`${refused.length} refused sends, each resent, acked and stored once`);
  });
});
