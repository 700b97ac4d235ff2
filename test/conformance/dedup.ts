import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ChatMessage } from '../../src/chat/model.ts';
import type { ClaimOptions, SendDeduplicator } from '../../src/infra/ports/dedup.ts';
import { sleep } from '../support/wait.ts';

/** Several nodes sharing one de-duplication backend. */
export interface DedupCluster {
  node(): Promise<SendDeduplicator>;
  close(): Promise<void>;
}

const LONG: ClaimOptions = { ttlMs: 60_000, leaseMs: 30_000 };

let counter = 0;
/** A message as a send would record it; every call a new id. */
function message(contents = 'hi Bob'): ChatMessage {
  counter++;
  return {
    messageId: String(1_000_000 + counter), roomId: 'room-1', senderId: 'ann', nickname: 'Ann', messageType: 'TALK',
    contents, fileUrl: null, createdAt: 1_733_000_000_000 + counter,
  };
}

export function dedupConformance(driver: string, makeCluster: () => Promise<DedupCluster>): void {
  describe(`SendDeduplicator conformance: ${driver}`, () => {
    let cluster: DedupCluster | undefined;
    const start = async (): Promise<DedupCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('lets the first send win and answers resends with its id once committed, on any node', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const first = message();
      assert.deepEqual(await a.claim('dev1:m1', first, LONG), { outcome: 'won' });
      await a.commit('dev1:m1', first.messageId, LONG.ttlMs);
      assert.deepEqual(await a.claim('dev1:m1', message(), LONG), { outcome: 'committed', messageId: first.messageId });
      assert.deepEqual(await b.claim('dev1:m1', message(), LONG), { outcome: 'committed', messageId: first.messageId },
        'a resend through another node');
      assert.deepEqual(await b.claim('dev2:m1', message(), LONG), { outcome: 'won' }, 'keys are independent');
    });

    it('answers pending while the winner is still publishing', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const first = message();
      await a.claim('k', first, LONG);
      assert.deepEqual(await b.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId });
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId });
    });

    it('hands an abandoned claim to the next claimer with the recorded message, and only to one', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const first = message('héllo 👋 "quoted"\nline two');
      first.fileUrl = 'https://files.example/1';
      first.messageType = 'FILE';
      await a.claim('k', first, LONG);
      await a.abandon('k', first.messageId);
      assert.deepEqual(await b.claim('k', message(), LONG), { outcome: 'resume', message: first }, 'the same message, every field');
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId },
        'the resumer holds a new lease');
      await b.commit('k', first.messageId, LONG.ttlMs);
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'committed', messageId: first.messageId });
    });

    it('resumes a claim whose lease ran out (its node died before the message was durable)', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const first = message();
      await a.claim('k', first, { ttlMs: 60_000, leaseMs: 400 });
      assert.equal((await b.claim('k', message(), LONG)).outcome, 'pending');
      await sleep(600);
      assert.deepEqual(await b.claim('k', message(), LONG), { outcome: 'resume', message: first });
      assert.equal((await a.claim('k', message(), LONG)).outcome, 'pending', 'the resumer now holds it');
    });

    it('keeps a claim pending while its claimer renews it, and hands it over once the renewals stop', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const first = message();
      await a.claim('k', first, { ttlMs: 60_000, leaseMs: 1_000 });
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        await a.renew('k', first.messageId, 1_000);
      }
      assert.deepEqual(await b.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId },
        '1.5 s into a 1 s lease: it was renewed');
      await sleep(1_300);
      assert.deepEqual(await b.claim('k', message(), LONG), { outcome: 'resume', message: first }, 'no renewal for a lease: its node died');
    });

    it('renews no claim that is committed, abandoned, lapsed, or held by another id', async () => {
      const a = await (await start()).node();
      const done = message();
      await a.claim('done', done, LONG);
      await a.commit('done', done.messageId, LONG.ttlMs);
      await a.renew('done', done.messageId, 60_000);
      assert.deepEqual(await a.claim('done', message(), LONG), { outcome: 'committed', messageId: done.messageId });
      const gaveUp = message();
      await a.claim('gave-up', gaveUp, LONG);
      await a.abandon('gave-up', gaveUp.messageId);
      await a.renew('gave-up', gaveUp.messageId, 60_000);
      assert.equal((await a.claim('gave-up', message(), LONG)).outcome, 'resume', 'an abandoned claim stays abandoned');
      const lapsed = message();
      const other = message();
      await a.claim('lapsed', lapsed, { ttlMs: 60_000, leaseMs: 100 });
      await a.claim('other', other, { ttlMs: 60_000, leaseMs: 100 });
      await sleep(200);
      await a.renew('lapsed', lapsed.messageId, 60_000);
      await a.renew('other', '999', 60_000);
      assert.equal((await a.claim('lapsed', message(), LONG)).outcome, 'resume', 'a lapsed lease is not revived: someone may have taken over');
      assert.equal((await a.claim('other', message(), LONG)).outcome, 'resume', 'only the holder renews');
      await a.renew('never-claimed', '1', 60_000);
      assert.deepEqual(await a.claim('never-claimed', message(), LONG), { outcome: 'won' }, 'a renewal makes no claim');
    });

    it('keeps a resumed claim at least as long as the resumer\'s lease', async () => {
      const a = await (await start()).node();
      const first = message();
      await a.claim('k', first, { ttlMs: 250, leaseMs: 50 });
      await sleep(100);
      assert.equal((await a.claim('k', message(), { ttlMs: 250, leaseMs: 1_000 })).outcome, 'resume');
      await sleep(300);
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId },
        'past the first ttl, the resumer is still publishing: no second id for the same send');
    });

    it('ignores a commit or abandon by an id that does not hold the claim', async () => {
      const c = await start();
      const a = await c.node();
      const first = message();
      await a.claim('k', first, LONG);
      await a.commit('k', '999', LONG.ttlMs);
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId }, 'not committed');
      await a.abandon('k', '999');
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'pending', messageId: first.messageId }, 'not abandoned');
      await a.commit('k', first.messageId, LONG.ttlMs);
      await a.abandon('k', first.messageId);
      assert.deepEqual(await a.claim('k', message(), LONG), { outcome: 'committed', messageId: first.messageId },
        'abandoning a committed claim undoes nothing');
      await a.commit('never-claimed', '1', LONG.ttlMs);
      assert.deepEqual(await a.claim('never-claimed', message(), LONG), { outcome: 'won' }, 'a commit does not make a claim');
    });

    it('forgets a committed claim after its time to live, and an unfinished one after its ttl and lease', async () => {
      const a = await (await start()).node();
      const committed = message();
      await a.claim('done', committed, { ttlMs: 60_000, leaseMs: 60_000 });
      await a.commit('done', committed.messageId, 400);
      await a.claim('stuck', message(), { ttlMs: 400, leaseMs: 200 });
      assert.equal((await a.claim('done', message(), LONG)).outcome, 'committed');
      await sleep(600);
      assert.deepEqual(await a.claim('done', message(), LONG), { outcome: 'won' });
      assert.deepEqual(await a.claim('stuck', message(), LONG), { outcome: 'won' });
    });

    it('lets only one of many concurrent claims win; the others wait for it', async () => {
      const c = await start();
      const nodes = [await c.node(), await c.node()];
      const sent = Array.from({ length: 20 }, () => message());
      const results = await Promise.all(sent.map((m, i) => nodes[i % 2]!.claim('race', m, LONG)));
      const winners = results.flatMap((r, i) => (r.outcome === 'won' ? [sent[i]!] : []));
      assert.equal(winners.length, 1);
      assert.ok(results.every((r) => r.outcome === 'won' || (r.outcome === 'pending' && r.messageId === winners[0]!.messageId)));
    });
  });
}
