import { after } from 'node:test';
import cassandra from 'cassandra-driver';
import { CassandraStore } from '../../src/infra/cassandra/store.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { peopleConformance } from './people.ts';
import { storeConformance } from './store.ts';

const contactPoints = backendAddress('CASSANDRA_CONTACT_POINTS').split(',');
const localDataCenter = process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1';
// A keyspace of its own, so runs never see each other's rows; dropped at the end.
const keyspace = uniqueName('flametalk_test');

storeConformance('cassandra', () => CassandraStore.connect({ contactPoints, keyspace, localDataCenter, replicationFactor: 1 }));

peopleConformance('cassandra', async () => {
  const store = await CassandraStore.connect({ contactPoints, keyspace, localDataCenter, replicationFactor: 1 });
  return store.people({ onClose: () => store.close() });
});

after(async () => {
  const client = new cassandra.Client({ contactPoints, localDataCenter });
  try {
    await client.execute(`DROP KEYSPACE IF EXISTS "${keyspace}"`);
  } finally {
    await client.shutdown();
  }
});
