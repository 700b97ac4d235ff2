import type { UserId } from '../../chat/model.ts';
import { USED_REFRESH_HASHES_KEPT, type DeviceSession, type NextRefresh, type RevocationListener, type RotateResult, type TokenStore } from '../ports/tokens.ts';
import type { SqliteDatabase } from './database.ts';

interface SessionRow { session_id: string; user_id: string; device_id: string; created_at: number; expires_at: number }
interface RotationRow { refresh_hash: string; previous_hash: string | null; rotation_nonce: string | null; rotated_at: number | null }

function toSession(row: SessionRow): DeviceSession {
  return { sessionId: row.session_id, userId: row.user_id, deviceId: row.device_id, createdAt: row.created_at, expiresAt: row.expires_at };
}

const SESSION_COLUMNS = 'session_id, user_id, device_id, created_at, expires_at';
/** Expired sessions are invisible at once and deleted at most this often. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Revocation listeners of every token store on one database connection. The data directory lock
 * keeps other processes out, so "every node" is every store of this process on this database.
 */
const listenersByDatabase = new WeakMap<SqliteDatabase, Set<RevocationListener>>();

function statements(db: SqliteDatabase) {
  const p = (sql: string) => db.prepare(sql);
  return {
    live: p(`SELECT ${SESSION_COLUMNS}, refresh_hash, previous_hash, rotation_nonce, rotated_at FROM device_sessions WHERE session_id = ? AND expires_at > ?`),
    liveOfDevice: p(`SELECT ${SESSION_COLUMNS} FROM device_sessions WHERE user_id = ? AND device_id = ? AND expires_at > ?`),
    liveOfUser: p(`SELECT ${SESSION_COLUMNS} FROM device_sessions WHERE user_id = ? AND expires_at > ?`),
    isActive: p('SELECT 1 FROM device_sessions WHERE session_id = ? AND expires_at > ?').pluck(),
    deleteSession: p('DELETE FROM device_sessions WHERE session_id = ?'),
    deleteOfDevice: p('DELETE FROM device_sessions WHERE user_id = ? AND device_id = ?'),
    insertSession: p(`INSERT INTO device_sessions (${SESSION_COLUMNS}, refresh_hash) VALUES (?, ?, ?, ?, ?, ?)`),
    wasUsed: p('SELECT 1 FROM used_refresh_hashes WHERE session_id = ? AND refresh_hash = ?').pluck(),
    markUsed: p('INSERT OR IGNORE INTO used_refresh_hashes (session_id, refresh_hash, used_at) VALUES (?, ?, ?)'),
    keepNewestUsed: p(`DELETE FROM used_refresh_hashes WHERE session_id = @sessionId AND refresh_hash NOT IN
      (SELECT refresh_hash FROM used_refresh_hashes WHERE session_id = @sessionId ORDER BY used_at DESC LIMIT @kept)`),
    advance: p(`UPDATE device_sessions SET refresh_hash = ?, expires_at = ?, previous_hash = ?, rotation_nonce = ?, rotated_at = ?
      WHERE session_id = ?`),
    sweep: p('DELETE FROM device_sessions WHERE expires_at <= ?'),
  };
}

export interface SqliteTokenStoreOptions {
  now?: () => number;
  /** Called once by close() (the owner of the database closes it). */
  onClose?: () => void;
}

/** Refresh-token sessions in the data directory: signed-in devices stay signed in across restarts. */
export class SqliteTokenStore implements TokenStore {
  private readonly q: ReturnType<typeof statements>;
  private readonly listeners: Set<RevocationListener>;
  private readonly own = new Set<RevocationListener>();
  private readonly now: () => number;
  private readonly replaceSession: (session: DeviceSession, refreshHash: string) => DeviceSession | undefined;
  private readonly rotateSession: (sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number) => RotateResult;
  private sweepAt = 0;
  private closed = false;

