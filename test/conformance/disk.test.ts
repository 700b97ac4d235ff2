import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { DiskFileStore } from '../../src/infra/disk/files.ts';
import { fileStoreConformance } from './files.ts';

const root = mkdtempSync(join(tmpdir(), 'flametalk-disk-conformance-'));
after(() => rmSync(root, { recursive: true, force: true }));

fileStoreConformance('disk', async () => new DiskFileStore(join(root, 'files')));

it('disk: no temporary files remain after the suite', () => {
  assert.deepEqual(readdirSync(join(root, 'files')).filter((name) => name.endsWith('.part')), []);
});
