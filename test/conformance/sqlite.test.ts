import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openDatabase, type SqliteDatabase } from '../../src/infra/sqlite/database.ts';
import { SqliteDedup } from '../../src/infra/sqlite/dedup.ts';
import { SqlitePeopleStore } from '../../src/infra/sqlite/people.ts';
import { SqliteStore } from '../../src/infra/sqlite/store.ts';
import { SqliteTokenStore } from '../../src/infra/sqlite/tokens.ts';
import { dedupConformance } from './dedup.ts';
import { peopleConformance } from './people.ts';
import { storeConformance } from './store.ts';
import { tokenConformance } from './tokens.ts';

const root = mkdtempSync(join(tmpdir(), 'flametalk-sqlite-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));

let databases = 0;
/** A database file of its own, migrated, as a data directory would hold it. */
function database(): SqliteDatabase {
  return openDatabase(join(root, `conformance-${++databases}.db`), { synchronous: 'NORMAL' });
}

storeConformance('sqlite', async () => {
  const db = database();
  return new SqliteStore(db, { onClose: () => db.close() });
});

peopleConformance('sqlite', async () => {
  const db = database();
  return new SqlitePeopleStore(db, { onClose: () => db.close() });
});

// Several stores on one database stand for the nodes: in embedded mode they are the one process.
tokenConformance('sqlite', async () => {
  const db = database();
  const nodes: SqliteTokenStore[] = [];
  return {
    node: async () => {
      const node = new SqliteTokenStore(db);
      nodes.push(node);
      return node;
    },
    close: async () => {
      for (const node of nodes) await node.close();
      db.close();
    },
  };
});

dedupConformance('sqlite', async () => {
  const db = database();
  const nodes: SqliteDedup[] = [];
  return {
    node: async () => {
      const node = new SqliteDedup(db);
      nodes.push(node);
      return node;
    },
    close: async () => {
      for (const node of nodes) await node.close();
      db.close();
    },
  };
});
