import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { ClaimOptions, ClaimResult, SendDeduplicator } from '../ports/dedup.ts';
import type { SqliteDatabase } from './database.ts';

interface ClaimRow { message_id: string; message: string | null; lease_until: number | null; expires_at: number }

/** Expired claims are invisible at once and deleted at most this often. */
const SWEEP_EVERY_MS = 10_000;

function statements(db: SqliteDatabase) {
  const p = (sql: string) => db.prepare(sql);
  return {
    select: p('SELECT message_id, message, lease_until, expires_at FROM send_claims WHERE claim_key = ? AND expires_at > ?'),
    insert: p(`INSERT OR REPLACE INTO send_claims (claim_key, message_id, message, lease_until, expires_at)
      VALUES (?, ?, ?, ?, ?)`),
    renewLease: p('UPDATE send_claims SET lease_until = ?, expires_at = max(expires_at, ?) WHERE claim_key = ?'),
    commit: p(`UPDATE send_claims SET message = NULL, lease_until = NULL, expires_at = ?
      WHERE claim_key = ? AND message_id = ? AND expires_at > ?`),
    abandon: p(`UPDATE send_claims SET lease_until = 0
      WHERE claim_key = ? AND message_id = ? AND message IS NOT NULL AND expires_at > ?`),
    sweep: p('DELETE FROM send_claims WHERE expires_at <= ?'),
  };
}

export interface SqliteDedupOptions {
  now?: () => number;
  /** Called once by close() (the owner of the database closes it). */
  onClose?: () => void;
}

/**
 * Send claims in the data directory, so that a client's resend after a restart still gets the
 * first message id. Same semantics as the in-process driver; each claim is one transaction.
 */
export class SqliteDedup implements SendDeduplicator {
  private readonly q: ReturnType<typeof statements>;
  private readonly now: () => number;
  private readonly claimRow: (key: string, message: ChatMessage, options: ClaimOptions) => ClaimResult;
  private sweepAt = 0;
  private closed = false;

  constructor(db: SqliteDatabase, private readonly options: SqliteDedupOptions = {}) {
    this.q = statements(db);
    this.now = options.now ?? Date.now;
    this.claimRow = db.transaction((key: string, message: ChatMessage, claim: ClaimOptions) => this.decide(key, message, claim));
  }

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    return this.claimRow(key, message, options);
  }

  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    const now = this.now();
    this.q.commit.run(now + ttlMs, key, messageId, now);
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    this.q.abandon.run(key, messageId, this.now());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose?.();
  }

  private decide(key: string, message: ChatMessage, options: ClaimOptions): ClaimResult {
    const now = this.now();
    this.sweep(now);
    const existing = this.q.select.get(key, now) as ClaimRow | undefined;
    if (existing) {
      if (existing.message === null) return { outcome: 'committed', messageId: existing.message_id };
      if ((existing.lease_until ?? 0) > now) return { outcome: 'pending', messageId: existing.message_id };
      // The resumer's lease must not outlive the claim, or a later send could win it with a new id.
      this.q.renewLease.run(now + options.leaseMs, now + options.leaseMs, key);
      return { outcome: 'resume', message: JSON.parse(existing.message) as ChatMessage };
    }
    this.q.insert.run(key, message.messageId, JSON.stringify(message), now + options.leaseMs,
      now + Math.max(options.ttlMs, options.leaseMs));
    return { outcome: 'won' };
  }

  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + SWEEP_EVERY_MS;
    this.q.sweep.run(now);
  }
}
