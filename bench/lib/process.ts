import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/** Processes of a benchmark run, each pinned to one core with taskset. */

const CORES = (() => {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return 1;
  }
})();

/** Core layout: the server under test gets core 1, the load generator (and this harness) core 0. */
export const SERVER_CORE = CORES > 1 ? 1 : 0;
export const GENERATOR_CORE = 0;
export const pinning = CORES > 1;

/** Pins every thread of this process (the harness) to the generator's core. */
export function pinSelf(core = GENERATOR_CORE): void {
  if (!pinning) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

export interface PinnedOptions {
  core: number;
  env?: NodeJS.ProcessEnv;
  /** Every output line is written here. */
  logFile?: string;
  /** Adds an IPC channel (the child must be a Node process). */
  ipc?: boolean;
  cwd?: string;
}

/** Lines that look like pino warnings/errors or stack traces, kept for the report. */
const notable = (line: string): boolean => (line.startsWith('{') ? /"level":(40|50|60)\b/.test(line) : /error|warn|exception/i.test(line));

/** Every process this harness started and that has not exited yet. */
const running = new Set<PinnedProcess>();

/** Kills what this harness started (on Ctrl-C): servers and generators never outlive a run. */
export function killAll(): void {
  for (const proc of running) proc.child.kill('SIGKILL');
}

export class PinnedProcess {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Warnings and errors the process printed (first 20), and how many. */
  readonly notable: string[] = [];
  notableCount = 0;
  private readonly listeners = new Set<(line: string) => void>();
  private readonly log: WriteStream | undefined;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly name: string, readonly child: ChildProcess, logFile?: string) {
    if (child.pid === undefined) throw new Error(`${name}: could not start`);
    this.pid = child.pid;
    if (logFile) {
      mkdirSync(dirname(logFile), { recursive: true });
      this.log = createWriteStream(logFile);
    }
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    running.add(this);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      running.delete(this);
      this.exitInfo = { code, signal };
      resolve(this.exitInfo);
    }));
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  private onLine(line: string): void {
    this.log?.write(`${line}\n`);
    if (notable(line)) {
      this.notableCount++;
      if (this.notable.length < 20) this.notable.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
    }
    for (const listener of this.listeners) listener(line);
  }

  /** Resolves with the first output line for which `match` returns a value. */
  waitFor<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (line: string): void => {
        const value = match(line);
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; last output: ${this.notable.slice(-3).join(' | ')}`));
      }, timeoutMs);
      this.listeners.add(listener);
      this.exited.then((exit) => {
        if (!this.listeners.has(listener)) return;
        done();
        reject(new Error(`${this.name}: exited (${exit.code ?? exit.signal}) before ${what}; output: ${this.notable.slice(-5).join(' | ')}`));
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.log && !this.log.writableEnded) this.log.end();
    return this.exitInfo!;
  }
}

/** Starts `node <args>` pinned to `options.core` (taskset execs node, so the pid is node's). */
export function spawnNode(name: string, args: string[], options: PinnedOptions): PinnedProcess {
  const stdio: StdioOptions = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const command = pinning ? 'taskset' : process.execPath;
  const argv = pinning ? ['-c', String(options.core), process.execPath, ...args] : args;
  const child = spawn(command, argv, { stdio, env: options.env ?? process.env, cwd: options.cwd });
  return new PinnedProcess(name, child, options.logFile);
}

/** Parses a JSON line, or undefined. */
export function jsonLine(line: string): Record<string, any> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, any>;
  } catch {
    return undefined;
  }
}
