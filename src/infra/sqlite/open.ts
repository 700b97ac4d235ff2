import { join } from 'node:path';
import type { Logger } from 'pino';
import { openDatabase, type SynchronousMode } from './database.ts';
import { lockDataDir, loadOrCreateSecret, type LoadedSecret } from './data-dir.ts';
import { SqliteDedup } from './dedup.ts';
import { SqlitePeopleStore } from './people.ts';
import { SqliteStore } from './store.ts';
import { SqliteTokenStore } from './tokens.ts';

export const DATABASE_FILE = 'flametalk.db';

export interface SqlitePortsOptions {
  /** Created when missing; relative paths resolve against the working directory. */
  dataDir: string;
  synchronous: SynchronousMode;
  logger?: Logger;
}

export interface SqlitePorts {
  store: SqliteStore;
  tokens: SqliteTokenStore;
  dedup: SqliteDedup;
  people: SqlitePeopleStore;
  /** Absolute path of the data directory (for the startup log). */
  dataDir: string;
  /** The key in the data directory (generated on first start); a configured JWT_SECRET takes precedence over it. */
  jwtSecret: LoadedSecret;
  /** Closes the four drivers (committing queued writes), the database and the lock. */
  close(): Promise<void>;
}

/**
 * Opens the data directory of an embedded node: lock first (a second process is refused before
 * it touches anything), then the key and the migrated database. The database closes and the lock
 * is released once all four drivers are closed, whether through `close()` or each driver's own.
 */
export function openSqlitePorts(options: SqlitePortsOptions): SqlitePorts {
  const lock = lockDataDir(options.dataDir);
  const { dataDir } = lock;
  try {
    const jwtSecret = loadOrCreateSecret(dataDir);
    const file = join(dataDir, DATABASE_FILE);
    const db = openDatabase(file, { synchronous: options.synchronous, logger: options.logger });
    let open = 4;
    const onClose = (): void => {
      if (--open > 0) return;
      try {
        db.close();
      } finally {
        lock.release();
      }
    };
    const store = new SqliteStore(db, { onClose });
    const tokens = new SqliteTokenStore(db, { onClose });
    const dedup = new SqliteDedup(db, { onClose });
    const people = new SqlitePeopleStore(db, { onClose });
    options.logger?.info({ dataDir, file, synchronous: options.synchronous }, 'SQLite data directory open');
    return {
      store, tokens, dedup, people, dataDir, jwtSecret,
      async close() {
        await store.close();
        await tokens.close();
        await dedup.close();
        await people.close();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
