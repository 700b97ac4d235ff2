import { S3FileStore } from '../../src/infra/s3/files.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { fileStoreConformance } from './files.ts';

// S3Mock (started by the backend scripts in `npm test`) takes any credentials.
const endpoint = backendAddress('S3_ENDPOINT');

fileStoreConformance('s3', () => S3FileStore.connect({
  endpoint, region: 'us-east-1', bucket: uniqueName('flametalk-test').toLowerCase().replaceAll('_', '-'),
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
}));
