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

/**
 * The claims this process remembers at most: about 250 bytes each. A resend comes within minutes of
 * its first attempt (a reconnect), so the newest claims are the ones that matter.
 */
const MAX_CLAIMS = 500_000;

/**
 * Claims shared by the in-process nodes of one process. The map is kept in expiry order (every
 * change of a claim's expiry moves it to the end), so dropping the expired ones, or the oldest over
 * the cap, looks only at the front: never a scan of every claim (at thousands of sends a second
 * they number in the millions).
 */
export class MemoryDedupHub {
  readonly claims = new Map<string, Claim>();

  constructor(private readonly maxClaims = MAX_CLAIMS) {}

  /** Stores or moves `claim` to the end of the expiry order. */
  put(key: string, claim: Claim, now: number): void {
    this.claims.delete(key);
    this.claims.set(key, claim);
    for (const [oldest, first] of this.claims) {
      if (first.expiresAt > now && this.claims.size <= this.maxClaims) break;
      this.claims.delete(oldest);
    }
  }
}

export class MemoryDedup implements SendDeduplicator {
  constructor(private readonly hub: MemoryDedupHub = new MemoryDedupHub(), private readonly now: () => number = Date.now) {}

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    const now = this.now();
    const existing = this.hub.claims.get(key);
    if (existing && existing.expiresAt > now) {
      if (!existing.message) return { outcome: 'committed', messageId: existing.messageId };
      if (existing.leaseUntil > now) return { outcome: 'pending', messageId: existing.messageId };
      existing.leaseUntil = now + options.leaseMs;
      // The resumer's lease must not outlive the claim, or a later send could win it with a new id.
      if (existing.leaseUntil > existing.expiresAt) {
        existing.expiresAt = existing.leaseUntil;
        this.hub.put(key, existing, now);
      }
      return { outcome: 'resume', message: structuredClone(existing.message) };
    }
    this.hub.put(key, {
      messageId: message.messageId, message: structuredClone(message), leaseUntil: now + options.leaseMs,
      expiresAt: now + Math.max(options.ttlMs, options.leaseMs),
    }, now);
    return { outcome: 'won' };
  }

  async renew(key: string, messageId: MessageId, leaseMs: number): Promise<void> {
    const claim = this.hub.claims.get(key);
    const now = this.now();
    if (claim?.messageId !== messageId || !claim.message || claim.leaseUntil <= now) return;
    claim.leaseUntil = now + leaseMs;
    if (claim.leaseUntil > claim.expiresAt) {
      claim.expiresAt = claim.leaseUntil;
      this.hub.put(key, claim, now);
    }
  }

  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    const claim = this.hub.claims.get(key);
    if (claim?.messageId !== messageId) return;
    const now = this.now();
    claim.message = undefined;
    claim.expiresAt = now + ttlMs;
    this.hub.put(key, claim, now);
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    const claim = this.hub.claims.get(key);
    if (claim?.messageId === messageId && claim.message) claim.leaseUntil = 0;
  }

  async close(): Promise<void> {}
}
