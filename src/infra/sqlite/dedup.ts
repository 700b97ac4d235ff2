import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { ClaimOptions, ClaimResult, SendDeduplicator } from '../ports/dedup.ts';
import type { SqliteDatabase } from './database.ts';
import { GroupCommit } from './group-commit.ts';

interface ClaimRow { message_id: string; message: string | null; lease_until: number | null; expires_at: number }

/** Expired claims are invisible at once and deleted at most this often. */
const SWEEP_EVERY_MS = 10_000;

function statements(db: SqliteDatabase) {
  const p = (sql: string) => db.prepare(sql);
  return {
    select: p('SELECT message_id, message, lease_until, expires_at FROM send_claims WHERE claim_key = ? AND expires_at > ?'),
    upsert: p(`INSERT OR REPLACE INTO send_claims (claim_key, message_id, message, lease_until, expires_at)
      VALUES (?, ?, ?, ?, ?)`),
    sweep: p('DELETE FROM send_claims WHERE expires_at <= ?'),
  };
}

/** Rows not written yet, per database: every claim driver on one database sees the same ones. */
const unwrittenOf = new WeakMap<SqliteDatabase, Map<string, ClaimRow>>();

export interface SqliteDedupOptions {
  now?: () => number;
  /** Called once by close() (the owner of the database closes it). */
  onClose?: () => void;
}

/**
 * Send claims in the data directory, so that a client's resend after a restart still gets the
 * first message id. Same semantics as the in-process driver.
 *
 * Every change of a claim is written behind, group-committed with the others of its turn (one
 * transaction per turn instead of two per send: measured, per-send transactions capped a node at
 * about 7,000 deliveries/s with the server mostly waiting on WAL writes). A claim's promise settles
 * after its commit, and it is queued before the message's own append, so it reaches the disk no
 * later than the message. Rows not written yet are read from `unwritten`: this process is the only
 * writer (the data directory lock), so memory plus disk is the whole truth.
 */
export class SqliteDedup implements SendDeduplicator {
  private readonly q: ReturnType<typeof statements>;
  private readonly now: () => number;
  private readonly unwritten: Map<string, ClaimRow>;
  private readonly writes: GroupCommit<[string, ClaimRow]>;
  private sweepAt = 0;
  private closed = false;

  constructor(db: SqliteDatabase, private readonly options: SqliteDedupOptions = {}) {
    this.q = statements(db);
    this.now = options.now ?? Date.now;
    this.unwritten = unwrittenOf.get(db) ?? unwrittenOf.set(db, new Map()).get(db)!;
    this.writes = new GroupCommit(db.transaction((rows: Array<[string, ClaimRow]>) => {
      const now = this.now();
      if (now >= this.sweepAt) {
        this.sweepAt = now + SWEEP_EVERY_MS;
        this.q.sweep.run(now);
      }
      for (const [key, row] of rows) this.q.upsert.run(key, row.message_id, row.message, row.lease_until, row.expires_at);
    }));
  }

  async claim(key: string, message: ChatMessage, options: ClaimOptions): Promise<ClaimResult> {
    const now = this.now();
    const existing = this.current(key, now);
    if (existing) {
      if (existing.message === null) return { outcome: 'committed', messageId: existing.message_id };
      if ((existing.lease_until ?? 0) > now) return { outcome: 'pending', messageId: existing.message_id };
      // The resumer's lease must not outlive the claim, or a later send could win it with a new id.
      await this.write(key, { ...existing, lease_until: now + options.leaseMs, expires_at: Math.max(existing.expires_at, now + options.leaseMs) });
      return { outcome: 'resume', message: JSON.parse(existing.message) as ChatMessage };
    }
    await this.write(key, {
      message_id: message.messageId, message: JSON.stringify(message), lease_until: now + options.leaseMs,
      expires_at: now + Math.max(options.ttlMs, options.leaseMs),
    });
    return { outcome: 'won' };
  }

  async renew(key: string, messageId: MessageId, leaseMs: number): Promise<void> {
    const now = this.now();
    const existing = this.current(key, now);
    if (existing?.message_id !== messageId || existing.message === null || (existing.lease_until ?? 0) <= now) return;
    await this.write(key, { ...existing, lease_until: now + leaseMs, expires_at: Math.max(existing.expires_at, now + leaseMs) });
  }

  async commit(key: string, messageId: MessageId, ttlMs: number): Promise<void> {
    const now = this.now();
    const existing = this.current(key, now);
    if (existing?.message_id !== messageId) return;
    await this.write(key, { message_id: messageId, message: null, lease_until: null, expires_at: now + ttlMs });
  }

  async abandon(key: string, messageId: MessageId): Promise<void> {
    const existing = this.current(key, this.now());
    if (existing?.message_id !== messageId || existing.message === null) return;
    await this.write(key, { ...existing, lease_until: 0 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writes.flush();
    this.options.onClose?.();
  }

  private current(key: string, now: number): ClaimRow | undefined {
    const row = this.unwritten.get(key) ?? (this.q.select.get(key, now) as ClaimRow | undefined);
    return row && row.expires_at > now ? row : undefined;
  }

  private async write(key: string, row: ClaimRow): Promise<void> {
    if (this.closed) throw new Error('the SQLite send claims are closed');
    this.unwritten.set(key, row);
    try {
      await this.writes.add([[key, row]]);
    } finally {
      if (this.unwritten.get(key) === row) this.unwritten.delete(key);
    }
  }
}
