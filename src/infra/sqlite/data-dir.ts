import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

/*
 * The data directory of an embedded node: its SQLite database, the lock that keeps a second
 * process out, and the JWT key that keeps tokens valid across restarts.
 */

export const LOCK_FILE = 'flametalk.lock';
export const JWT_KEY_FILE = 'jwt.key';

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`data directory ${dataDir} is in use by another flametalk process (pid ${pid}, lock file ${join(dataDir, LOCK_FILE)}): ` +
      'stop that process or set DATA_DIR to another directory');
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  /** Absolute path of the directory. */
  dataDir: string;
  /** Removes the lock file (only while it still names this process). */
  release(): void;
}

/** Directories this process holds, so that its own pid in a lock file can be told from a stale one (pid 1 in a restarted container). */
const heldHere = new Set<string>();

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Creates the lock file holding this pid; false when it exists. */
function createLock(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Creates the directory when missing and takes its lock: a file holding this process's pid,
 * created exclusively. A lock naming a live process is refused (DataDirLockedError); one left by
 * a process that died (kill -9, power loss) is taken over. Liveness is judged by pid alone, so a
 * dead holder whose pid was reused by an unrelated process reads as alive: the message names the
 * pid and the file, so an operator can check and delete it.
 */
export function lockDataDir(dir: string): DataDirLock {
  const dataDir = resolve(dir);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot use data directory ${dataDir}: ${(error as Error).message}`, { cause: error });
  }
  const file = join(dataDir, LOCK_FILE);
  if (heldHere.has(dataDir)) throw new DataDirLockedError(dataDir, process.pid);
  for (let attempt = 0; ; attempt++) {
    if (createLock(file)) break;
    const holder = lockHolder(file);
    if (holder !== undefined && holder !== process.pid && alive(holder)) throw new DataDirLockedError(dataDir, holder);
    if (attempt >= 3) throw new Error(`cannot take the lock ${file}: it keeps coming back; is another process starting on ${dataDir}?`);
    // No pid yet may be a process that created the file and is writing it this instant: look again once.
    if (holder === undefined && attempt === 0) {
      pause(50);
      continue;
    }
    // A stale lock: its process is gone.
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  heldHere.add(dataDir);
  let released = false;
  return {
    dataDir,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(dataDir);
      if (lockHolder(file) === process.pid) unlinkSync(file);
    },
  };
}

export interface LoadedSecret {
  secret: string;
  /** `generated`: created now (first start); `data-dir`: read from jwt.key. */
  source: 'generated' | 'data-dir';
  /** Where the key lives. */
  file: string;
}

/**
 * The HS256 key of an embedded node: 32 random bytes, kept base64url-encoded in jwt.key (mode
 * 0600), so that the same text can become JWT_SECRET when the node moves to cluster mode and
 * issued tokens stay valid. Written to a temporary file and renamed, so a crash never leaves a
 * half-written key.
 */
export function loadOrCreateSecret(dir: string): LoadedSecret {
  const dataDir = resolve(dir);
  const file = join(dataDir, JWT_KEY_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) {
    const secret = text.trim();
    if (secret.length < 32) {
      throw new Error(`${file} holds no usable JWT key (at least 32 characters expected): ` +
        'restore it from a backup, or delete it to generate a new one (every issued token then stops working)');
    }
    // The key signs every token: never leave it readable by others.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { secret, source: 'data-dir', file };
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  const temporary = `${file}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${secret}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  return { secret, source: 'generated', file };
}
