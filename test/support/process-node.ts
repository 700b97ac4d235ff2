import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import { backendAddress, uniqueName } from './backends.ts';
import { waitFor } from './wait.ts';
import { ApiClient, TEST_JWT_SECRET, type TestUser } from './server.ts';
import { TestSocket } from './ws-client.ts';

const root = join(import.meta.dirname, '..', '..');

/** How a server process ended, and how long after the signal the test sent it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From `kill()` to the exit, in ms (undefined when the process exited on its own). */
  afterSignalMs: number | undefined;
}

export interface StartOptions {
  name?: string;
  startTimeoutMs?: number;
  /** Absolute paths of modules to load before the server (`--import`). */
  imports?: string[];
}

/** Every process started here and not yet exited: killed if the test process goes away first. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Variables of the parent environment a server process may see; everything else is given explicitly. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];

const MAX_LINES = 50_000;

/**
 * A flametalk server running as a real process: `node --import tsx src/main.ts`, the `npm start`
 * entry, configured only by environment. Ready once it logged `flametalk listening`; its HTTP API
 * is reachable through the inherited client (request, signUp, signIn, createRoom).
 */
export class ProcessNode extends ApiClient {
  readonly exited: Promise<Exit>;
  /** stdout and stderr lines, as written (bounded: the oldest go first). */
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private signalledAt: number | undefined;
  private exit: Exit | undefined;
  httpPort = 0;
  wsPort = 0;
  pid: number;

