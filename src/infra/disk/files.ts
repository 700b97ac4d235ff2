import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { assertKey, type ByteRange, type FileStore, type StoredObject } from '../ports/files.ts';

/**
 * Embedded mode's FileStore: one file per key under a directory (DATA_DIR/files). An upload is
 * written to a temporary name and renamed into place only once complete, so a cut-off or
 * oversized upload never leaves a partial file under its key.
 */
export class DiskFileStore implements FileStore {
  private readonly dir: string;
  private made: Promise<unknown> | undefined;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  private path(key: string): string {
    assertKey(key);
    return join(this.dir, key);
  }

  async put(key: string, body: Readable, _contentType: string): Promise<number> {
    const target = this.path(key);
    // Created on the first upload, so nodes that never store a file leave no directory behind.
    await (this.made ??= mkdir(this.dir, { recursive: true }));
    const partial = join(this.dir, `.${key}.${randomBytes(6).toString('hex')}.part`);
    const out = createWriteStream(partial, { flags: 'wx' });
    try {
      await pipeline(body, out);
      await rename(partial, target);
    } catch (error) {
      body.destroy();
      await rm(partial, { force: true });
      throw error;
    }
    return out.bytesWritten;
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    const size = await this.size(key);
    if (size === undefined) return undefined;
    const body = createReadStream(this.path(key), range ? { start: range.start, end: range.end } : {});
    return { body, size };
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const info = await stat(this.path(key));
      return info.isFile() ? info.size : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
