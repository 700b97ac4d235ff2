/**
 * The sustained-rate search: the largest offered rate a server carries within a latency target
 * with nothing lost. Doubling from a starting rate until a probe fails (halving instead when the
 * first one fails), then bisection between the largest pass and the smallest failure, within a
 * time budget. Pure: `probe` does the measuring.
 */

export interface SearchPolicy {
  /** First rate probed (messages/s over all senders). */
  startRate: number;
  /** Stop bisecting once smallest failure ÷ largest pass is at most 1 + precision. */
  precision: number;
  /** No probe starts once this much time has gone (or would go, judging by the longest probe so far). */
  budgetMs: number;
  /** Rates are multiples of this (e.g. the room count, or 1 msg/s). */
  granularity: number;
  /** Never probe above (a generator's or the machine's limit). */
  maxRate: number;
  /** Never probe below. */
  minRate: number;
}

export interface ProbeOutcome {
  pass: boolean;
}

export interface SearchOutcome<P extends ProbeOutcome> {
  /** Largest passing rate, if any. */
  sustained?: number;
  /** Smallest failing rate above it, if any. */
  failed?: number;
  probes: Array<{ rate: number; outcome: P }>;
  stoppedBy: 'precision' | 'budget' | 'max rate' | 'min rate';
  elapsedMs: number;
}

export function validatePolicy(policy: SearchPolicy): void {
  const bad = (what: string): never => {
    throw new Error(`rate search: ${what}`);
  };
  if (!(policy.startRate > 0)) bad(`start rate must be positive, got ${policy.startRate}`);
  if (!(policy.precision > 0)) bad(`precision must be positive, got ${policy.precision}`);
  if (!(policy.granularity > 0)) bad(`granularity must be positive, got ${policy.granularity}`);
  if (!(policy.budgetMs > 0)) bad(`budget must be positive, got ${policy.budgetMs}`);
  if (!(policy.minRate > 0 && policy.minRate <= policy.maxRate)) bad(`need 0 < min rate ≤ max rate, got ${policy.minRate}..${policy.maxRate}`);
}

export async function searchRate<P extends ProbeOutcome>(
  policy: SearchPolicy, probe: (rate: number) => Promise<P>, now: () => number = () => performance.now(),
): Promise<SearchOutcome<P>> {
  validatePolicy(policy);
  const started = now();
  const snap = (rate: number): number => Math.min(policy.maxRate, Math.max(policy.minRate, Math.max(1, Math.round(rate / policy.granularity)) * policy.granularity));
  const probes: SearchOutcome<P>['probes'] = [];
  let pass: number | undefined;
  let fail: number | undefined;
  let longest = 0;
  let rate = snap(policy.startRate);
  const done = (stoppedBy: SearchOutcome<P>['stoppedBy']): SearchOutcome<P> => ({
    ...(pass !== undefined ? { sustained: pass } : {}), ...(fail !== undefined ? { failed: fail } : {}),
    probes, stoppedBy, elapsedMs: now() - started,
  });
  for (;;) {
    if (now() - started + longest > policy.budgetMs) return done('budget');
    const probeStart = now();
    const outcome = await probe(rate);
    longest = Math.max(longest, now() - probeStart);
    probes.push({ rate, outcome });
    if (outcome.pass) pass = Math.max(pass ?? 0, rate);
    else fail = Math.min(fail ?? Infinity, rate);
    let next: number;
    if (fail === undefined) {
      if (rate >= policy.maxRate) return done('max rate');
      next = snap(rate * 2);
    } else if (pass === undefined) {
      if (rate <= policy.minRate) return done('min rate');
      next = snap(rate / 2);
    } else {
      if (fail / pass <= 1 + policy.precision) return done('precision');
      next = snap((pass + fail) / 2);
      // Granularity can leave nothing between the two: the answer is as precise as rates can be.
      if (next <= pass || next >= fail) return done('precision');
    }
    rate = next;
  }
}
