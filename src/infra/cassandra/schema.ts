import type { Client } from 'cassandra-driver';
import type { Logger } from 'pino';

/*
 * The versioned Cassandra schema. Migrations only ever append: a released migration is never
 * edited, a change is a new version. Every statement is `IF NOT EXISTS` (or otherwise
 * idempotent), so a migration that a crash interrupted halfway is simply run again.
 *
 * Before Cassandra 5.1 schema changes are not serialised across coordinators: two nodes that
 * create the same table at the same moment through different coordinators can end up with two
 * table ids for one table. So appliers take a lease (an LWT row with a TTL) and the second node to
 * start waits, then finds the work done. Only the two bookkeeping tables are created outside the
 * lease, once in the life of a cluster.
 */

export interface Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

/** Keyspace and table names are identifiers spliced into CQL, so they must be plain ones. */
const IDENTIFIER = /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/;

export function assertKeyspaceName(keyspace: string): void {
  if (!IDENTIFIER.test(keyspace)) {
    throw new Error(`invalid Cassandra keyspace name ${JSON.stringify(keyspace)}: use a letter then up to 47 letters, digits or underscores`);
  }
}

/**
 * The keyspace replicates in the local data center only; a deployment that spans data centers adds
 * the others with ALTER KEYSPACE (replication is an operator's decision, not a start-up side effect).
 */
export function createKeyspaceCql(keyspace: string, localDataCenter: string, replicationFactor: number): string {
  assertKeyspaceName(keyspace);
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    throw new Error(`invalid Cassandra replication factor ${replicationFactor}: must be a positive integer`);
  }
  const dc = localDataCenter.replaceAll("'", "''");
  return `CREATE KEYSPACE IF NOT EXISTS "${keyspace}"
  WITH replication = {'class': 'NetworkTopologyStrategy', '${dc}': ${replicationFactor}}`;
}

