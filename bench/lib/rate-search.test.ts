import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchRate, type SearchPolicy } from './rate-search.ts';

/** A server that carries up to `capacity` messages/s; each probe takes `probeMs` of a fake clock. */
function server(capacity: number, probeMs = 1000): { probe: (rate: number) => Promise<{ pass: boolean }>; now: () => number } {
  let clock = 0;
  return {
    now: () => clock,
    probe: async (rate) => {
      clock += probeMs;
      return { pass: rate <= capacity };
    },
  };
}

const policy: SearchPolicy = { startRate: 100, precision: 0.1, budgetMs: 60_000, granularity: 1, maxRate: 1e6, minRate: 1 };

test('doubles until a probe fails, then bisects to within the precision', async () => {
  const s = server(1234);
  const result = await searchRate(policy, s.probe, s.now);
  assert.equal(result.stoppedBy, 'precision');
  assert.ok(result.sustained! <= 1234 && result.failed! > 1234, JSON.stringify(result));
  assert.ok(result.failed! / result.sustained! <= 1.1);
  assert.deepEqual(result.probes.slice(0, 6).map((p) => p.rate), [100, 200, 400, 800, 1600, 1200]);
});

test('halves when the first probe already fails', async () => {
  const s = server(30);
  const result = await searchRate(policy, s.probe, s.now);
  assert.deepEqual(result.probes.slice(0, 3).map((p) => p.rate), [100, 50, 25]);
  assert.ok(result.sustained! <= 30 && result.failed! > 30);
});

test('stops at the budget and reports what it found so far', async () => {
  const s = server(1e9, 10_000);
  const result = await searchRate({ ...policy, budgetMs: 35_000 }, s.probe, s.now);
  assert.equal(result.stoppedBy, 'budget');
  assert.equal(result.probes.length, 3); // a fourth would end after 40 s
  assert.equal(result.sustained, 400);
  assert.equal(result.failed, undefined);
});

test('rates are multiples of the granularity and bounded by max and min', async () => {
  const s = server(1e9);
  const result = await searchRate({ ...policy, startRate: 999, granularity: 500, maxRate: 5000 }, s.probe, s.now);
  assert.deepEqual(result.probes.map((p) => p.rate), [1000, 2000, 4000, 5000]);
  assert.equal(result.stoppedBy, 'max rate');
  const never = await searchRate({ ...policy, startRate: 4, minRate: 2 }, server(0).probe, server(0).now);
  assert.equal(never.stoppedBy, 'min rate');
  assert.equal(never.sustained, undefined);
});

test('a bad policy is refused with a clear error', async () => {
  await assert.rejects(searchRate({ ...policy, startRate: 0 }, server(1).probe), /start rate must be positive/);
  await assert.rejects(searchRate({ ...policy, minRate: 10, maxRate: 5 }, server(1).probe), /min rate ≤ max rate/);
});
