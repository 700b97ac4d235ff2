import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { ClaimOptions, ClaimResult, SendDeduplicator } from '../ports/dedup.ts';
import type { SqliteDatabase } from './database.ts';
import { GroupCommit } from './group-commit.ts';
import { sendClaimsOf, type Claim, type SendClaims } from './send-claims.ts';

export interface SqliteDedupOptions {
  /** Called once by close() (the owner of the database closes it). */
  onClose?: () => void;
}

/**
 * Send claims in the data directory, so that a client's resend after a restart still gets the
 * first message id. Same semantics as the in-process driver.
 *
 * A won or resumed claim is held in memory and reaches the disk with its message (see SendClaims),
 * so the send path writes nothing here. The writes this driver does make (abandon, a commit the
 * store did not already write) are group-committed with the others of their turn; each settles
 * after its commit.
 */
export class SqliteDedup implements SendDeduplicator {
  private readonly claims: SendClaims;
  private readonly writes: GroupCommit<[string, Claim]>;
  private closed = false;

  constructor(db: SqliteDatabase, private readonly options: SqliteDedupOptions = {}) {
    this.claims = sendClaimsOf(db);
    this.writes = new GroupCommit(db.transaction((rows: Array<[string, Claim]>) => this.claims.write(rows, Date.now())));
  }

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    if (this.closed) throw new Error('the SQLite send claims are closed');
    const now = Date.now();
    const existing = this.claims.current(key, now);
    if (existing) {
      if (existing.message === null) return { outcome: 'committed', messageId: existing.messageId };
      if (existing.leaseUntil > now) return { outcome: 'pending', messageId: existing.messageId };
      // The resumer's lease must not outlive the claim, or a later send could win it with a new id.
      const leaseUntil = now + options.leaseMs;
      this.claims.hold(key, { ...existing, leaseUntil, expiresAt: Math.max(existing.expiresAt, leaseUntil), ttlMs: options.ttlMs });
      return { outcome: 'resume', message: structuredClone(existing.message) };
    }
    this.claims.hold(key, {
      messageId: message.messageId, message, leaseUntil: now + options.leaseMs,
      expiresAt: now + Math.max(options.ttlMs, options.leaseMs), ttlMs: options.ttlMs,
    });
    return { outcome: 'won' };
  }

  /** A pending claim lives in memory until its message is stored (SendClaims): renewing it writes nothing. */
  async renew(key: string, messageId: MessageId, leaseMs: number): Promise<void> {
    const now = Date.now();
    const existing = this.claims.current(key, now);
    if (existing?.messageId !== messageId || existing.message === null || existing.leaseUntil <= now) return;
    const leaseUntil = now + leaseMs;
    this.claims.hold(key, { ...existing, leaseUntil, expiresAt: Math.max(existing.expiresAt, leaseUntil) });
  }

  /** Nothing to write when the store already committed the claim with its message. */
  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    const now = Date.now();
    const existing = this.claims.current(key, now);
    if (existing?.messageId !== messageId || existing.message === null) return;
    await this.write(key, { messageId, message: null, leaseUntil: 0, expiresAt: now + ttlMs });
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    const existing = this.claims.current(key, Date.now());
    if (existing?.messageId !== messageId || existing.message === null) return;
    await this.write(key, { ...existing, leaseUntil: 0 });
  }

  /** Writes the claims still pending too, so that a restart finds them as a crash could not. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const held = this.claims.heldClaims();
    const written = held.length > 0 ? this.writes.add(held) : undefined;
    this.writes.flush();
    try {
      await written;
    } finally {
      this.options.onClose?.();
    }
  }

  /** Holds the claim's new state until its row is committed. */
  private async write(key: string, claim: Claim): Promise<void> {
    if (this.closed) throw new Error('the SQLite send claims are closed');
    this.claims.hold(key, claim);
    try {
      await this.writes.add([[key, claim]]);
    } finally {
      this.claims.release(key, claim);
    }
  }
}
