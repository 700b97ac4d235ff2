import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundle, CACHE_DIR, REPO_DIR } from './build.ts';
import type { Protocol } from './gen-protocol.ts';
import { jsonLine, SERVER_CORE, spawnNode, type PinnedProcess } from './process.ts';

/** Starting and stopping the servers under test: flametalk and its two peers. */

export const PEERS = ['flametalk', 'uws', 'socketio'] as const;
export type PeerName = (typeof PEERS)[number];

export const PEER_LABELS: Record<PeerName, string> = {
  flametalk: 'flametalk',
  uws: 'bare uWS',
  socketio: 'Socket.IO',
};

export interface ServerNode {
  wsUrl: string;
  /** flametalk's HTTP API. */
  httpUrl?: string;
  process: PinnedProcess;
}

export interface PeerServer {
  name: PeerName;
  protocol: Protocol;
  nodes: ServerNode[];
  /** How it ran, for the report: entry point, settings that differ from the defaults. */
  notes: string[];
  pids(): number[];
  stop(): Promise<void>;
}

/** Addresses and per-run names of the real backends (the cluster scenario). */
export interface ClusterBackends {
  redisUrl: string;
  kafkaBrokers: string;
  cassandraContactPoints: string;
  /** Unique per run: Kafka topic, Cassandra keyspace, Redis key prefix. */
  kafkaTopic: string;
  cassandraKeyspace: string;
  redisPrefix: string;
}

export interface StartOptions {
  runId: string;
  nodes: number;
  backends?: ClusterBackends;
  /** `dist`: `node dist/main.js` after `npm run build`; `tsx`: `node --import tsx src/main.ts`. */
  flametalkEntry: 'dist' | 'tsx';
  /** Extra environment for flametalk (e.g. from --env KEY=VALUE). */
  flametalkEnv: Record<string, string>;
  /** Extra node flags for flametalk, before BENCH_FLAMETALK_NODE_ARGS (the memory bench's probe). */
  flametalkNodeArgs?: string[];
  /** An IPC channel to each flametalk process (`PinnedProcess.child.send`), for a probe loaded with flametalkNodeArgs. */
  flametalkIpc?: boolean;
}

/** The settings flametalk gets in a benchmark, and why. */
export const FLAMETALK_BENCH_ENV: Record<string, string> = {
  // Publishers in the fan-out scenarios send hundreds of messages/s on one socket; the default
  // 20/s (burst 40) would close them with 4008.
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_BURST: '1000000',
  // Runs can outlast the default 15-minute access token.
  ACCESS_TOKEN_TTL: '86400',
  // The harness signs up thousands of users from one address (this also lifts the per-address socket cap).
  LIMIT_EXEMPT_IPS: '127.0.0.1',
  // ...and opens thousands of sockets per user (the default cap is 50 per user).
  WS_MAX_CONNECTIONS_PER_USER: '1000000',
};

const STRIPPED_ENV = ['REDIS_URL', 'REDIS_PREFIX', 'KAFKA_BROKERS', 'KAFKA_TOPIC', 'CASSANDRA_CONTACT_POINTS', 'CASSANDRA_KEYSPACE', 'FCM_SERVICE_ACCOUNT', 'FCM_LOOPBACK_PORT', 'NODE_ID', 'HTTP_PORT', 'WS_PORT', 'PORT'];

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of STRIPPED_ENV) delete env[key];
  return env;
}

let builtFlametalk = false;

/** Builds dist/ once per harness run (`npm run build`). */
export function buildFlametalk(): void {
  if (builtFlametalk) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_DIR, stdio: 'inherit' });
  builtFlametalk = true;
}

const logFile = (runId: string, name: string): string => join(CACHE_DIR, 'logs', `${runId}-${name}.log`);

