/**
 * A log-bucketed latency histogram: constant memory whatever the sample count, values within
 * ±1% of the true one (bucket width 2%), exact min and max. Values are microseconds.
 */
const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);
const BUCKETS = Math.ceil(Math.log(600e6) / LOG_GAMMA) + 1; // up to ten minutes

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  record(micros: number): void {
    const v = micros < 1 ? 1 : micros;
    const index = Math.min(BUCKETS - 1, Math.ceil(Math.log(v) / LOG_GAMMA));
    this.counts[index]! += 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value below which `q` (0..1) of the samples fall, microseconds. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      // The bucket's geometric middle, clamped to what was actually seen.
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, GAMMA ** (i - 0.5)));
    }
    return this.max;
  }

  summary(): LatencySummary {
    const ms = (micros: number): number => Math.round(micros) / 1000;
    return {
      count: this.count,
      min: this.count ? ms(this.min) : 0,
      mean: this.count ? ms(this.sum / this.count) : 0,
      p50: ms(this.quantile(0.5)),
      p90: ms(this.quantile(0.9)),
      p95: ms(this.quantile(0.95)),
      p99: ms(this.quantile(0.99)),
      p999: ms(this.quantile(0.999)),
      max: ms(this.max),
    };
  }
}
