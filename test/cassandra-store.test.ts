import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { pino } from 'pino';
import type { ChatMessage } from '../src/chat/model.ts';
import { SnowflakeGenerator } from '../src/chat/snowflake.ts';
import { BOOKKEEPING_CQL, LATEST_SCHEMA_VERSION, MIGRATIONS, createKeyspaceCql, migrate } from '../src/infra/cassandra/schema.ts';
import { CassandraStore, type CassandraStoreOptions } from '../src/infra/cassandra/store.ts';
import { backendAddress, uniqueName } from './support/backends.ts';

const DAY = 86_400_000;
const byNumber = (a: number, b: number) => a - b;
const contactPoints = backendAddress('CASSANDRA_CONTACT_POINTS').split(',');
const localDataCenter = process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1';
const keyspaces: string[] = [];

function options(keyspace: string, extra: Partial<CassandraStoreOptions> = {}): CassandraStoreOptions {
  return { contactPoints, keyspace, localDataCenter, replicationFactor: 1, ...extra };
}

function freshKeyspace(): string {
  const keyspace = uniqueName('flametalk_test');
  keyspaces.push(keyspace);
  return keyspace;
}

/** A plain client for looking at what the store wrote, as an operator would with cqlsh. */
let admin: Client;

before(async () => {
  admin = new cassandra.Client({ contactPoints, localDataCenter, encoding: { useBigIntAsLong: true } });
  await admin.connect();
});

