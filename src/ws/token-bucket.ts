/** The clock of every bucket that is given none: one function for all of them, not one bound per socket. */
const monotonicNow = (): number => performance.now();

/** Allows `ratePerSecond` on average and bursts of up to `burst`; refills lazily, no timers. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSecond: number, private readonly burst: number, private readonly now: () => number = monotonicNow) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