/** Bookkeeping: which versions are applied, and the lease that keeps two appliers apart. */
export const BOOKKEEPING_CQL: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS schema_migrations (
  version int PRIMARY KEY,
  description text,
  applied_at timestamp,
  applied_by text
)`,
  `CREATE TABLE IF NOT EXISTS schema_lock (
  name text PRIMARY KEY,
  owner text,
  acquired_at timestamp
)`,
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, rooms and members, history by room and day, read positions, device tokens',
    statements: [
      `CREATE TABLE IF NOT EXISTS users (
  user_id text PRIMARY KEY,
  email text,
  nickname text,
  password_hash text,
  phone_number text,
  birthday text,
  created_at timestamp,
  left_at timestamp
)`,
      // Claimed with INSERT ... IF NOT EXISTS: the only way two sign-ups with one email cannot both win.
      // The key is the lower-cased email, so uniqueness ignores case.
      `CREATE TABLE IF NOT EXISTS users_by_email (
  email text PRIMARY KEY,
  user_id text
)`,
      `CREATE TABLE IF NOT EXISTS rooms (
  room_id text PRIMARY KEY,
  host_id text,
  is_open boolean,
  created_at timestamp
)`,
      // Membership is stored twice, once per direction of lookup; logged batches keep them in step.
      `CREATE TABLE IF NOT EXISTS room_members (
  room_id text,
  user_id text,
  joined_at timestamp,
  title text,
  input_lock boolean,
  PRIMARY KEY ((room_id), user_id)
)`,
      `CREATE TABLE IF NOT EXISTS rooms_by_user (
  user_id text,
  room_id text,
  joined_at timestamp,
  title text,
  input_lock boolean,
  PRIMARY KEY ((user_id), room_id)
)`,
      // One partition per room and UTC day (days since 1970-01-01 of the message id's time), so no
      // partition grows without bound; newest first inside it, as history is read.
      `CREATE TABLE IF NOT EXISTS messages (
  room_id text,
  bucket int,
  message_id bigint,
  sender_id text,
  nickname text,
  message_type text,
  contents text,
  file_url text,
  created_at timestamp,
  PRIMARY KEY ((room_id, bucket), message_id)
) WITH CLUSTERING ORDER BY (message_id DESC)`,
      // The days on which a room has messages, so paging steps over silent days (or years) in one read.
      `CREATE TABLE IF NOT EXISTS room_buckets (
  room_id text,
  bucket int,
  PRIMARY KEY ((room_id), bucket)
) WITH CLUSTERING ORDER BY (bucket DESC)`,
      `CREATE TABLE IF NOT EXISTS read_positions (
  room_id text,
  user_id text,
  message_id bigint,
  PRIMARY KEY ((room_id), user_id)
)`,
      `CREATE TABLE IF NOT EXISTS device_tokens (
  user_id text,
  device_id text,
  push_token text,
  PRIMARY KEY ((user_id), device_id)
)`,
    ],
  },
  {
    version: 2,
    description: 'phone numbers unique (users_by_phone), muted memberships',
    statements: [
      // Claimed like emails: written after the user row, so a claim whose holder's row shows
      // another number is a leftover of a change that stopped halfway, and may be taken over.
      `CREATE TABLE IF NOT EXISTS users_by_phone (
  phone_number text PRIMARY KEY,
  user_id text
)`,
      'ALTER TABLE room_members ADD IF NOT EXISTS muted boolean',
      'ALTER TABLE rooms_by_user ADD IF NOT EXISTS muted boolean',
    ],
  },
  {
    version: 3,
    description: 'messages.user_ids: the users a system message (INVITE, ENTER, LEAVE) is about',
    statements: ['ALTER TABLE messages ADD IF NOT EXISTS user_ids list<text>'],
  },
  {
    version: 4,
    description: 'people and files: profiles and feeds, friends, open profiles, open rooms and aliases, file metadata',
    statements: [
      // Ids are snowflakes stored as bigint where they cluster, so a partition reads newest (or oldest) first.
      `CREATE TABLE IF NOT EXISTS profiles_by_user (
  user_id text,
  profile_id bigint,
  is_default boolean,
  nickname text,
  description text,
  image_url text,
  background_url text,
  stickers text,
  created_at timestamp,
  PRIMARY KEY ((user_id), profile_id)
)`,
      `CREATE TABLE IF NOT EXISTS profile_owners (
  profile_id bigint PRIMARY KEY,
  user_id text
)`,
      `CREATE TABLE IF NOT EXISTS profile_feed (
  profile_id bigint,
  feed_id bigint,
  user_id text,
  image_url text,
  locked boolean,
  created_at timestamp,
  PRIMARY KEY ((profile_id), feed_id)
) WITH CLUSTERING ORDER BY (feed_id DESC)`,
      `CREATE TABLE IF NOT EXISTS feed_owners (
  feed_id bigint PRIMARY KEY,
  profile_id bigint
)`,
      `CREATE TABLE IF NOT EXISTS friends (
  user_id text,
  friend_id text,
  marked boolean,
  hidden boolean,
  blocked boolean,
  assigned_profile_id text,
  created_at timestamp,
  PRIMARY KEY ((user_id), friend_id)
)`,
      `CREATE TABLE IF NOT EXISTS open_profiles_by_user (
  user_id text,
  open_profile_id bigint,
  nickname text,
  description text,
  image_url text,
  created_at timestamp,
  PRIMARY KEY ((user_id), open_profile_id)
)`,
      `CREATE TABLE IF NOT EXISTS open_profile_owners (
  open_profile_id bigint PRIMARY KEY,
  user_id text
)`,
      `CREATE TABLE IF NOT EXISTS open_rooms (
  room_id text PRIMARY KEY,
  code text,
  title text,
  created_at timestamp
)`,
      // Claimed with INSERT ... IF NOT EXISTS, like emails: two rooms cannot share a link code.
      `CREATE TABLE IF NOT EXISTS open_room_codes (
  code text PRIMARY KEY,
  room_id text
)`,
      `CREATE TABLE IF NOT EXISTS room_aliases (
  room_id text,
  user_id text,
  open_profile_id text,
  PRIMARY KEY ((room_id), user_id)
)`,
      `CREATE TABLE IF NOT EXISTS files (
  file_id bigint PRIMARY KEY,
  uploader_id text,
  room_id text,
  title text,
  extension text,
  size bigint,
  content_type text,
  created_at timestamp
)`,
      `CREATE TABLE IF NOT EXISTS files_by_room (
  room_id text,
  file_id bigint,
  PRIMARY KEY ((room_id), file_id)
) WITH CLUSTERING ORDER BY (file_id DESC)`,
    ],
  },
  {
    version: 5,
    description: 'device_tokens_by_token: which device holds a push token, so a token registered by one device is taken from another',
    statements: [
      // A hint, not the truth: device_tokens is. An entry is acted on only if the device it names still holds the token.
      `CREATE TABLE IF NOT EXISTS device_tokens_by_token (
  push_token text PRIMARY KEY,
  user_id text,
  device_id text
)`,
    ],
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** The whole schema as one CQL script (for the README and for operators who prefer cqlsh). */
export function schemaCql(keyspace = 'flametalk', localDataCenter = 'datacenter1', replicationFactor = 1): string {
  const statements = [
    createKeyspaceCql(keyspace, localDataCenter, replicationFactor),
    `USE "${keyspace}"`,
    ...BOOKKEEPING_CQL,
    ...MIGRATIONS.flatMap((m) => [`-- migration ${m.version}: ${m.description}`, ...m.statements]),
  ];
  return statements.map((s) => (s.startsWith('--') ? s : `${s};`)).join('\n\n') + '\n';
}

/** A lease longer than any migration should take; a node that dies holding it blocks others this long at most. */
const LOCK_TTL_SECONDS = 60;
const LOCK_NAME = 'migrations';
const LOCK_POLL_MS = 250;

/** Schema statements are not prepared: each runs once, and the driver waits for schema agreement after it. */
async function ddl(client: Client, cql: string, logger: Logger | undefined): Promise<void> {
  const result = await client.execute(cql);
  if (result.info && (result.info as { isSchemaInAgreement?: boolean }).isSchemaInAgreement === false) {
    logger?.warn({ cql }, 'Cassandra nodes did not agree on the schema in time; they will converge');
  }
}

/** Versions recorded in schema_migrations of the client's current keyspace. */
export async function appliedVersions(client: Client): Promise<Set<number>> {
  const result = await client.execute('SELECT version FROM schema_migrations', [], { prepare: true, isIdempotent: true });
  return new Set(result.rows.map((row) => row.get('version') as number));
}

async function withLease<T>(client: Client, owner: string, waitMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const claim = await client.execute(
      `INSERT INTO schema_lock (name, owner, acquired_at) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ${LOCK_TTL_SECONDS}`,
      [LOCK_NAME, owner, new Date()], { prepare: true },
    );
    if (claim.wasApplied()) break;
    if (Date.now() >= deadline) {
      const holder = claim.first()?.get('owner') as string | undefined;
      throw new Error(`could not migrate the Cassandra schema: ${holder ?? 'another node'} has held the migration lease ` +
        `for over ${Math.round(waitMs / 1000)} s (it expires ${LOCK_TTL_SECONDS} s after it was taken)`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    return await work();
  } finally {
    // Best effort: if this fails the TTL frees the lease.
    await client.execute('DELETE FROM schema_lock WHERE name = ? IF owner = ?', [LOCK_NAME, owner], { prepare: true })
      .catch(() => undefined);
  }
}

export interface MigrateOptions {
  /** Who applies (recorded in schema_migrations and the lease), e.g. host and pid. */
  owner: string;
  logger?: Logger;
  /** How long to wait for another node's lease before giving up. */
  lockWaitMs?: number;
}

/**
 * Brings the client's current keyspace up to LATEST_SCHEMA_VERSION and returns the versions this
 * call applied (none when another node already did).
 */
export async function migrate(client: Client, options: MigrateOptions): Promise<number[]> {
  const { owner, logger, lockWaitMs = 2 * LOCK_TTL_SECONDS * 1000 } = options;
  for (const cql of BOOKKEEPING_CQL) await ddl(client, cql, logger);
  const missing = (applied: Set<number>) => MIGRATIONS.filter((m) => !applied.has(m.version));
  if (missing(await appliedVersions(client)).length === 0) return [];

  return withLease(client, owner, lockWaitMs, async () => {
    // Read again under the lease: the node we waited for may have done everything.
    const done: number[] = [];
    for (const migration of missing(await appliedVersions(client))) {
      for (const cql of migration.statements) await ddl(client, cql, logger);
      // IF NOT EXISTS keeps the first applier's record should a lease ever have expired mid-way.
      await client.execute(
        'INSERT INTO schema_migrations (version, description, applied_at, applied_by) VALUES (?, ?, ?, ?) IF NOT EXISTS',
        [migration.version, migration.description, new Date(), owner], { prepare: true },
      );
      logger?.info({ version: migration.version, description: migration.description }, 'applied Cassandra schema migration');
      done.push(migration.version);
    }
    return done;
  });
}

/** Creates the keyspace when missing and makes it the client's current one (for every pooled connection). */
export async function useKeyspace(
  client: Client, keyspace: string, localDataCenter: string, replicationFactor: number, logger?: Logger,
): Promise<void> {
  await ddl(client, createKeyspaceCql(keyspace, localDataCenter, replicationFactor), logger);
  await client.execute(`USE "${keyspace}"`);
}
