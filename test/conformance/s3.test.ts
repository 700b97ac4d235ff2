import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3FileStore } from '../../src/infra/s3/files.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { fileStoreConformance } from './files.ts';

// S3Mock (started by the backend scripts in `npm test`) takes any credentials.
const endpoint = backendAddress('S3_ENDPOINT');
const connect = (bucket: string): Promise<S3FileStore> => S3FileStore.connect({
  endpoint, region: 'us-east-1', bucket, credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
const newBucket = (): string => uniqueName('flametalk-test').toLowerCase().replaceAll('_', '-');

fileStoreConformance('s3', () => connect(newBucket()));

describe('S3 file store start', () => {
  it('opens on nodes starting at the same moment, whichever of them creates the bucket', async () => {
    const bucket = newBucket();
    const stores = await Promise.all([connect(bucket), connect(bucket), connect(bucket)]);
    assert.equal(stores.length, 3);
    for (const store of stores) await store.close();
  });
});
