import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { SendDeduplicator } from '../../src/infra/ports/dedup.ts';
import { sleep } from '../support/wait.ts';

export interface DedupCluster {
  node(): Promise<SendDeduplicator>;
  close(): Promise<void>;
}

export function dedupConformance(driver: string, makeCluster: () => Promise<DedupCluster>): void {
  describe(`SendDeduplicator conformance: ${driver}`, () => {
    let cluster: DedupCluster | undefined;
    const start = async (): Promise<DedupCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('hands back the first message id for a repeated key, on any node', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      assert.equal(await a.claim('dev1:m1', '100', 60_000), undefined);
      assert.equal(await a.claim('dev1:m1', '101', 60_000), '100');
      assert.equal(await b.claim('dev1:m1', '102', 60_000), '100', 'a resend through another node');
      assert.equal(await b.claim('dev2:m1', '103', 60_000), undefined, 'keys are independent');
    });

    it('forgets a released claim, but only for the id that made it', async () => {
      const a = await (await start()).node();
      await a.claim('k', '1', 60_000);
      await a.release('k', '999');
      assert.equal(await a.claim('k', '2', 60_000), '1', 'release by a different id does nothing');
      await a.release('k', '1');
      assert.equal(await a.claim('k', '3', 60_000), undefined);
    });

    it('forgets a claim after its time to live', async () => {
      const a = await (await start()).node();
      await a.claim('k', '1', 200);
      await sleep(350);
      assert.equal(await a.claim('k', '2', 200), undefined);
    });

    it('lets only one of many concurrent claims win', async () => {
      const a = await (await start()).node();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => a.claim('race', String(i), 60_000)));
      const winners = results.filter((r) => r === undefined);
      assert.equal(winners.length, 1);
      const winner = String(results.indexOf(undefined));
      assert.ok(results.every((r) => r === undefined || r === winner));
    });
  });
}