  private constructor(readonly name: string, readonly child: ChildProcess, readonly env: Record<string, string>) {
    super(() => `http://127.0.0.1:${this.httpPort}`);
    this.pid = child.pid!;
    live.add(child);
    const collect = (stream: NodeJS.ReadableStream, into: string[]): void => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        into.push(...lines);
        if (into.length > MAX_LINES) into.splice(0, into.length - MAX_LINES);
      });
      stream.on('end', () => {
        if (partial) into.push(partial);
      });
    };
    collect(child.stdout!, this.stdout);
    collect(child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exit = { code, signal, afterSignalMs: this.signalledAt === undefined ? undefined : performance.now() - this.signalledAt };
        resolve(this.exit);
      });
    });
  }

  /**
   * Starts a server process with exactly `env` (plus PATH and the like) and waits until it listens.
   * `imports` are modules the process loads before the server (test preloads, e.g. connect-detour.ts).
   */
  static async start(env: Record<string, string>, options: StartOptions = {}): Promise<ProcessNode> {
    const name = options.name ?? 'node';
    const inherited = Object.fromEntries(INHERITED.flatMap((key) => (process.env[key] === undefined ? [] : [[key, process.env[key]!]])));
    const preloads = (options.imports ?? []).flatMap((module) => ['--import', module]);
    const child = spawn(process.execPath, ['--import', 'tsx', ...preloads, 'src/main.ts'], {
      cwd: root,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new ProcessNode(name, child, env);
    const timeoutMs = options.startTimeoutMs ?? 90_000;
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const listening = node.logs().find((line) => typeof line.msg === 'string' && line.msg.startsWith('flametalk listening'));
        if (listening) {
          node.httpPort = Number(listening.httpPort);
          node.wsPort = Number(listening.wsPort);
          return node;
        }
        if (node.exit) throw new Error(`exited with ${node.exit.code ?? node.exit.signal} before listening`);
        if (Date.now() > deadline) throw new Error(`not listening after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } catch (error) {
      child.kill('SIGKILL');
      await node.exited;
      throw new Error(`server process ${name}: ${(error as Error).message}\n${node.tail(40)}`);
    }
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.wsPort}/ws`;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** stdout lines that are pino JSON, parsed. */
  logs(): Array<Record<string, any>> {
    const parsed: Array<Record<string, any>> = [];
    for (const line of this.stdout) {
      if (!line.startsWith('{')) continue;
      try {
        parsed.push(JSON.parse(line) as Record<string, any>);
      } catch {
        // a line cut by the bound above
      }
    }
    return parsed;
  }

  /** The last lines of both streams, for failure messages. */
  tail(lines = 30): string {
    return `--- ${this.name} (pid ${this.pid}) stdout ---\n${this.stdout.slice(-lines).join('\n')}\n--- stderr ---\n${this.stderr.slice(-lines).join('\n')}`;
  }

  /** Sends a signal; `exited` then says how long the process took to go. */
  kill(signal: 'SIGKILL' | 'SIGTERM'): void {
    if (!this.alive) return;
    this.signalledAt = performance.now();
    this.child.kill(signal);
  }

  /** Stops the process however it is: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 15_000): Promise<Exit> {
    if (!this.alive) return this.exited;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The shared part of a test cluster: one Kafka topic, one Cassandra keyspace and one Redis key
 * prefix of its own (so concurrent tests never meet), the same JWT key on every node, and no
 * practical per-connection rate limit (these tests send far faster than a person). `start()` adds a
 * node, `connect()` a client socket; `cleanup()` closes the sockets, stops every node and drops the
 * topic, its consumer groups, the keyspace and the keys.
 */
export class ProcessCluster {
  readonly name = uniqueName('ft');
  readonly nodes: ProcessNode[] = [];
  readonly env: Record<string, string>;
  private readonly sockets: TestSocket[] = [];

  constructor(extraEnv: Record<string, string> = {}) {
    this.env = {
      REDIS_URL: backendAddress('REDIS_URL'),
      KAFKA_BROKERS: backendAddress('KAFKA_BROKERS'),
      CASSANDRA_CONTACT_POINTS: backendAddress('CASSANDRA_CONTACT_POINTS'),
      KAFKA_TOPIC: this.name,
      CASSANDRA_KEYSPACE: this.name,
      REDIS_PREFIX: `${this.name}:`,
      JWT_SECRET: TEST_JWT_SECRET,
      HTTP_PORT: '0',
      WS_PORT: '0',
      LOG_PRETTY: 'false',
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      ...extraEnv,
    };
  }

  /** Starts one more node of this cluster; `env` adds to (or overrides) the cluster's. */
  async start(name: string, env: Record<string, string> = {}, options: Omit<StartOptions, 'name'> = {}): Promise<ProcessNode> {
    const node = await ProcessNode.start({ ...this.env, ...env }, { ...options, name });
    this.nodes.push(node);
    return node;
  }

  /** Starts several nodes at once (they race to create the topic and keyspace, as a real rollout would). */
  startAll<const Names extends readonly string[]>(names: Names, env: Record<string, string> = {}): Promise<{ -readonly [K in keyof Names]: ProcessNode }> {
    return Promise.all(names.map((name) => this.start(name, env))) as Promise<{ -readonly [K in keyof Names]: ProcessNode }>;
  }

  /** A client socket to `node` as `user`, closed by cleanup(). */
  async connect(node: ProcessNode, user: TestUser): Promise<TestSocket> {
    const socket = await TestSocket.connect(node.wsUrl, user.accessToken);
    this.sockets.push(socket);
    return socket;
  }

  /** Closes the sockets, stops every node (SIGKILL for any that does not stop) and drops what the cluster made. Never throws. */
  async cleanup(): Promise<void> {
    for (const socket of this.sockets) socket.ws.terminate();
    await Promise.allSettled(this.nodes.map((node) => node.stop(10_000)));
    await Promise.allSettled([this.dropKafka(), this.dropCassandra(), this.dropRedis()]);
  }

  private async dropKafka(): Promise<void> {
    const admin = new kafkajs.Kafka({
      clientId: 'flametalk-test-cleanup', brokers: this.env.KAFKA_BROKERS!.split(','), logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 2 },
    }).admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      // Groups of this topic: the shared ones are named after it, node groups start with it too.
      const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(`${this.name}.`));
      if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
      if ((await admin.listTopics()).includes(this.name)) await admin.deleteTopics({ topics: [this.name] });
    } finally {
      await admin.disconnect();
    }
  }

  private async dropCassandra(): Promise<void> {
    const client = new cassandra.Client({
      contactPoints: this.env.CASSANDRA_CONTACT_POINTS!.split(','),
      localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
      socketOptions: { connectTimeout: 5_000, readTimeout: 30_000 },
    });
    try {
      await client.connect();
      await client.execute(`DROP KEYSPACE IF EXISTS "${this.name}"`);
    } finally {
      await client.shutdown();
    }
  }

  private async dropRedis(): Promise<void> {
    const redis = new Redis(this.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      for await (const keys of redis.scanStream({ match: `${this.env.REDIS_PREFIX}*`, count: 500 }) as AsyncIterable<string[]>) {
        if (keys.length > 0) await redis.unlink(...keys);
      }
    } finally {
      redis.disconnect();
    }
  }
}

/**
 * A room's whole history through one node's HTTP API, page by page (newest first, as served): what
 * people sent, without system messages (a room made with others starts with an INVITE) unless asked.
 */
export async function fullHistory(node: ApiClient, user: TestUser, roomId: string, pageSize = 100, withSystem = false): Promise<Array<Record<string, any>>> {
  const messages: Array<Record<string, any>> = [];
  let before: string | null | undefined;
  for (let page = 0; ; page++) {
    const query = new URLSearchParams({ limit: String(pageSize), ...(before ? { before } : {}) });
    const response = await node.request('GET', `/api/chat/history/${roomId}?${query}`, { token: user.accessToken });
    if (response.status !== 200) throw new Error(`history page ${page}: ${response.status} ${response.body.message}`);
    messages.push(...(response.body.data.messages as Array<Record<string, any>>));
    before = response.body.data.nextCursor as string | null;
    if (!before) return withSystem ? messages : messages.filter((m) => m.messageType === 'TALK' || m.messageType === 'FILE');
    if (page > 10_000) throw new Error('history does not end');
  }
}

/** A room's history through `node` once it holds every one of `messageIds`. */
export function historyHolding(node: ProcessNode, user: TestUser, roomId: string, messageIds: string[], timeoutMs: number): Promise<Array<Record<string, any>>> {
  return waitFor(async () => {
    const messages = await fullHistory(node, user, roomId);
    const ids = new Set(messages.map((m) => m.messageId as string));
    return messageIds.every((id) => ids.has(id)) ? messages : undefined;
  }, `every acked message in history through ${node.name}`, timeoutMs, 250);
}

/** Values that occur more than once. */
export function duplicates<T>(values: Iterable<T>): T[] {
  const seen = new Set<T>();
  const twice = new Set<T>();
  for (const value of values) (seen.has(value) ? twice : seen).add(value);
  return [...twice];
}

/** The p-th percentile (0–100) of some numbers, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Sends messages on one socket at a steady pace until stopped, and records what came back: an ack
 * or an error frame per send (matched by ref, so an answer arriving late is still counted). Sends
 * `${prefix}-${n}` with that as clientMsgId too.
 */
export class ContinuousSender {
  /** Contents of every send issued, in order. */
  readonly issued: string[] = [];
  /** Acked sends by contents: the message id and when the ack arrived (performance.now()). */
  readonly acks = new Map<string, { messageId: string; at: number }>();
  /** Sends answered with an error frame, by contents. */
  readonly errors = new Map<string, Record<string, any>>();
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly socket: TestSocket,
    readonly roomId: string,
    readonly prefix: string,
    readonly options: { everyMs?: number; maxInFlight?: number } = {},
  ) {
    socket.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, any>;
      if (typeof frame.ref !== 'string' || !frame.ref.startsWith(`${prefix}-`)) return;
      if (frame.type === 'ack') this.acks.set(frame.ref, { messageId: frame.messageId, at: performance.now() });
      else if (frame.type === 'error') this.errors.set(frame.ref, frame);
    });
  }

  get open(): boolean {
    return this.socket.ws.readyState === this.socket.ws.OPEN;
  }

  /** Sends neither acked nor refused yet. */
  get inFlight(): number {
    return this.issued.length - this.acks.size - this.errors.size;
  }

  /** Message ids of every acked send. */
  ackedIds(): string[] {
    return [...this.acks.values()].map((ack) => ack.messageId);
  }

  start(): this {
    this.loop ??= (async () => {
      const everyMs = this.options.everyMs ?? 20;
      const maxInFlight = this.options.maxInFlight ?? 100;
      while (!this.stopping && this.open) {
        if (this.inFlight < maxInFlight) {
          const contents = `${this.prefix}-${this.issued.length}`;
          this.issued.push(contents);
          this.socket.send({ type: 'send', ref: contents, roomId: this.roomId, clientMsgId: contents, messageType: 'TALK', contents });
        }
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
    return this;
  }

  /** Stops sending; waits (up to `settleMs`) until every send has its answer or the socket is gone. */
  async stop(settleMs = 45_000): Promise<void> {
    this.stopping = true;
    await this.loop;
    const deadline = Date.now() + settleMs;
    while (this.inFlight > 0 && this.open && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts nodes A and B; Ann (signed up on A) and Bob (on B) share one room. */
export async function twoNodesOneRoom(cluster: ProcessCluster) {
  const [a, b] = await cluster.startAll(['A', 'B']);
  const [ann, bob] = await Promise.all([a.signUp('Ann'), b.signUp('Bob')]);
  const roomId = await a.createRoom(ann, [bob]);
  return { a, b, ann, bob, roomId };
}

/**
 * Each side's user on its node in the room, sending every 20 ms; resolves once every sender has
 * 30 acks, so a fault injected afterwards hits flowing traffic.
 */
export async function startTraffic(
  cluster: ProcessCluster, sides: Array<{ node: ProcessNode; user: TestUser; name: string }>, roomId: string,
): Promise<ContinuousSender[]> {
  const senders: ContinuousSender[] = [];
  for (const { node, user, name } of sides) {
    const socket = await cluster.connect(node, user);
    await socket.join(roomId);
    senders.push(new ContinuousSender(socket, roomId, name, { everyMs: 20 }));
  }
  for (const sender of senders) sender.start();
  await waitFor(() => senders.every((s) => s.acks.size >= 30), 'traffic flowing', 30_000);
  return senders;
}
