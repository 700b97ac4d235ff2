import type { JobLeases } from '../ports/job-lease.ts';

/**
 * In-process leases: one embedded process is the only node there is. Instances made with the same
 * `shared` map exclude each other (the conformance suite plays two nodes that way).
 */
export class MemoryJobLeases implements JobLeases {
  private readonly owner = Symbol('holder');

  constructor(
    private readonly held: Map<string, { owner: symbol; until: number }> = new Map(),
    private readonly now: () => number = Date.now,
  ) {}

  async tryAcquire(job: string, ttlMs: number): Promise<boolean> {
    const current = this.held.get(job);
    if (current && current.owner !== this.owner && current.until > this.now()) return false;
    this.held.set(job, { owner: this.owner, until: this.now() + ttlMs });
    return true;
  }

  async release(job: string): Promise<void> {
    if (this.held.get(job)?.owner === this.owner) this.held.delete(job);
  }
}
