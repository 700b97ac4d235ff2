// `npm test`: the whole suite against real backends. Redis must run (REDIS_URL, default
// 127.0.0.1:6379); Kafka, Cassandra and S3Mock are started from Maven Central jars unless
// KAFKA_BROKERS / CASSANDRA_CONTACT_POINTS / S3_ENDPOINT point at running ones, and stopped afterwards.
// Fault-injection tests (test/faults) restart backends, so they run after the rest, one at a time.
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { startBackend, type RunningBackend } from './backends/index.ts';

const root = join(import.meta.dirname, '..');
const log = (line: string): void => console.error(`[test] ${line}`);

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

async function requireRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${url} (${(error as Error).message}). The integration tests need it: start it with\n` +
        '  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no\n' +
        'or set REDIS_URL to a running Redis.',
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Longest one run of node's test runner may take. The main run takes about 10 minutes here, the fault
 * run about 6; a test process that never exits (something it opened still running) would otherwise
 * hang CI for good.
 */
const RUN_LIMIT_MS = 30 * 60_000;
let interrupted = false;

/** Runs node's test runner; resolves the number of failed and skipped tests it reported. */
async function runTests(files: string[], env: NodeJS.ProcessEnv, concurrency: number, tapFile: string, fileTimeoutMs: number): Promise<{ code: number; skipped: number }> {
  if (files.length === 0) return { code: 0, skipped: 0 };
  const args = [
    // A file that hangs fails by name after fileTimeoutMs instead of holding the whole run until RUN_LIMIT_MS.
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${fileTimeoutMs}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  const code = await new Promise<number>((resolve) => {
    // Its own process group, so that a hung run is killed with every test process it started.
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit', detached: true });
    const limit = setTimeout(() => {
      log(`FAILED: the tests did not finish within ${RUN_LIMIT_MS / 60_000} minutes (a test process that does not exit is the usual cause); killing them`);
      process.kill(-child.pid!, 'SIGKILL');
    }, RUN_LIMIT_MS);
    // Ctrl-C reaches only this process now: pass it on, then stop the backends as usual.
    const interrupt = (): void => {
      interrupted = true;
      process.kill(-child.pid!, 'SIGTERM');
    };
    process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
    child.on('exit', (status, signal) => {
      clearTimeout(limit);
      process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
      resolve(status ?? (signal ? 1 : 0));
    });
  });
  const tap = await readFile(tapFile, 'utf8').catch(() => '');
  const skipped = Number(/^# skipped (\d+)$/m.exec(tap)?.[1] ?? 0) + Number(/^# todo (\d+)$/m.exec(tap)?.[1] ?? 0);
  return { code, skipped };
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379' };
  const started: RunningBackend[] = [];
  try {
    await requireRedis(env.REDIS_URL!);
    const wanted = [
      ['kafka', 'KAFKA_BROKERS'],
      ['cassandra', 'CASSANDRA_CONTACT_POINTS'],
      ['s3mock', 'S3_ENDPOINT'],
    ] as const;
    const missing = wanted.filter(([, variable]) => !env[variable]);
    // One retry: a JVM start has failed once in a while on a busy machine (twice in a day here,
    // each time fine on the next try); the first error is printed so a pattern can be found.
    const start = (name: 'kafka' | 'cassandra' | 's3mock') => startBackend(name, { log }).catch((error: unknown) => {
      log(`${name} did not start (${error instanceof Error ? error.message : String(error)}); trying once more`);
      return startBackend(name, { log });
    });
    const backends = await Promise.all(missing.map(([name]) => start(name)));
    for (const backend of backends) {
      started.push(backend);
      Object.assign(env, backend.env);
    }
    log(`backends: Redis ${env.REDIS_URL}, Kafka ${env.KAFKA_BROKERS}, Cassandra ${env.CASSANDRA_CONTACT_POINTS}, S3 ${env.S3_ENDPOINT}`);

    const all = only.length > 0 ? only : await testFiles(join(root, 'test'));
    const faults = all.filter((f) => f.split('/').includes('faults'));
    const rest = all.filter((f) => !faults.includes(f));
    // The directory exists only once backends were started here; runs against running ones need it too.
    await mkdir(join(root, '.backends'), { recursive: true });
    const tapFile = join(root, '.backends', 'last-run.tap');
    const main = await runTests(rest, env, 2, tapFile, 5 * 60_000);
    const faulty = interrupted ? { code: 1, skipped: 0 } : await runTests(faults, env, 1, `${tapFile}.faults`, 10 * 60_000);
    await rm(`${tapFile}.faults`, { force: true });

    const skipped = main.skipped + faulty.skipped;
    if (main.code !== 0 || faulty.code !== 0) {
      log('FAILED');
      return 1;
    }
    if (skipped > 0) {
      log(`FAILED: ${skipped} test(s) were skipped; the suite runs everything against real backends`);
      return 1;
    }
    log(`passed: ${rest.length + faults.length} files, integration tests ran against real Redis, Kafka, Cassandra and S3Mock, none skipped`);
    return 0;
  } finally {
    for (const backend of started.reverse()) {
      if (backend.startedHere) await backend.stop().catch((error: unknown) => log(`stopping ${backend.name} failed: ${String(error)}`));
    }
  }
}

main().then((code) => process.exit(code), (error: unknown) => {
  log(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
