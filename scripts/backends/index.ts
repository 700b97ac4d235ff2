import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cassandraSpec } from './cassandra.ts';
import {
  type BackendSpec, type Log, START_MARK, defaultLog, failure, isOurProcess, isPortOpen, readPid,
  spawnDetached, stopProcess, tail, waitForPortClosed, waitReady, withLock,
} from './common.ts';
import { kafkaSpec } from './kafka.ts';
import { s3mockSpec } from './s3mock.ts';

export type BackendName = 'kafka' | 'cassandra' | 's3mock';
export const BACKENDS: readonly BackendName[] = ['kafka', 'cassandra', 's3mock'];

export interface RunningBackend {
  name: BackendName;
  env: Record<string, string>;
  startedHere: boolean;
  stop(): Promise<void>;
}

export interface StartOptions { log?: Log; timeoutMs?: number }

const DEFAULT_TIMEOUT_MS: Record<BackendName, number> = { kafka: 90_000, cassandra: 180_000, s3mock: 90_000 };

function spec(name: BackendName): BackendSpec {
  // Built per call so port overrides in process.env are honoured.
  return name === 'kafka' ? kafkaSpec() : name === 'cassandra' ? cassandraSpec() : s3mockSpec();
}

async function logTails(s: BackendSpec): Promise<string> {
  const parts: string[] = [];
  for (const file of s.logFiles) parts.push(`==> ${file} <==\n${await tail(file, 30)}`);
  return parts.join('\n');
}

/** Pid of the instance these scripts started, if it is still alive. */
async function ourPid(s: BackendSpec): Promise<number | undefined> {
  const pid = await readPid(s.pidFile);
  return pid !== undefined && (await isOurProcess(pid, s.marker)) ? pid : undefined;
}

export async function startBackend(name: BackendName, opts: StartOptions = {}): Promise<RunningBackend> {
  const log = opts.log ?? defaultLog;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS[name];
  const s = spec(name);
  const notOurs = (): RunningBackend => ({ name, env: s.env, startedHere: false, stop: async () => {} });

  return withLock(s.dir, async () => {
    const running = await ourPid(s);
    if (running !== undefined || (await isPortOpen(s.host, s.port))) {
      const what = running !== undefined ? `pid ${running} from an earlier start` : `something on ${s.host}:${s.port}`;
      log(`${name}: already running (${what}); waiting until it answers`);
      const alive = async () => running === undefined || (await isOurProcess(running, s.marker));
      const reason = await waitReady(s.probe, alive, timeoutMs);
      if (reason) throw failure(`${name} readiness`, `${what} is ${reason}`, await logTails(s));
      return notOurs();
    }
    for (const port of s.otherPorts) {
      if (await isPortOpen(s.host, port)) {
        throw failure(`${name} start`, `port ${s.host}:${port} is taken by another process; free it or change the port variables`);
      }
    }

    const jarDir = await s.fetch(log);
    const argv = await s.prepare(jarDir, log);
    for (const file of s.logFiles) await appendFile(file, `${START_MARK} ${new Date().toISOString()} ----\n`);
    const t0 = Date.now();
    const pid = spawnDetached(argv, { cwd: s.dir, logFile: s.logFiles[s.logFiles.length - 1] ?? join(s.dir, 'stdout.log') });
    await writeFile(s.pidFile, `${pid}\n`);
    log(`${name}: started pid ${pid}, waiting for ${s.host}:${s.port}`);

    const probe = async () => (await isPortOpen(s.host, s.port)) && s.probe();
    const reason = await waitReady(probe, () => isOurProcess(pid, s.marker), timeoutMs);
    if (reason) {
      const logs = await logTails(s);
      await stopProcess(pid, s.marker, 5_000, log);
      await rm(s.pidFile, { force: true });
      throw failure(`${name} start`, `pid ${pid} ${reason} (logs in ${join(s.dir, 'logs')})`, logs);
    }
    log(`${name}: ready on ${s.host}:${s.port} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { name, env: s.env, startedHere: true, stop: () => stopBackend(name, { log }) };
  });
}

async function stopUnlocked(name: BackendName, s: BackendSpec, log: Log): Promise<void> {
  const pid = await ourPid(s);
  if (pid === undefined) {
    await rm(s.pidFile, { force: true });
    return;
  }
  const t0 = Date.now();
  await stopProcess(pid, s.marker, s.stopGraceMs, log);
  await rm(s.pidFile, { force: true });
  if (!(await waitForPortClosed(s.host, s.port, 10_000))) {
    throw failure(`${name} stop`, `pid ${pid} exited but ${s.host}:${s.port} still accepts connections`);
  }
  log(`${name}: stopped pid ${pid} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Stops an instance started by these scripts (found by pid file); a no-op otherwise. */
export async function stopBackend(name: BackendName, opts: { log?: Log } = {}): Promise<void> {
  const s = spec(name);
  await withLock(s.dir, () => stopUnlocked(name, s, opts.log ?? defaultLog));
}

/** Downloads the jars only. */
export async function fetchBackend(name: BackendName, opts: { log?: Log } = {}): Promise<string> {
  return spec(name).fetch(opts.log ?? defaultLog);
}

/** Stops our instance if running, then deletes its data and logs. */
export async function resetBackend(name: BackendName, opts: { log?: Log } = {}): Promise<void> {
  const log = opts.log ?? defaultLog;
  const s = spec(name);
  await withLock(s.dir, async () => {
    await stopUnlocked(name, s, log);
    if (await isPortOpen(s.host, s.port)) {
      log(`${name}: warning: ${s.host}:${s.port} is served by a process these scripts did not start; it is untouched`);
    }
    await rm(join(s.dir, 'data'), { recursive: true, force: true });
    await rm(join(s.dir, 'logs'), { recursive: true, force: true });
    log(`${name}: data wiped`);
  });
}

export interface BackendStatus {
  name: BackendName;
  pid: number | undefined;
  portOpen: boolean;
  ready: boolean;
  env: Record<string, string>;
}

export async function backendStatus(name: BackendName): Promise<BackendStatus> {
  const s = spec(name);
  const pid = await ourPid(s);
  const portOpen = await isPortOpen(s.host, s.port);
  const ready = portOpen && (await s.probe());
  return { name, pid, portOpen, ready, env: s.env };
}
