import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JobLeases } from '../../src/infra/ports/job-lease.ts';
import { sleep } from '../support/wait.ts';

export interface JobLeaseFixture {
  /** Another node's leases, sharing the backend with every other node of this fixture. */
  node(): Promise<JobLeases>;
  close(): Promise<void>;
}

/** One suite for every JobLeases driver: one holder at a time, released only by the holder, freed when the time runs out. */
export function jobLeaseConformance(driver: string, makeFixture: () => Promise<JobLeaseFixture>): void {
  describe(`JobLeases conformance: ${driver}`, { timeout: 30_000 }, () => {
    let fixture: JobLeaseFixture;
    before(async () => {
      fixture = await makeFixture();
    });
    after(() => fixture?.close());

    it('lets one node at a time hold a job; only the holder releases it', async () => {
      const [a, b] = [await fixture.node(), await fixture.node()];
      assert.equal(await a.tryAcquire('purge', 10_000), true);
      assert.equal(await b.tryAcquire('purge', 10_000), false, 'held by a');
      assert.equal(await b.tryAcquire('other-job', 10_000), true, 'jobs are separate');
      await b.release('purge');
      assert.equal(await b.tryAcquire('purge', 10_000), false, 'b cannot release a\'s lease');
      await a.release('purge');
      assert.equal(await b.tryAcquire('purge', 10_000), true, 'free once a released it');
      await b.release('purge');
      await b.release('other-job');
    });

    it('frees a lease whose holder died once its time is over', async () => {
      const [a, b] = [await fixture.node(), await fixture.node()];
      assert.equal(await a.tryAcquire('short', 150), true);
      assert.equal(await b.tryAcquire('short', 150), false);
      await sleep(250);
      assert.equal(await b.tryAcquire('short', 10_000), true);
      await b.release('short');
    });
  });
}
