import type { ChatMessage, MessageId } from '../../chat/model.ts';
import type { SqliteDatabase } from './database.ts';

/** A send claim; `message` is null once the claim is committed. */
export interface Claim {
  messageId: MessageId;
  message: ChatMessage | null;
  /** Pending: until when the claimer may still be publishing. */
  leaseUntil: number;
  expiresAt: number;
  /** How long the claim is remembered once committed: set on the claims this process won or resumed. */
  ttlMs?: number;
}

/** A pending claim, and the committed one that replaces it in its message's transaction. */
export interface CommittingClaim {
  key: string;
  held: Claim;
  committed: Claim;
}

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

/**
 * The send claims of one database, shared by its drivers. This process is the only writer (the
 * data directory lock), so what it holds in memory plus the table is the whole truth.
 *
 * A claim whose send is on its way is held in memory only: the SQLite store writes it, committed,
 * in the transaction of its message (`committing`), so the message and its claim reach the disk
 * together, one claim row per send instead of a pending row and then a committed one. A kill -9
 * loses only the pending claims of sends that were not durable, hence never acked. What is written
 * alone: abandoned claims (so that a resend after a restart resumes them), commits of claims whose
 * message went elsewhere, and at close the claims still pending.
 */
export class SendClaims {
  private readonly q: ReturnType<typeof statements>;
  private readonly held = new Map<string, Claim>();
  private readonly keyOfMessage = new Map<MessageId, string>();
  /** Committed claims held only until the next write (see committed()). */
  private settled: Array<[string, Claim]> = [];
  private sweepAt = 0;

  constructor(db: SqliteDatabase) {
    this.q = statements(db);
  }

  /** The live claim of `key`: the one held in memory, else the row on disk. */
  current(key: string, now: number): Claim | undefined {
    const held = this.held.get(key);
    if (held) return held.expiresAt > now ? held : undefined;
    const row = this.q.select.get(key, now) as ClaimRow | undefined;
    return row && {
      messageId: row.message_id, message: row.message === null ? null : JSON.parse(row.message) as ChatMessage,
      leaseUntil: row.lease_until ?? 0, expiresAt: row.expires_at,
    };
  }

  hold(key: string, claim: Claim): void {
    const before = this.held.get(key);
    if (before && this.keyOfMessage.get(before.messageId) === key) this.keyOfMessage.delete(before.messageId);
    this.held.set(key, claim);
    this.keyOfMessage.set(claim.messageId, key);
  }

  /** Forgets `claim` unless another replaced it since: the table has its state now (or keeps the older one). */
  release(key: string, claim: Claim): void {
    if (this.held.get(key) !== claim) return;
    this.held.delete(key);
    if (this.keyOfMessage.get(claim.messageId) === key) this.keyOfMessage.delete(claim.messageId);
  }

  /** The held pending claims of these messages, each with its committed state (ttl counted from now). */
  committing(messages: ChatMessage[], now: number): CommittingClaim[] {
    const found: CommittingClaim[] = [];
    for (const message of messages) {
      const key = this.keyOfMessage.get(message.messageId);
      const held = key === undefined ? undefined : this.held.get(key);
      if (held?.ttlMs === undefined || held.message === null || held.messageId !== message.messageId) continue;
      found.push({ key: key!, held, committed: { messageId: held.messageId, message: null, leaseUntil: 0, expiresAt: now + held.ttlMs } });
    }
    return found;
  }

  /**
   * The message of `held` and its committed claim are on disk: hold the committed state until the
   * next write, so that the commit that follows at once (MessageService) needs no read.
   */
  committed({ key, held, committed }: CommittingClaim): void {
    if (this.held.get(key) !== held) return;
    this.hold(key, committed);
    this.settled.push([key, committed]);
  }

  /** Upserts the claims; run it inside the caller's transaction. Deletes the expired ones now and then. */
  write(claims: Iterable<[string, Claim]>, now: number): void {
    for (const [key, claim] of this.settled.splice(0)) this.release(key, claim);
    if (now >= this.sweepAt) {
      this.sweepAt = now + SWEEP_EVERY_MS;
      this.q.sweep.run(now);
      for (const [key, claim] of this.held) if (claim.expiresAt <= now) this.release(key, claim);
    }
    for (const [key, claim] of claims) {
      const pending = claim.message !== null;
      this.q.upsert.run(key, claim.messageId, pending ? JSON.stringify(claim.message) : null, pending ? claim.leaseUntil : null, claim.expiresAt);
    }
  }

  /** Every claim held in memory, for writing at close. */
  heldClaims(): Array<[string, Claim]> {
    return [...this.held];
  }
}

const claimsOf = new WeakMap<SqliteDatabase, SendClaims>();

/** The database's one SendClaims: every driver on it must see the same held claims. */
export function sendClaimsOf(db: SqliteDatabase): SendClaims {
  let claims = claimsOf.get(db);
  if (!claims) claimsOf.set(db, (claims = new SendClaims(db)));
  return claims;
}
