import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OutageProxy } from './support/outage-proxy.ts';
import { waitFor } from './support/wait.ts';

const root = join(import.meta.dirname, '..');
const JWT_SECRET = 'startup-test-secret-that-is-long-enough!';

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; ms: number }>;
}

/** The real server process (`src/main.ts`), as `npm start` runs it, with only `env` set. */
function start(env: Record<string, string>): Run {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', HTTP_PORT: '0', WS_PORT: '0', JWT_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => child.on('exit', (code) => {
    clearTimeout(killer);
    resolve({ code, ms: Date.now() - started });
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

describe('startup failures name the backend and the variable', { timeout: 120_000 }, () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['Redis', { REDIS_URL: 'redis://127.0.0.1:1' }, /^flametalk: could not reach Redis at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\): connect ECONNREFUSED 127\.0\.0\.1:1\n$/],
    ['Kafka', { KAFKA_BROKERS: '127.0.0.1:1' }, /^flametalk: could not reach Kafka at 127\.0\.0\.1:1 \(KAFKA_BROKERS\): 127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\n$/],
    ['Cassandra', { CASSANDRA_CONTACT_POINTS: '127.0.0.1:1' }, /^flametalk: could not reach Cassandra at 127\.0\.0\.1:1 \(CASSANDRA_CONTACT_POINTS\): .*ECONNREFUSED 127\.0\.0\.1:1\)?\n$/],
  ];
  for (const [backend, env, expected] of cases) {
    it(`${backend}: exits non-zero in under 15 s with one line and no stack trace`, async () => {
      const run = start(env);
      const { code, ms } = await run.exited;
      assert.notEqual(code, 0);
      assert.ok(ms < 15_000, `exited after ${ms} ms`);
      assert.match(run.stderr(), expected);
      assert.doesNotMatch(run.stderr() + run.stdout(), /^\s+at /m, 'no stack trace');
    });
  }

  it('hides the password of a Redis URL', async () => {
    const run = start({ REDIS_URL: 'redis://:hunter2@127.0.0.1:1/0' });
    await run.exited;
    assert.match(run.stderr(), /could not reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 \(REDIS_URL\)/);
    assert.doesNotMatch(run.stderr(), /hunter2/);
  });
});

describe('Redis connection errors after the start', { timeout: 60_000 }, () => {
  it('go to the pino log, not to stderr', async () => {
    const proxy = new OutageProxy({ host: '127.0.0.1', port: 6379 });
    await proxy.up();
    const run = start({ REDIS_URL: `redis://127.0.0.1:${proxy.listenPort}`, REDIS_PREFIX: `startup-test-${process.pid}:` });
    try {
      await waitFor(() => run.stdout().includes('flametalk listening'), 'the server to start', 30_000, 50);
      await proxy.down();
      await waitFor(() => /Redis \([a-z ]+\) connection error/.test(run.stdout()), 'a logged Redis error', 15_000, 50);
      const logged = run.stdout().split('\n').filter((line) => line.includes('connection error')).map((line) => JSON.parse(line) as { level: number; component?: string });
      assert.ok(logged.every((line) => line.level === 40 && line.component === 'redis'), 'warn-level lines of the redis component');
      assert.doesNotMatch(run.stderr(), /ioredis|Unhandled error event/);
    } finally {
      run.child.kill('SIGKILL');
      await run.exited;
      await proxy.down();
    }
  });
});
