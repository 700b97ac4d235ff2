import { spawn } from 'node:child_process';
import { lines, MavenProgress } from './maven-progress.ts';
import { openSync, closeSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, writeFile, readdir, open } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Log = (line: string) => void;

export const defaultLog: Log = (line) => console.error(`[backends] ${line}`);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function stateDir(name: string): string {
  return join(repoRoot, '.backends', name);
}

export function jarCacheRoot(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'flametalk', 'jars');
}

export function envPort(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`${variable}=${raw} is not a valid TCP port`);
  }
  return port;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export const START_MARK = '---- flametalk backends: starting';

/** Last lines of a log file, only from the latest start (see START_MARK). */
export async function tail(path: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    const fromMark = text.slice(Math.max(0, text.lastIndexOf(START_MARK)));
    return fromMark.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

export function failure(step: string, detail: string, logText?: string): Error {
  const body = logText ? `\n--- last log lines ---\n${logText}\n----------------------` : '';
  return new Error(`${step}: ${detail}${body}`);
}

// ---------------------------------------------------------------- processes

export interface RunResult { code: number | null; output: string }

export function run(cmd: string, args: string[], opts: { cwd?: string; onLine?: (line: string) => void } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const split = opts.onLine ? lines(opts.onLine) : undefined;
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      split?.(d);
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

export function javaBin(): string {
  const home = process.env['JAVA_HOME'];
  return home ? join(home, 'bin', 'java') : 'java';
}

export async function javaMajorVersion(): Promise<number> {
  const { output } = await run(javaBin(), ['-version']);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) throw new Error(`cannot tell the Java version from: ${output.trim()}`);
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

/** Starts a process in its own session so a dying parent (or its Ctrl-C) leaves it alone. */
export function spawnDetached(argv: string[], opts: { cwd: string; logFile: string }): number {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command line');
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    // Without a listener a spawn failure (ENOENT) would crash the caller.
    child.on('error', () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True if pid is a live (non-zombie) process whose command line contains `marker`. */
export async function isOurProcess(pid: number, marker: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, marker: string, graceMs: number, log: Log): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch { /* already gone */ }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (await isOurProcess(pid, marker)) {
    if (Date.now() > deadline) {
      log(`pid ${pid} still running ${graceMs} ms after SIGTERM, sending SIGKILL`);
      signal('SIGKILL');
      while (await isOurProcess(pid, marker)) await sleep(100);
      return;
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------- network

export function isPortOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPortClosed(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isPortOpen(host, port, 500)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Polls `probe` until it succeeds. Gives up early if `alive` says the process died.
 * Returns undefined on success, else a reason.
 */
export async function waitReady(
  probe: () => Promise<boolean>,
  alive: () => Promise<boolean>,
  timeoutMs: number,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await alive())) return 'exited before it was ready';
    if (await probe()) return undefined;
    if (Date.now() > deadline) return `not ready after ${(timeoutMs / 1000).toFixed(1)} s (raise timeoutMs if the machine is just slow)`;
    await sleep(250);
  }
}

// ---------------------------------------------------------------- locking

/** Serialises start/stop/reset of one backend across processes (parallel test workers). */
export async function withLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lockFile = join(dir, 'lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readPid(lockFile);
      if (holder === undefined || !(await isOurProcess(holder, ''))) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lockFile} held by pid ${holder} for too long`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}

// ---------------------------------------------------------------- maven

export interface Artifact { group: string; artifact: string; version: string }

function pomFor(id: string, deps: Artifact[]): string {
  const items = deps
    .map((d) => `    <dependency><groupId>${d.group}</groupId><artifactId>${d.artifact}</artifactId><version>${d.version}</version></dependency>`)
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>flametalk.backends</groupId>
  <artifactId>${id}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${items}
  </dependencies>
</project>
`;
}

const MARKER = '.complete';
/** A progress line this often while Maven downloads; BACKENDS_PROGRESS_MS overrides it (tests). */
const PROGRESS_EVERY_MS = Number(process.env['BACKENDS_PROGRESS_MS'] ?? '') || 5_000;

/**
 * Copies the runtime jars of `deps` into the shared cache dir `<cache>/<id>/`.
 * Works in a temp dir and renames it into place, so a half-finished copy is never used.
 */
export async function fetchJars(id: string, deps: Artifact[], log: Log): Promise<string> {
  const root = jarCacheRoot();
  const dir = join(root, id);
  if (await exists(join(dir, MARKER))) return dir;
  await mkdir(root, { recursive: true });
  await cleanStaleTemps(root, id);
  const work = join(root, `${id}.tmp-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  const jars = join(work, 'jars');
  await mkdir(jars, { recursive: true });
  await writeFile(join(work, 'pom.xml'), pomFor(id, deps));
  log(`fetching ${id} from Maven Central into ${dir} (first time only)`);
  const started = Date.now();
  // Not -q: the transfer lines are what the progress is read from (batch mode prints one per finished file).
  const progress = new MavenProgress();
  const ticker = setInterval(() => log(progress.line(id, (Date.now() - started) / 1000)), PROGRESS_EVERY_MS);
  const { code, output } = await run('mvn', [
    '-B', '-Dstyle.color=never', '-f', join(work, 'pom.xml'),
    'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies',
    `-DoutputDirectory=${jars}`, '-DincludeScope=runtime',
  ], { onLine: (line) => progress.feed(line) }).finally(() => clearInterval(ticker));
  const copied = (await readdir(jars)).filter((f) => f.endsWith('.jar'));
  if (code !== 0 || copied.length === 0) {
    await rm(work, { recursive: true, force: true });
    const lastLines = output.trimEnd().split('\n').slice(-30).join('\n');
    throw failure(`fetch ${id}`, `mvn copy-dependencies failed (exit ${code}); is Maven Central reachable?`, lastLines);
  }
  await writeFile(join(jars, MARKER), `${copied.length} jars, ${new Date().toISOString()}\n`);
  if (!(await exists(join(dir, MARKER)))) await rm(dir, { recursive: true, force: true });
  try {
    await rename(jars, dir);
  } catch (err) {
    // Another process finished the same copy first; theirs is as good as ours.
    if (!(await exists(join(dir, MARKER)))) throw err;
  }
  await rm(work, { recursive: true, force: true });
  const downloaded = progress.files > 0 ? `, ${(progress.bytes / 1e6).toFixed(1)} MB downloaded` : '';
  log(`fetched ${copied.length} jars for ${id} in ${((Date.now() - started) / 1000).toFixed(1)} s${downloaded}`);
  return dir;
}

async function cleanStaleTemps(root: string, id: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const m = new RegExp(`^${id.replace(/\./g, '\\.')}\\.tmp-(\\d+)$`).exec(entry);
    if (m && !(await isOurProcess(Number(m[1]), ''))) {
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}

// ---------------------------------------------------------------- backend description

/** What the generic lifecycle in index.ts needs to know about one backend. */
export interface BackendSpec {
  host: string;
  port: number;
  /** Ports besides `port` that must be free before starting. */
  otherPorts: number[];
  env: Record<string, string>;
  dir: string;
  pidFile: string;
  /** A string in the JVM's command line (the config path) that proves a pid is ours. */
  marker: string;
  logFiles: string[];
  stopGraceMs: number;
  fetch(log: Log): Promise<string>;
  /** Writes configs (and formats storage); returns the command line, executable first. */
  prepare(jarDir: string, log: Log): Promise<string[]>;
  /** One readiness attempt beyond the open port; never throws. */
  probe(): Promise<boolean>;
}
