import type { SendDeduplicator } from '../ports/dedup.ts';

/** Claims shared by the in-process nodes of one process; expired claims are dropped lazily. */
export class MemoryDedupHub {
  readonly claims = new Map<string, { messageId: string; expiresAt: number }>();
  private sweepAt = 0;

  sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 1_000;
    for (const [key, claim] of this.claims) if (claim.expiresAt <= now) this.claims.delete(key);
  }
}

export class MemoryDedup implements SendDeduplicator {
  constructor(private readonly hub: MemoryDedupHub = new MemoryDedupHub(), private readonly now: () => number = Date.now) {}

  async claim(key: string, messageId: string, ttlMs: number): Promise<string | undefined> {
    const now = this.now();
    this.hub.sweep(now);
    const existing = this.hub.claims.get(key);
    if (existing && existing.expiresAt > now) return existing.messageId;
    this.hub.claims.set(key, { messageId, expiresAt: now + ttlMs });
    return undefined;
  }

  async release(key: string, messageId: string): Promise<void> {
    if (this.hub.claims.get(key)?.messageId === messageId) this.hub.claims.delete(key);
  }

  async close(): Promise<void> {}
}
