/*
 * The versioned SQLite schema of the data directory. Migrations only ever append: a released
 * migration is never edited, a change is a new version. Each runs in one transaction together
 * with its row in schema_version, so a crash leaves it applied completely or not at all.
 *
 * Message ids (and read positions) are INTEGER: snowflakes fit a signed 64-bit integer, and
 * stored as numbers they order numerically, which keyset paging relies on. They are bound as
 * BigInt and read back with CAST(... AS TEXT), so no id ever passes through a double.
 */

export interface SqliteMigration {
  version: number;
  description: string;
  sql: string;
}

export const SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'users, rooms and members, history, read positions, device tokens, device sessions, send claims',
    sql: `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  -- lower-cased in JavaScript (full Unicode, as the other drivers do): emails are unique regardless of case
  email_key TEXT NOT NULL UNIQUE,
  nickname TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  -- UNIQUE allows any number of NULLs: many users have no phone number
  phone_number TEXT UNIQUE,
  birthday TEXT,
  created_at INTEGER NOT NULL,
  left_at INTEGER
);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  host_id TEXT NOT NULL,
  is_open INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE room_members (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  title TEXT,
  input_lock INTEGER NOT NULL,
  muted INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_members_by_user ON room_members (user_id, room_id);

CREATE TABLE messages (
  room_id TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  sender_id TEXT NOT NULL,
  nickname TEXT NOT NULL,
  message_type TEXT NOT NULL,
  contents TEXT NOT NULL,
  file_url TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, message_id)
) WITHOUT ROWID;

CREATE TABLE read_positions (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

CREATE TABLE device_tokens (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  push_token TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id)
) WITHOUT ROWID;

-- One session per device: signing in again on a device replaces its row.
CREATE TABLE device_sessions (
  session_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  refresh_hash TEXT NOT NULL,
  UNIQUE (user_id, device_id)
);
CREATE INDEX device_sessions_by_expiry ON device_sessions (expires_at);

-- Refresh hashes already rotated away: one coming back is theft.
CREATE TABLE used_refresh_hashes (
  session_id TEXT NOT NULL REFERENCES device_sessions (session_id) ON DELETE CASCADE,
  refresh_hash TEXT NOT NULL,
  PRIMARY KEY (session_id, refresh_hash)
) WITHOUT ROWID;

-- Send de-duplication: message (JSON) and lease_until are NULL once the claim is committed.
CREATE TABLE send_claims (
  claim_key TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  message TEXT,
  lease_until INTEGER,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX send_claims_by_expiry ON send_claims (expires_at);
`,
  },
  {
    version: 2,
    description: 'messages.user_ids: the users a system message (INVITE, ENTER, LEAVE) is about',
    sql: `
-- A JSON array of user ids; NULL for ordinary messages.
ALTER TABLE messages ADD COLUMN user_ids TEXT;
`,
  },
  {
    version: 3,
    description: 'people and files: profiles and their feeds, friends, open profiles, open rooms and aliases, file metadata',
    sql: `
-- Ids are snowflakes kept as TEXT; newest-first lists order by CAST(id AS INTEGER), which is exact for 63-bit ids.
CREATE TABLE profiles (
  profile_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  is_default INTEGER NOT NULL,
  nickname TEXT NOT NULL,
  description TEXT NOT NULL,
  image_url TEXT,
  background_url TEXT,
  stickers TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX profiles_by_user ON profiles (user_id);

CREATE TABLE profile_feed (
  feed_id TEXT PRIMARY KEY,
  profile_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  image_url TEXT NOT NULL,
  locked INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX profile_feed_by_profile ON profile_feed (profile_id);

CREATE TABLE friends (
  user_id TEXT NOT NULL,
  friend_id TEXT NOT NULL,
  marked INTEGER NOT NULL,
  hidden INTEGER NOT NULL,
  blocked INTEGER NOT NULL,
  assigned_profile_id TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, friend_id)
) WITHOUT ROWID;

CREATE TABLE open_profiles (
  open_profile_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  nickname TEXT NOT NULL,
  description TEXT NOT NULL,
  image_url TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX open_profiles_by_user ON open_profiles (user_id);

CREATE TABLE open_rooms (
  room_id TEXT PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE room_aliases (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  open_profile_id TEXT NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

CREATE TABLE files (
  file_id TEXT PRIMARY KEY,
  uploader_id TEXT NOT NULL,
  room_id TEXT,
  title TEXT NOT NULL,
  extension TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX files_by_room ON files (room_id, created_at);
`,
  },
  {
    version: 4,
    description: 'indexes for the account purge and push-token hand-over: users by left_at, friends by friend, device tokens by token',
    sql: `
-- Only accounts in their leave grace period are in it.
CREATE INDEX users_by_left_at ON users (left_at) WHERE left_at IS NOT NULL;
-- A purged account leaves every friend list it is in.
CREATE INDEX friends_by_friend ON friends (friend_id);
-- A token registered by one device is taken from any other device that held it.
CREATE INDEX device_tokens_by_token ON device_tokens (push_token);
`,
  },
  {
    version: 5,
    description: 'the last refresh rotation of each device session, for its reuse grace; used refresh hashes in rotation order',
    sql: `
-- The hash that rotation made used, its nonce and time (no secret): presented again within the
-- grace, the same pair is handed out again. NULL before a session's first rotation.
ALTER TABLE device_sessions ADD COLUMN previous_hash TEXT;
ALTER TABLE device_sessions ADD COLUMN rotation_nonce TEXT;
ALTER TABLE device_sessions ADD COLUMN rotated_at INTEGER;
-- When each hash was rotated away: a session keeps only its newest ones (0 for those used before).
ALTER TABLE used_refresh_hashes ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;
`,
  },
];

export const LATEST_SQLITE_VERSION = SQLITE_MIGRATIONS.at(-1)!.version;
