/**
 * The one configuration schema: validation, defaults, environment variable names and the
 * README's configuration table all come from here, so they cannot drift apart.
 */

interface Setting {
  env: string;
  description: string;
  type: 'string' | 'integer' | 'boolean' | 'array';
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  enum?: readonly string[];
  pattern?: string;
  /** For lists: what each comma-separated item must look like. */
  itemPattern?: string;
  /** Never echoed back in error messages or logs. */
  secret?: boolean;
}

const port = (env: string, fallback: number, what: string) => ({
  env, type: 'integer' as const, minimum: 0, maximum: 65535, default: fallback, description: `${what} (0 picks a free port)`,
});

const positive = (env: string, fallback: number, description: string, maximum = Number.MAX_SAFE_INTEGER) => ({
  env, type: 'integer' as const, minimum: 1, maximum, default: fallback, description,
});

export const SETTINGS = {
  host: { env: 'HOST', type: 'string', default: '127.0.0.1', minLength: 1, description: 'Address both servers listen on' },
  httpPort: port('HTTP_PORT', 8080, 'HTTP API port (fastify)'),
  wsPort: port('WS_PORT', 8081, 'WebSocket port (uWebSockets.js): native protocol at /ws, STOMP at /stomp/chat, presence at /presence'),
  webAppWsUrl: {
    env: 'WEB_APP_WS_URL', type: 'string', pattern: '^wss?://[^\\s]+$',
    description: 'WebSocket URL the web app at /app connects to (behind a proxy or TLS, e.g. wss://chat.example.com/ws). Default: ws:// on the host of the page, WS_PORT, /ws',
  },
  nodeId: {
    env: 'NODE_ID', type: 'integer', minimum: 0, maximum: 1023,
    description: 'This node\'s id in message ids (0–1023), leased so no other live node holds it (a start is refused while one does). Default: any free one in cluster mode, 0 in embedded mode',
  },
  logLevel: {
    env: 'LOG_LEVEL', type: 'string', default: 'info', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'pino log level',
  },
  logPretty: {
    env: 'LOG_PRETTY', type: 'boolean',
    description: 'Human-readable logs instead of JSON. Default: on when stdout is a terminal',
  },

  embeddedStorage: {
    env: 'EMBEDDED_STORAGE', type: 'string', default: 'sqlite', enum: ['sqlite', 'memory'],
    description: 'Embedded mode: keep accounts, rooms, history, tokens and send claims in SQLite under DATA_DIR (survives restarts), or in memory (tests, throwaway demos)',
  },
  dataDir: {
    env: 'DATA_DIR', type: 'string', default: './data', minLength: 1,
    description: 'Embedded mode: directory of the SQLite database (accounts, rooms, history, tokens), the generated JWT key and the lock that keeps a second process out; created when missing',
  },
  sqliteSynchronous: {
    env: 'SQLITE_SYNCHRONOUS', type: 'string', default: 'NORMAL', enum: ['NORMAL', 'FULL'],
    description: 'When an embedded-mode commit is safe: NORMAL survives a crash of the process, FULL also a power loss (one fsync per group commit)',
  },

  redisUrl: { env: 'REDIS_URL', type: 'string', pattern: '^rediss?://', description: 'Redis for presence, tokens and de-duplication. Unset: in-process' },
  redisPrefix: { env: 'REDIS_PREFIX', type: 'string', default: 'flametalk:', description: 'Prefix of every Redis key' },
  kafkaBrokers: { env: 'KAFKA_BROKERS', type: 'array', itemPattern: '^[^\\s:,]+:[0-9]{1,5}$', description: 'Kafka brokers (host:port, comma-separated) for the room event bus. Unset: in-process' },
  kafkaTopic: { env: 'KAFKA_TOPIC', type: 'string', default: 'flametalk.room-events', minLength: 1, description: 'Topic of room events, keyed by room id' },
  kafkaPartitions: positive('KAFKA_PARTITIONS', 12, 'Partitions of the topic when it is created at start'),
  kafkaReplicationFactor: positive('KAFKA_REPLICATION_FACTOR', 1, 'Replication factor of the topic when it is created at start'),
  kafkaLingerMs: {
    env: 'KAFKA_LINGER_MS', type: 'integer', minimum: 0, maximum: 1_000, default: 5,
    description: 'How long a publish waits for others to share its produce request (an ack waits for it too); fewer, larger requests cost the broker far less CPU per message',
  },
  kafkaFetchMaxWaitMs: positive('KAFKA_FETCH_MAX_WAIT_MS', 100, 'Longest the persister and notifier groups wait to fill a fetch (history and pushes lag by at most this)', 5_000),
  kafkaFetchMinBytes: positive('KAFKA_FETCH_MIN_BYTES', 65_536, 'Bytes of new events that end a fetch of the persister and notifier groups early'),
  cassandraContactPoints: {
    env: 'CASSANDRA_CONTACT_POINTS', type: 'array', itemPattern: '^[^\\s:,]+(:[0-9]{1,5})?$',
    description: 'Cassandra contact points (host:port, comma-separated) for history, users, rooms and devices. Unset: in-process',
  },
  cassandraKeyspace: { env: 'CASSANDRA_KEYSPACE', type: 'string', default: 'flametalk', pattern: '^[a-zA-Z][a-zA-Z0-9_]{0,47}$', description: 'Keyspace, created and migrated at start' },
  cassandraLocalDataCenter: { env: 'CASSANDRA_LOCAL_DC', type: 'string', default: 'datacenter1', minLength: 1, description: 'Local data center of the Cassandra driver' },
  cassandraReplicationFactor: positive('CASSANDRA_REPLICATION_FACTOR', 1, 'Replication factor of the keyspace when it is created'),
  fcmServiceAccount: { env: 'FCM_SERVICE_ACCOUNT', type: 'string', minLength: 1, description: 'Path to a Firebase service-account JSON: pushes go through FCM. Unset: pushes are logged' },
  fcmLoopbackPort: {
    env: 'FCM_LOOPBACK_PORT', type: 'integer', minimum: 1, maximum: 65535,
    description: 'Send FCM traffic to an FCM-compatible server on 127.0.0.1 at this port instead of Google (air-gapped setups, tests)',
  },

  jwtSecret: {
    env: 'JWT_SECRET', type: 'string', minLength: 32, secret: true,
    description: 'HS256 key of access tokens (32+ characters), the same on every node. Required in cluster mode; generated in embedded mode',
  },
  jwtIssuer: { env: 'JWT_ISSUER', type: 'string', default: 'flametalk', minLength: 1, description: 'Issuer written into and required of access tokens' },
  accessTokenTtlSeconds: positive('ACCESS_TOKEN_TTL', 900, 'Lifetime of an access token, seconds'),
  refreshTokenTtlSeconds: positive('REFRESH_TOKEN_TTL', 2_592_000, 'Lifetime of a device session (refresh token), seconds'),
  refreshReuseGraceMs: {
    env: 'REFRESH_REUSE_GRACE_MS', type: 'integer', minimum: 0, maximum: 60_000, default: 10_000,
    description: 'A refresh token presented again within this many ms of its rotation (a lost response, two refreshes at once) gets the same new pair instead of counting as theft; 0 turns the grace off',
  },

  passwordHashConcurrency: {
    env: 'PASSWORD_HASH_CONCURRENCY', type: 'integer', minimum: 1, maximum: 64,
    description: 'Password hashes (argon2id, ~30 ms and 19 MiB each) computed at once, off the event loop. Default: one less than the CPU cores (1 to 4), so a core stays free for the sockets',
  },
  passwordHashQueue: {
    env: 'PASSWORD_HASH_QUEUE', type: 'integer', minimum: 0, default: 100,
    description: 'Sign-ins and sign-ups that may wait for a hashing slot; beyond it they get 503 with Retry-After at once',
  },

  signInAccountFailures: positive('SIGNIN_ACCOUNT_FAILURES', 10, 'Wrong passwords one account may get within SIGNIN_FAILURE_WINDOW; the next sign-in gets 429 with Retry-After. A successful sign-in resets the count'),
  signInIpFailures: positive('SIGNIN_IP_FAILURES', 100, 'Failed sign-ins one client address may make within SIGNIN_FAILURE_WINDOW, whatever the account (not reset by a success)'),
  signInFailureWindowSeconds: positive('SIGNIN_FAILURE_WINDOW', 900, 'Window of the sign-in failure limits, seconds, from the first failure'),
  signUpsPerIp: positive('SIGNUP_PER_IP', 30, 'Sign-ups one client address may make within SIGNUP_WINDOW'),
  signUpWindowSeconds: positive('SIGNUP_WINDOW', 3_600, 'Window of the sign-up limit, seconds'),
  refreshesPerIp: positive('REFRESH_PER_IP', 60, 'Token refreshes one client address may make within REFRESH_WINDOW'),
  refreshWindowSeconds: positive('REFRESH_WINDOW', 60, 'Window of the token refresh limit, seconds'),
  limitExemptIps: {
    env: 'LIMIT_EXEMPT_IPS', type: 'array', itemPattern: '^[0-9A-Fa-f:.]+$',
    description: 'Client addresses the HTTP abuse limits and WS_MAX_CONNECTIONS_PER_IP never apply to (comma-separated), e.g. a load generator',
  },
  trustedProxies: {
    env: 'TRUSTED_PROXIES', type: 'array', itemPattern: '^([0-9A-Fa-f:.]+(/[0-9]{1,3})?|loopback|linklocal|uniquelocal)$',
    description: 'Reverse proxies (addresses, CIDRs, or loopback/linklocal/uniquelocal) whose X-Forwarded-For names the client address for the HTTP limits and WS_MAX_CONNECTIONS_PER_IP. Unset: the socket address counts',
  },

  corsOrigins: {
    env: 'CORS_ORIGINS', type: 'array', itemPattern: '^(https?://[^\\s/,]+|\\*)$',
    description: 'Web origins (scheme://host[:port], comma-separated, or *) whose browsers may call the HTTP API; a preflight from any other origin gets 403. Unset: no cross-origin access',
  },
  metricsPort: {
    env: 'METRICS_PORT', type: 'integer', minimum: 0, maximum: 65535,
    description: 'Serve /metrics on this port (0 picks a free one) and not on the public HTTP port. Unset: /metrics on HTTP_PORT',
  },
  metricsHost: { env: 'METRICS_HOST', type: 'string', minLength: 1, description: 'Address the METRICS_PORT server listens on. Default: HOST' },

  // People and files
  phoneDefaultCountryCode: {
    env: 'PHONE_DEFAULT_COUNTRY_CODE', type: 'string', default: '82', pattern: '^[1-9][0-9]{0,3}$',
    description: 'Country code given to phone numbers written without one (a leading 0 is the national prefix): numbers are stored as digits only, e.g. 010-1234-5678 → 821012345678',
  },
  userSearchesPerWindow: positive('USER_SEARCH_LIMIT', 30, 'User searches by phone or email one signed-in user may make within USER_SEARCH_WINDOW (so accounts cannot be enumerated)'),
  userSearchWindowSeconds: positive('USER_SEARCH_WINDOW', 60, 'Window of the user search limit, seconds'),
  maxUploadBytes: positive('MAX_UPLOAD_BYTES', 10_485_760, 'Largest file upload, bytes; a larger one gets 413 and nothing is kept'),
  filesPublicUrl: {
    env: 'FILES_PUBLIC_URL', type: 'string', pattern: '^https?://[^\\s]+$',
    description: 'Origin file download URLs start with (behind a proxy or TLS, e.g. https://chat.example.com). Default: the scheme and Host of each request',
  },
  fileUrlTtlSeconds: positive('FILE_URL_TTL', 3_600, 'Seconds a signed file download URL stays valid'),
  s3Endpoint: {
    env: 'S3_ENDPOINT', type: 'string', pattern: '^https?://[^\\s]+$',
    description: 'S3-compatible endpoint for files (cluster mode: every node serves every file). Unset: AWS\'s default endpoint when S3_BUCKET is set, else local disk under DATA_DIR',
  },
  s3Bucket: { env: 'S3_BUCKET', type: 'string', minLength: 3, description: 'S3 bucket for files; setting it stores files in S3 instead of DATA_DIR/files' },
  s3Region: { env: 'S3_REGION', type: 'string', default: 'us-east-1', minLength: 1, description: 'S3 region' },
  s3AccessKeyId: { env: 'S3_ACCESS_KEY_ID', type: 'string', minLength: 1, description: 'S3 access key id (unset: the AWS SDK\'s default credential chain)' },
  s3SecretAccessKey: { env: 'S3_SECRET_ACCESS_KEY', type: 'string', minLength: 1, secret: true, description: 'S3 secret access key' },

  maxFrameBytes: positive('MAX_FRAME_BYTES', 65_536, 'Largest WebSocket frame; a larger one closes the socket with 1009'),
  maxTextLength: positive('MAX_TEXT_LENGTH', 4_000, 'Longest message text, characters'),
  rateLimitPerSecond: positive('RATE_LIMIT_PER_SECOND', 20, 'Frames per second a connection may send on average'),
  rateLimitBurst: positive('RATE_LIMIT_BURST', 40, 'Frames a connection may send in a burst; beyond it the socket closes with 4008'),
  maxJoinedRooms: positive('MAX_JOINED_ROOMS', 100, 'Rooms one connection may have joined at once'),
  maxConnectionsPerUser: positive('WS_MAX_CONNECTIONS_PER_USER', 50, 'WebSocket connections one user may have open on one node, all protocols together; one more is refused (HTTP 429 on the upgrade, or close 4008 when the token comes later)'),
  maxConnectionsPerIp: positive('WS_MAX_CONNECTIONS_PER_IP', 2_000, 'WebSocket connections one client address (an IPv6 /64) may have open on one node; one more gets HTTP 429 on the upgrade'),
  maxBufferedBytes: positive('MAX_BUFFERED_BYTES', 1_048_576, 'Outbound bytes buffered for a slow client before it is disconnected'),
  maxBodyBytes: positive('MAX_BODY_BYTES', 65_536, 'Largest HTTP request body, bytes; a larger one gets 413'),
  recoveryLimit: positive('RECOVERY_LIMIT', 100, 'Most messages a join with `since` returns; more missed means recovered:false', 1000),
  idleTimeoutSeconds: { env: 'WS_IDLE_TIMEOUT', type: 'integer', minimum: 8, maximum: 960, default: 120, description: 'Seconds of silence before a socket is considered dead (pings are automatic)' },
  recentBytes: positive('ROOM_RECENT_BYTES', 65_536, 'Bytes of recent messages a room keeps in memory for recovery (besides the RECOVERY_LIMIT count)'),
  feedWindow: positive('FEED_WINDOW', 256, 'Recent positions the room feed keeps per room (Redis in a cluster) for gap repair and recovery before the store has them', 100_000),
  feedWindowBytes: positive('FEED_WINDOW_BYTES', 65_536, 'Embedded mode: bytes of messages the in-process room feed keeps per room, besides the FEED_WINDOW count (the newest position stays whatever its size)'),
  gapRepairMs: positive('GAP_REPAIR_MS', 250, 'How long a missing position of a room\'s order holds later messages back before the feed is asked for it'),
  gapSkipMs: positive('GAP_SKIP_MS', 2_000, 'How long before a missing position is given up on (it is delivered late if it comes)'),
  roomIdleMs: positive('ROOM_IDLE_MS', 30_000, 'A room actor with no local sessions stops after this long; one that delivered no message for this long lets its recent messages go (a join with `since` then reads the feed\'s window and the store)'),
  presenceLeaseMs: { env: 'PRESENCE_LEASE_MS', type: 'integer', minimum: 1000, default: 30_000, description: 'A dead node\'s presence entries vanish within this bound' },
  pushNotificationBlock: {
    env: 'PUSH_NOTIFICATION_BLOCK', type: 'boolean', default: false,
    description: 'FCM pushes also carry a notification block (title, body) that the phone shows by itself. Off: a data message only (title, body, roomId, messageId, senderId), which the FlameTalk app renders',
  },
  pushCoalesceMs: { env: 'PUSH_COALESCE_MS', type: 'integer', minimum: 0, default: 3_000, description: 'One push per device per room within this window; later messages update the count' },
  stompHeartbeatMs: {
    env: 'STOMP_HEARTBEAT_MS', type: 'integer', minimum: 0, maximum: 3_600_000, default: 10_000,
    description: 'STOMP heart-beat the server offers in CONNECTED, both ways (0: none); a client silent for the negotiated interval plus a grace is dropped',
  },
  systemMessageLanguage: {
    env: 'SYSTEM_MESSAGE_LANGUAGE', type: 'string', default: 'ko', enum: ['ko', 'en'],
    description: 'Language of the text of system messages (INVITE, ENTER, LEAVE); clients may render their own from the user ids they carry',
  },
  accountPurgeAfterDays: positive(
    'ACCOUNT_PURGE_AFTER_DAYS', 30,
    'Accounts that left are deleted for good this many days later (profile, friends, devices, memberships; their messages stay under a neutral name); signing in before then restores them',
    36_500,
  ),
  accountPurgeIntervalMs: positive(
    'ACCOUNT_PURGE_INTERVAL_MS', 3_600_000,
    'How often the account purge runs (one node at a time in a cluster, under a lease in Redis)',
  ),
  storeCacheTtlMs: positive(
    'STORE_CACHE_TTL_MS', 30_000,
    'How long a node trusts its copy of an account, a room or a membership read for sockets (connect, join, send) before reading the store again; while the store cannot be read, the last copy is used, so an outage does not block them',
  ),
  storeCacheEntries: positive('STORE_CACHE_ENTRIES', 100_000, 'Accounts, rooms and memberships (each) a node keeps copies of for its sockets; the ones read longest ago go first'),
  shutdownTimeoutMs: positive('SHUTDOWN_TIMEOUT_MS', 10_000, 'On SIGTERM, the process exits within this bound'),
  drainBatchSize: positive('DRAIN_BATCH_SIZE', 500, 'On shutdown, clients are told 4200 in batches of this size'),
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<S extends Setting> = S['type'] extends 'integer' ? number
  : S['type'] extends 'boolean' ? boolean
  : S['type'] extends 'array' ? string[]
  : string;

type Defaulted = { [K in SettingName]: (typeof SETTINGS)[K] extends { default: unknown } ? K : never }[SettingName];

/** The validated configuration: settings with a default are always present. */
export type Config = { [K in Defaulted]: ValueOf<(typeof SETTINGS)[K]> } & {
  [K in Exclude<SettingName, Defaulted>]?: ValueOf<(typeof SETTINGS)[K]>;
};

/** The ajv schema generated from SETTINGS. */
export function jsonSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as Array<[string, Setting]>) {
    const { env: _env, description, type, itemPattern, secret: _secret, ...rest } = setting;
    properties[name] = type === 'array'
      ? { type: 'array', items: { type: 'string', pattern: itemPattern }, minItems: 1, description, ...rest }
      : { type, description, ...rest };
  }
  return { type: 'object', additionalProperties: false, properties };
}
