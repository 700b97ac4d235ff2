import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FileStore } from '../../src/infra/ports/files.ts';

const key = (): string => `k${randomUUID().replaceAll('-', '')}`;

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of `data` in small chunks, failing with `error` after `failAfter` bytes when given. */
function source(data: Buffer, failAfter?: number, error = new Error('the upload was cut off')): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (failAfter !== undefined && offset >= failAfter) return void this.destroy(error);
      if (offset >= data.length) return void this.push(null);
      const end = Math.min(offset + 256 * 1024, data.length, failAfter ?? Infinity);
      this.push(data.subarray(offset, end));
      offset = end;
    },
  });
}

/** One suite for every FileStore driver: `makeStore` opens a fresh (or uniquely keyed) store. */
export function fileStoreConformance(driver: string, makeStore: () => Promise<FileStore>): void {
  describe(`FileStore conformance: ${driver}`, { timeout: 120_000 }, () => {
    let store: FileStore;
    before(async () => {
      store = await makeStore();
    });
    after(async () => store?.close());

    it('stores a small file and reads it back whole and by range', async () => {
      const k = key();
      const data = Buffer.from('hello, flametalk files');
      assert.equal(await store.put(k, source(data), 'text/plain'), data.length);
      assert.equal(await store.size(k), data.length);
      const whole = await store.get(k);
      assert.equal(whole!.size, data.length);
      assert.deepEqual(await bytes(whole!.body), data);
      const part = await store.get(k, { start: 7, end: 15 });
      assert.equal(part!.size, data.length, 'size is the whole object\'s');
      assert.equal((await bytes(part!.body)).toString(), 'flametalk');
    });

    it('streams a file of several parts byte for byte (9 MB)', async () => {
      const k = key();
      const data = randomBytes(9 * 1024 * 1024);
      assert.equal(await store.put(k, source(data), 'application/octet-stream'), data.length);
      assert.ok((await bytes((await store.get(k))!.body)).equals(data));
      const tail = await store.get(k, { start: data.length - 10, end: data.length - 1 });
      assert.ok((await bytes(tail!.body)).equals(data.subarray(data.length - 10)));
    });

    it('leaves nothing behind when the upload fails halfway', async () => {
      const k = key();
      const data = randomBytes(7 * 1024 * 1024);
      await assert.rejects(store.put(k, source(data, 6 * 1024 * 1024), 'image/png'), /cut off/);
      assert.equal(await store.size(k), undefined);
      assert.equal(await store.get(k), undefined);
      const small = key();
      await assert.rejects(store.put(small, source(Buffer.alloc(1000), 500), 'image/png'), /cut off/);
      assert.equal(await store.size(small), undefined);
    });

    it('deletes, and knows nothing of keys it never stored', async () => {
      const k = key();
      await store.put(k, source(Buffer.from('x')), 'text/plain');
      await store.delete(k);
      assert.equal(await store.size(k), undefined);
      assert.equal(await store.get(k), undefined);
      await store.delete(k);
      await store.delete(key());
      assert.equal(await store.get(key(), { start: 0, end: 1 }), undefined);
    });

    it('refuses keys that could escape (paths, URLs)', async () => {
      await assert.rejects(store.put('../escape', source(Buffer.from('x')), 'text/plain'), /invalid file key/);
      await assert.rejects(store.get('a/b'), /invalid file key/);
      await store.ping();
    });
  });
}
