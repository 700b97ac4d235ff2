export interface BackoffOptions {
  /** First delay, ms (default 500). */
  baseMs?: number;
  /** Longest delay, ms (default 30 000). */
  maxMs?: number;
}

/**
 * Exponential backoff with "equal jitter": half the ceiling is fixed, half random, so a fleet of
 * clients cut off together does not come back together, yet none retries at once in a hot loop.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.baseMs = options.baseMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
