import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { SCHEMA_VERSION_TABLE, SQLITE_MIGRATIONS, type SqliteMigration } from './migrations.ts';

export type SqliteDatabase = Database.Database;

/**
 * How hard a commit waits for the disk. In WAL mode both survive a crash of the process (kill -9):
 * a committed transaction is in the WAL file the moment COMMIT returns. They differ on power loss
 * or an operating-system crash: NORMAL syncs the WAL only at checkpoints, so the last commits
 * before the outage may be lost (the database stays consistent); FULL syncs the WAL on every
 * commit, so nothing acknowledged is lost, at the price of one fsync per commit (per group commit).
 */
export const SYNCHRONOUS_MODES = ['NORMAL', 'FULL'] as const;
export type SynchronousMode = (typeof SYNCHRONOUS_MODES)[number];

/** The page cache, in KiB (a cap: it grows only as pages are read). */
const CACHE_KIB = 64 * 1024;
/** WAL pages after which a commit checkpoints them into the database file. */
const WAL_CHECKPOINT_PAGES = 10_000;

export interface OpenDatabaseOptions {
  synchronous: SynchronousMode;
  logger?: Logger;
  /** How long a statement waits for a lock held by another connection (a backup, an operator's sqlite3 shell). */
  busyTimeoutMs?: number;
}

export function openDatabase(file: string, options: OpenDatabaseOptions): SqliteDatabase {
  if (!SYNCHRONOUS_MODES.includes(options.synchronous)) {
    throw new Error(`invalid SQLite synchronous mode ${JSON.stringify(options.synchronous)}: use ${SYNCHRONOUS_MODES.join(' or ')}`);
  }
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5_000))}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`SQLite database ${file} cannot use write-ahead logging (journal mode stays ${String(mode)})`);
    db.pragma(`synchronous = ${options.synchronous}`);
    db.pragma('foreign_keys = ON');
    // Every room's newest history page and every device's newest claim page are written again and
    // again: they must stay cached (the default 2 MiB holds about 500 pages), and a checkpoint every
    // 10,000 WAL pages (40 MiB) copies each such page once for many commits instead of once for few.
    db.pragma(`cache_size = -${CACHE_KIB}`);
    db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    migrate(db, file, options.logger);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function appliedVersions(db: SqliteDatabase): Set<number> {
  return new Set(db.prepare('SELECT version FROM schema_version').pluck().all() as number[]);
}

/** Applies the missing migrations in order and returns their versions. */
export function migrate(db: SqliteDatabase, file: string, logger?: Logger, migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS): number[] {
  db.exec(SCHEMA_VERSION_TABLE);
  const applied = appliedVersions(db);
  const newest = Math.max(0, ...applied);
  const latest = migrations.at(-1)?.version ?? 0;
  if (newest > latest) {
    throw new Error(`SQLite database ${file} has schema version ${newest}, newer than this flametalk knows (${latest}): ` +
      'it was written by a newer release; run that one, or restore a backup');
  }
  const record = db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)');
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.version, migration.description, Date.now());
    }).immediate();
    logger?.info({ version: migration.version, description: migration.description, file }, 'applied SQLite schema migration');
    done.push(migration.version);
  }
  return done;
}
