import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { ClaimOptions, ClaimResult, SendDeduplicator } from '../ports/dedup.ts';

interface Claim {
  messageId: MessageId;
  /** Until committed: the message, for a resend that has to publish it again. */
  message?: ChatMessage;
  /** Pending: until when the claimer may still be publishing. */
  leaseUntil: number;
  expiresAt: number;
}

/** Claims shared by the in-process nodes of one process; expired claims are dropped lazily. */
export class MemoryDedupHub {
  readonly claims = new Map<string, Claim>();
  private sweepAt = 0;

  sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 1_000;
    for (const [key, claim] of this.claims) if (claim.expiresAt <= now) this.claims.delete(key);
  }
}

export class MemoryDedup implements SendDeduplicator {
  constructor(private readonly hub: MemoryDedupHub = new MemoryDedupHub(), private readonly now: () => number = Date.now) {}

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    const now = this.now();
    this.hub.sweep(now);
    const existing = this.hub.claims.get(key);
    if (existing && existing.expiresAt > now) {
      if (!existing.message) return { outcome: 'committed', messageId: existing.messageId };
      if (existing.leaseUntil > now) return { outcome: 'pending', messageId: existing.messageId };
      existing.leaseUntil = now + options.leaseMs;
      // The resumer's lease must not outlive the claim, or a later send could win it with a new id.
      existing.expiresAt = Math.max(existing.expiresAt, existing.leaseUntil);
      return { outcome: 'resume', message: structuredClone(existing.message) };
    }
    this.hub.claims.set(key, {
      messageId: message.messageId, message: structuredClone(message), leaseUntil: now + options.leaseMs,
      expiresAt: now + Math.max(options.ttlMs, options.leaseMs),
    });
    return { outcome: 'won' };
  }

  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    const claim = this.hub.claims.get(key);
    if (claim?.messageId !== messageId) return;
    claim.message = undefined;
    claim.expiresAt = this.now() + ttlMs;
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    const claim = this.hub.claims.get(key);
    if (claim?.messageId === messageId && claim.message) claim.leaseUntil = 0;
  }

  async close(): Promise<void> {}
}
