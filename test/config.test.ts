import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readmeWithGeneratedParts } from '../scripts/readme.ts';
import { ConfigError, isClusterMode, loadConfig } from '../src/config/load.ts';

const root = join(import.meta.dirname, '..');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
}

describe('configuration', () => {
  it('defaults to embedded mode on 8080/8081 with the SPEC limits', () => {
    const config = loadConfig({});
    assert.equal(isClusterMode(config), false);
    assert.deepEqual(
      [config.host, config.httpPort, config.wsPort, config.maxFrameBytes, config.maxTextLength, config.rateLimitPerSecond, config.rateLimitBurst, config.maxJoinedRooms, config.maxBufferedBytes],
      ['127.0.0.1', 8080, 8081, 65_536, 4_000, 20, 40, 100, 1_048_576],
    );
  });

  it('reads typed values from the environment', () => {
    const config = loadConfig({ HTTP_PORT: '0', KAFKA_BROKERS: 'a:9092, b:9093', LOG_PRETTY: 'false', JWT_SECRET: 'x'.repeat(32), REDIS_URL: 'redis://r:6379' });
    assert.equal(config.httpPort, 0);
    assert.deepEqual(config.kafkaBrokers, ['a:9092', 'b:9093']);
    assert.equal(config.logPretty, false);
    assert.equal(isClusterMode(config), true);
  });

  it('gives every bad value its own message naming the variable', () => {
    const found = problems({
      HTTP_PORT: '99999', WS_PORT: 'eighty', LOG_LEVEL: 'loud', KAFKA_BROKERS: 'localhost', REDIS_URL: 'http://x',
      MAX_FRAME_BYTES: '0', LOG_PRETTY: 'sometimes', JWT_SECRET: 'short',
    });
    const expected = ['HTTP_PORT', 'WS_PORT', 'LOG_LEVEL', 'KAFKA_BROKERS', 'REDIS_URL', 'MAX_FRAME_BYTES', 'LOG_PRETTY', 'JWT_SECRET'];
    assert.equal(found.length, expected.length, found.join('\n'));
    for (const variable of expected) assert.ok(found.some((p) => p.startsWith(`${variable} `)), `${variable} in ${found.join('; ')}`);
    assert.ok(!found.join('\n').includes('short'), 'the secret is never echoed');
    assert.match(found.find((p) => p.startsWith('LOG_LEVEL'))!, /one of fatal, error, warn, info/);
  });

  it('refuses cluster mode without a shared JWT key', () => {
    assert.match(problems({ KAFKA_BROKERS: 'k:9092' }).join('\n'), /JWT_SECRET .*required in cluster mode/);
    assert.deepEqual(problems({ RATE_LIMIT_PER_SECOND: '50', RATE_LIMIT_BURST: '10' }).length, 1);
  });

  it('lets embedding code override the environment', () => {
    assert.equal(loadConfig({ HTTP_PORT: '1' }, { httpPort: 2 }).httpPort, 2);
    assert.throws(() => loadConfig({}, { httpPort: -1 }), /HTTP_PORT \(httpPort\)/);
  });

  it('keeps the README configuration table and Cassandra schema generated from the code', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    assert.equal(readme, readmeWithGeneratedParts(readme), 'README is stale: run `npm run docs`');
  });

  it('exits non-zero with the message when started with a bad value', async () => {
    const { code, stderr } = await run({ HTTP_PORT: 'nope', WS_PORT: '70000' });
    assert.equal(code, 1);
    assert.match(stderr, /HTTP_PORT \(httpPort\) must be integer/);
    assert.match(stderr, /WS_PORT \(wsPort\) must be <= 65535/);
  });

  it('refuses to start on uWebSockets.js\'s slow JavaScript fallback', async () => {
    const { code, stderr } = await run({ HTTP_PORT: '0', WS_PORT: '0', UWS_USE_FALLBACK: '1' });
    assert.equal(code, 1);
    assert.match(stderr, /uWebSockets\.js did not load its native binary/);
  });

  it('starts with no configuration at all and stops on SIGTERM', async () => {
    let signalled = false;
    const dataDir = mkdtempSync(join(tmpdir(), 'flametalk-config-'));
    const { code, stdout } = await run({ HTTP_PORT: '0', WS_PORT: '0', DATA_DIR: dataDir }, (child, out) => {
      if (!signalled && out.includes('flametalk listening')) signalled = child.kill('SIGTERM');
    });
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(code, 0);
    assert.match(stdout, /"mode":"embedded"/);
    assert.ok(stdout.includes(`"dataDir":${JSON.stringify(dataDir)}`), 'the startup line names the data directory');
    assert.match(stdout, /generated a JWT key and kept it in the data directory/);
  });
});

/** Runs the real entry point with a clean environment (only PATH and the given variables). */
function run(env: Record<string, string>, onOutput?: (child: ReturnType<typeof spawn>, stdout: string) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts')], {
      cwd: root, env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      onOutput?.(child, stdout);
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