async function startFlametalk(options: StartOptions): Promise<PeerServer> {
  const entry = options.flametalkEntry;
  if (entry === 'dist') buildFlametalk();
  const main = entry === 'dist' ? [join(REPO_DIR, 'dist/main.js')] : ['--import', 'tsx', join(REPO_DIR, 'src/main.ts')];
  if (entry === 'dist' && !existsSync(main[0]!)) throw new Error('dist/main.js is missing after the build');
  // e.g. BENCH_FLAMETALK_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (node refuses --cpu-prof in NODE_OPTIONS).
  const args = [...(options.flametalkNodeArgs ?? []), ...(process.env.BENCH_FLAMETALK_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...main];
  const nodes: ServerNode[] = [];
  const b = options.backends;
  const clusterEnv: Record<string, string> = b
    ? {
      REDIS_URL: b.redisUrl, REDIS_PREFIX: b.redisPrefix, KAFKA_BROKERS: b.kafkaBrokers, KAFKA_TOPIC: b.kafkaTopic,
      CASSANDRA_CONTACT_POINTS: b.cassandraContactPoints, CASSANDRA_KEYSPACE: b.cassandraKeyspace,
    }
    : {};
  // Nodes start one after the other: the first creates the topic and migrates the keyspace.
  for (let n = 0; n < options.nodes; n++) {
    const proc = spawnNode(`flametalk#${n}`, args, {
      core: SERVER_CORE,
      cwd: REPO_DIR,
      ipc: options.flametalkIpc ?? false,
      logFile: logFile(options.runId, `flametalk-${n}`),
      env: {
        ...baseEnv(), ...FLAMETALK_BENCH_ENV, ...clusterEnv, ...options.flametalkEnv,
        // A fixed key only silences the "generated a JWT key" warning in embedded mode.
        JWT_SECRET: `bench-${options.runId}-shared-secret-of-enough-length`,
        // Embedded nodes run on the default SQLite storage, each in a fresh data directory.
        DATA_DIR: join(tmpdir(), `flametalk-bench-${options.runId}-${n}`),
        HOST: '127.0.0.1', HTTP_PORT: '0', WS_PORT: '0', LOG_PRETTY: 'false', LOG_LEVEL: options.flametalkEnv.LOG_LEVEL ?? 'info',
      },
    });
    const ports = await proc.waitFor((line) => {
      const json = jsonLine(line);
      return typeof json?.msg === 'string' && json.msg.startsWith('flametalk listening') ? (json as { httpPort: number; wsPort: number }) : undefined;
    }, b ? 180_000 : 60_000, 'listening log line');
    nodes.push({ wsUrl: `ws://127.0.0.1:${ports.wsPort}/ws`, httpUrl: `http://127.0.0.1:${ports.httpPort}`, process: proc });
  }
  const settings = { ...FLAMETALK_BENCH_ENV, ...options.flametalkEnv };
  return {
    name: 'flametalk', protocol: 'native', nodes,
    notes: [
      entry === 'dist' ? 'node dist/main.js (npm run build)' : 'node --import tsx src/main.ts',
      b ? `cluster mode: ${options.nodes} node${options.nodes === 1 ? '' : 's'} on Redis, Kafka, Cassandra` : 'embedded mode',
      Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' '),
    ],
    pids: () => nodes.map((node) => node.process.pid),
    stop: () => stopAll(nodes),
  };
}

async function startBundled(name: 'uws' | 'socketio', options: StartOptions): Promise<PeerServer> {
  const file = await bundle(name === 'uws' ? 'uws-bare' : 'socketio');
  const nodes: ServerNode[] = [];
  const b = options.backends;
  for (let n = 0; n < options.nodes; n++) {
    const env: NodeJS.ProcessEnv = { ...baseEnv(), PORT: '0' };
    if (b && name === 'socketio') {
      env.REDIS_URL = b.redisUrl;
      env.REDIS_PREFIX = `${b.redisPrefix}socket.io`;
    }
    const proc = spawnNode(`${name}#${n}`, [file], { core: SERVER_CORE, env, logFile: logFile(options.runId, `${name}-${n}`) });
    const { wsPort } = await proc.waitFor((line) => {
      const json = jsonLine(line);
      return json?.msg === 'listening' ? (json as { wsPort: number }) : undefined;
    }, 30_000, 'listening line');
    nodes.push({ wsUrl: name === 'uws' ? `ws://127.0.0.1:${wsPort}/ws` : `ws://127.0.0.1:${wsPort}`, process: proc });
  }
  return {
    name, protocol: name === 'uws' ? 'native' : 'socketio', nodes,
    notes: name === 'uws'
      ? ['bench/peers/uws-bare.ts: uWS topic publish, native frames, no auth/actors/bus/storage']
      : [`bench/peers/socketio.ts: socket.io 4 rooms, websocket transport only (ws engine), no auth${b ? ', @socket.io/redis-adapter (ioredis)' : ''}`],
    pids: () => nodes.map((node) => node.process.pid),
    stop: () => stopAll(nodes),
  };
}

async function stopAll(nodes: ServerNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.process.stop(20_000)));
}

export function startPeer(name: PeerName, options: StartOptions): Promise<PeerServer> {
  return name === 'flametalk' ? startFlametalk(options) : startBundled(name, options);
}
