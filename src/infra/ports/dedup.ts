import type { ChatMessage, MessageId } from '../../chat/model.ts';

/**
 * What a claim on a client message id found:
 * - `won`: nobody sent this before; publish `message`, then `commit` once it is durable (or `abandon`).
 * - `committed`: an earlier send is durable under `messageId`; ack with it, publish nothing.
 * - `pending`: another attempt is publishing it right now (its lease is alive); wait and claim again.
 * - `resume`: an earlier attempt stopped before it was durable (it failed, or its node died); the
 *   caller now owns the claim and publishes the recorded `message` again, under the same id
 *   (storage is idempotent by id, so a copy that did reach the log is not stored twice).
 */
export type ClaimResult =
  | { outcome: 'won' }
  | { outcome: 'committed'; messageId: MessageId }
  | { outcome: 'pending'; messageId: MessageId }
  | { outcome: 'resume'; message: ChatMessage };

export interface ClaimOptions {
  /** How long a committed claim is remembered. */
  ttlMs: number;
  /** How long the claimer may go without renewing before another attempt may take over. */
  leaseMs: number;
}

/**
 * Remembers which client message ids a device already sent, across nodes, so that a resend after
 * a reconnect (possibly to another node) gets the original message id instead of a second copy,
 * and so that nothing is acknowledged before it is durable: a claim records the message it was
 * made for and only `commit` makes it an answer for resends.
 */
export interface SendDeduplicator {
  claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult>;
  /**
   * The claimer (or resumer) is still publishing: its lease runs `leaseMs` from now. Does nothing to
   * a claim that is committed, abandoned, whose lease ran out, or that another id holds.
   */
  renew(key: string, messageId: MessageId, leaseMs: number): Promise<void>;
  /** The message is durable: resends get its id from now on. A commit of a claim held by another id does nothing. */
  commit(key: string, messageId: MessageId, ttlMs: number): Promise<void>;
  /**
   * The publish failed or may have failed: the claim keeps its message and the next claim of the
   * key resumes it at once (never a new id for the same client message id).
   */
  abandon(key: string, messageId: MessageId): Promise<void>;
  close(): Promise<void>;
}