  constructor(db: SqliteDatabase, private readonly options: SqliteTokenStoreOptions = {}) {
    this.q = statements(db);
    this.now = options.now ?? Date.now;
    let listeners = listenersByDatabase.get(db);
    if (!listeners) listenersByDatabase.set(db, (listeners = new Set()));
    this.listeners = listeners;
    // Each read-then-write in one transaction, so a crash cannot leave half of it.
    this.replaceSession = db.transaction((session: DeviceSession, refreshHash: string) => this.replaceRows(session, refreshHash));
    this.rotateSession = db.transaction((sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number) =>
      this.rotateRows(sessionId, presentedHash, next, graceMs));
  }

  async createSession(session: DeviceSession, refreshHash: string): Promise<DeviceSession | undefined> {
    const replaced = this.replaceSession(session, refreshHash);
    if (replaced) this.announce(replaced);
    return replaced;
  }

  async rotate(sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number): Promise<RotateResult> {
    const result = this.rotateSession(sessionId, presentedHash, next, graceMs);
    if (result.outcome === 'reused') this.announce(result.session);
    return result;
  }

  async revoke(sessionId: string): Promise<DeviceSession | undefined> {
    const row = this.q.live.get(sessionId, this.now()) as SessionRow | undefined;
    this.q.deleteSession.run(sessionId);
    if (!row) return undefined;
    const session = toSession(row);
    this.announce(session);
    return session;
  }

  async isActive(sessionId: string): Promise<boolean> {
    return this.q.isActive.get(sessionId, this.now()) !== undefined;
  }

  async sessionsOf(userId: UserId): Promise<DeviceSession[]> {
    return (this.q.liveOfUser.all(userId, this.now()) as SessionRow[]).map(toSession);
  }

  onRevoked(listener: RevocationListener): () => void {
    // Wrapped, so that the same function registered by two stores stays two registrations.
    const registered: RevocationListener = (session) => listener(session);
    this.listeners.add(registered);
    this.own.add(registered);
    return () => {
      this.listeners.delete(registered);
      this.own.delete(registered);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.own) this.listeners.delete(listener);
    this.own.clear();
    this.options.onClose?.();
  }

  /** Replaces the device's session; returns the one replaced when it was still live. */
  private replaceRows(session: DeviceSession, refreshHash: string): DeviceSession | undefined {
    const now = this.now();
    this.sweep(now);
    const previous = this.q.liveOfDevice.get(session.userId, session.deviceId, now) as SessionRow | undefined;
    this.q.deleteOfDevice.run(session.userId, session.deviceId);
    this.q.deleteSession.run(session.sessionId);
    this.q.insertSession.run(session.sessionId, session.userId, session.deviceId, session.createdAt, session.expiresAt, refreshHash);
    return previous && toSession(previous);
  }

  private rotateRows(sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number): RotateResult {
    const row = this.q.live.get(sessionId, this.now()) as (SessionRow & RotationRow) | undefined;
    if (!row) return { outcome: 'unknown' };
    if (row.previous_hash === presentedHash && row.rotation_nonce !== null && row.rotated_at !== null && next.rotation.at < row.rotated_at + graceMs) {
      return { outcome: 'rotated', session: toSession(row), rotation: { nonce: row.rotation_nonce, at: row.rotated_at } };
    }
    if (this.q.wasUsed.get(sessionId, presentedHash) !== undefined) {
      this.q.deleteSession.run(sessionId);
      return { outcome: 'reused', session: toSession(row) };
    }
    if (row.refresh_hash !== presentedHash) return { outcome: 'unknown' };
    const { nonce, at } = next.rotation;
    this.q.markUsed.run(sessionId, presentedHash, at);
    this.q.keepNewestUsed.run({ sessionId, kept: USED_REFRESH_HASHES_KEPT });
    this.q.advance.run(next.hash, next.expiresAt, presentedHash, nonce, at, sessionId);
    return { outcome: 'rotated', session: toSession({ ...row, expires_at: next.expiresAt }), rotation: next.rotation };
  }

  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + SWEEP_EVERY_MS;
    this.q.sweep.run(now);
  }

  /** After the commit, each listener on its own microtask (one that throws cannot stop the others), as the other drivers do. */
  private announce(session: DeviceSession): void {
    for (const listener of this.listeners) queueMicrotask(() => listener({ ...session }));
  }
}
