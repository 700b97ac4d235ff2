import type { Readable } from 'node:stream';

/** A byte range, both ends inclusive (as in HTTP's Range header). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredObject {
  /** The bytes asked for: the whole object, or the range. */
  body: Readable;
  /** The whole object's size. */
  size: number;
}

/**
 * The bytes of uploaded files, by key. Drivers hold I/O only: the file service decides the keys,
 * the limits and who may read what.
 */
export interface FileStore {
  /**
   * Streams `body` into `key` and resolves with the bytes written. If `body` errors (the upload
   * was cut off, or went over a limit) it rejects with that error and nothing is left under `key`.
   */
  put(key: string, body: Readable, contentType: string): Promise<number>;
  /** undefined when there is no such object. A range must lie within the object. */
  get(key: string, range?: ByteRange): Promise<StoredObject | undefined>;
  /** The object's size, or undefined when there is none. */
  size(key: string): Promise<number | undefined>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Reachable right now (for readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Keys are file ids: a safe subset, so that no driver ever sees a path or URL trick. */
export const FILE_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertKey(key: string): void {
  if (!FILE_KEY.test(key)) throw new Error(`invalid file key ${JSON.stringify(key)}`);
}
