/**
 * Leases on periodic jobs that only one node at a time may run (the account purge): taken with a
 * time to live, so a node that dies holding one frees it when the lease runs out.
 */
export interface JobLeases {
  /** Takes `job` for `ttlMs` unless another holder has it; true when the caller holds it now. */
  tryAcquire(job: string, ttlMs: number): Promise<boolean>;
  /** Gives `job` back if the caller holds it; a lease held by another is left alone. */
  release(job: string): Promise<void>;
}