after(async () => {
  for (const keyspace of keyspaces) await admin.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`);
  await admin.shutdown();
});

function message(roomId: string, at: number, ids: SnowflakeGenerator): ChatMessage {
  return { messageId: ids.next(), roomId, senderId: 'u1', nickname: 'n', messageType: 'TALK', contents: `at ${new Date(at).toISOString()}`, fileUrl: null, createdAt: at };
}

describe('CassandraStore schema', () => {
  it('migrates a new keyspace once, even when two nodes start at the same moment', async () => {
    const keyspace = freshKeyspace();
    const stores = await Promise.all([CassandraStore.connect(options(keyspace)), CassandraStore.connect(options(keyspace))]);
    await Promise.all(stores.map((store) => store.close()));
    // Starting again finds nothing to do.
    await (await CassandraStore.connect(options(keyspace))).close();

    const recorded = await admin.execute(`SELECT version FROM "${keyspace}".schema_migrations`);
    const versions = recorded.rows.map((row) => row.get('version') as number).sort((a, b) => a - b);
    assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
    assert.equal(versions.at(-1), LATEST_SCHEMA_VERSION);
    const lease = await admin.execute(`SELECT name FROM "${keyspace}".schema_lock`);
    assert.equal(lease.rowLength, 0, 'the migration lease is released');

    const tables = await admin.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace], { prepare: true });
    assert.deepEqual(tables.rows.map((row) => row.get('table_name') as string).sort(), [
      'device_tokens', 'device_tokens_by_token', 'feed_owners', 'files', 'files_by_room', 'friends', 'messages', 'open_profile_owners', 'open_profiles_by_user',
      'open_room_codes', 'open_rooms', 'profile_feed', 'profile_owners', 'profiles_by_user', 'read_positions', 'room_aliases',
      'room_buckets', 'room_members', 'rooms', 'rooms_by_user', 'schema_lock', 'schema_migrations', 'users', 'users_by_email', 'users_by_phone',
    ]);

    const client = new cassandra.Client({ contactPoints, localDataCenter, keyspace });
    try {
      assert.deepEqual(await migrate(client, { owner: 'test' }), [], 'a migrated keyspace needs nothing');
    } finally {
      await client.shutdown();
    }
  });
});

describe('CassandraStore upgrade', () => {
  it('brings a keyspace of schema version 1 up to date: its members read as not muted, phones become unique', async () => {
    const keyspace = freshKeyspace();
    await admin.execute(createKeyspaceCql(keyspace, localDataCenter, 1));
    const v1 = new cassandra.Client({ contactPoints, localDataCenter, keyspace });
    try {
      for (const cql of [...BOOKKEEPING_CQL, ...MIGRATIONS[0]!.statements]) await v1.execute(cql);
      await v1.execute("INSERT INTO schema_migrations (version, description) VALUES (1, 'v1')");
      await v1.execute("INSERT INTO room_members (room_id, user_id, joined_at, title, input_lock) VALUES ('r1', 'u1', 1000, null, true)");
    } finally {
      await v1.shutdown();
    }

    const store = await CassandraStore.connect(options(keyspace));
    try {
      assert.deepEqual(await store.getMembership('r1', 'u1'), { roomId: 'r1', userId: 'u1', joinedAt: 1000, title: null, inputLock: true, muted: false });
      const ann = { userId: randomUUID(), email: `${randomUUID()}@example.com`, nickname: 'Ann', passwordHash: 'x', phoneNumber: '+8210', birthday: null, createdAt: 1, leftAt: null };
      await store.createUser(ann);
      assert.equal((await store.getUserByPhone('+8210'))?.userId, ann.userId);
    } finally {
      await store.close();
    }
  });
});

describe('CassandraStore', () => {
  let store: CassandraStore;
  let keyspace: string;
  const warnings: Array<{ level: number; msg: string }> = [];

  before(async () => {
    keyspace = freshKeyspace();
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    store = await CassandraStore.connect(options(keyspace, { logger }));
  });
  after(async () => store?.close());

  it('keeps one room\'s one UTC day in each history partition', async () => {
    const [roomA, roomB] = [randomUUID(), randomUUID()];
    const day1 = Date.UTC(2025, 2, 1);
    const times = [day1 + 12 * 3_600_000, day1 + DAY - 1, day1 + DAY, day1 + 4 * DAY + 8 * 3_600_000, day1 + 4 * DAY + 9 * 3_600_000];
    let clock = 0;
    const ids = new SnowflakeGenerator(1, () => clock);
    const written = times.map((at) => {
      clock = at;
      return message(roomA, at, ids);
    });
    // A generator of its own: a snowflake generator never steps back in time.
    const other = message(roomB, day1 + 13 * 3_600_000, new SnowflakeGenerator(2, () => day1 + 13 * 3_600_000));
    await store.appendMessages([...written, other]);

    const dayOf = (ms: number) => Math.floor(ms / DAY);
    const expected = new Map<number, string[]>();
    for (const m of written) expected.set(dayOf(m.createdAt), [...(expected.get(dayOf(m.createdAt)) ?? []), m.messageId]);
    assert.equal(expected.size, 3, 'the test data spans three days, two of them adjacent');

    // Partitions as Cassandra sees them: every (room, bucket) key of this keyspace's history.
    const partitions = await admin.execute(`SELECT DISTINCT room_id, bucket FROM "${keyspace}".messages`);
    const bucketsOf = (room: string) => partitions.rows.filter((row) => row.get('room_id') === room).map((row) => row.get('bucket') as number).sort(byNumber);
    assert.deepEqual(bucketsOf(roomA), [...expected.keys()].sort(byNumber));
    assert.deepEqual(bucketsOf(roomB), [dayOf(other.createdAt)], 'another room on the same day has a partition of its own');

    for (const [bucket, messageIds] of expected) {
      const rows = await admin.execute(`SELECT message_id FROM "${keyspace}".messages WHERE room_id = ? AND bucket = ?`, [roomA, bucket], { prepare: true });
      assert.deepEqual(rows.rows.map((row) => String(row.get('message_id'))), [...messageIds].reverse(), `day ${bucket} holds its messages, newest first`);
    }
    const index = await admin.execute(`SELECT bucket FROM "${keyspace}".room_buckets WHERE room_id = ?`, [roomA], { prepare: true });
    assert.deepEqual(index.rows.map((row) => row.get('bucket')), [...expected.keys()].sort(byNumber).reverse(), 'the room\'s days, newest first');

    assert.deepEqual(await store.history(roomA, { limit: 10 }), [...written].reverse());
    assert.deepEqual(await store.history(roomA, { before: written[2]!.messageId, limit: 10 }), written.slice(0, 2).reverse(), 'across the midnight boundary');
  });

  it('stores a burst of hundreds of messages over many rooms in one call', async () => {
    const ids = new SnowflakeGenerator(2);
    const rooms = Array.from({ length: 20 }, () => randomUUID());
    const burst = Array.from({ length: 600 }, (_, i) => message(rooms[i % rooms.length]!, Date.now(), ids));
    await store.appendMessages(burst);
    for (const roomId of rooms) {
      assert.deepEqual(await store.history(roomId, { limit: 100 }), burst.filter((m) => m.roomId === roomId).reverse());
    }
  });

  it('moves a read position to the highest id whatever order concurrent reports arrive in', async () => {
    const ids = new SnowflakeGenerator(3);
    const reports = Array.from({ length: 30 }, () => ids.next());
    const highest = reports.at(-1)!;
    const roomId = randomUUID();
    await Promise.all([...reports].sort(() => Math.random() - 0.5).map((id) => store.setReadPosition(roomId, 'u1', id)));
    assert.equal(await store.getReadPosition(roomId, 'u1'), highest);
  });

  it('forwards the driver\'s warnings to the logger', async () => {
    // An aggregate over a whole table makes Cassandra attach a warning to its answer.
    const client = (store as unknown as { client: Client }).client;
    await client.execute('SELECT COUNT(*) FROM device_tokens', [], { prepare: true });
    assert.ok(warnings.some((w) => w.level === 40 && /Aggregation query used without partition key/.test(w.msg)), JSON.stringify(warnings));
  });

  it('answers ping', async () => {
    await store.ping();
  });
});

describe('CassandraStore.connect when Cassandra cannot be used', () => {
  async function failure(extra: Partial<CassandraStoreOptions> & { contactPoints?: string[] }): Promise<{ error: Error; ms: number }> {
    const started = performance.now();
    const error = await CassandraStore.connect({ ...options('flametalk_never_created'), ...extra }).then(
      async (store) => {
        await store.close();
        throw new Error('connected');
      },
      (e: unknown) => e as Error,
    );
    return { error, ms: performance.now() - started };
  }

  it('names the unreachable contact point and why, quickly', async () => {
    const { error, ms } = await failure({ contactPoints: ['127.0.0.1:1'] });
    assert.match(error.message, /^cannot connect to Cassandra at 127\.0\.0\.1:1 \(local data center datacenter1\): .*127\.0\.0\.1:1: connect ECONNREFUSED/);
    assert.ok(ms < 5_000, `${ms} ms`);
  });

  it('says when no contact point resolves', async () => {
    const { error, ms } = await failure({ contactPoints: ['cassandra.invalid:9042'] });
    assert.match(error.message, /cannot connect to Cassandra at cassandra\.invalid:9042 .*No host could be resolved/);
    assert.ok(ms < 10_000, `${ms} ms`);
  });

  it('says when the data center name is wrong', async () => {
    const { error } = await failure({ localDataCenter: 'no_such_dc' });
    assert.match(error.message, /localDataCenter was configured as 'no_such_dc', but only found hosts in data centers/);
  });
});
