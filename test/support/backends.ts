/**
 * Integration tests run against real backends whose addresses `npm test` puts in the environment
 * (starting Kafka and Cassandra itself when needed). A test file run on its own without them
 * fails with this message instead of silently skipping.
 */
export function backendAddress(variable: 'REDIS_URL' | 'KAFKA_BROKERS' | 'CASSANDRA_CONTACT_POINTS' | 'S3_ENDPOINT'): string {
  const value = process.env[variable];
  if (!value) {
    throw new Error(
      `${variable} is not set: integration tests need the real backend. Run them through \`npm test\`, ` +
        'which starts Kafka, Cassandra and S3Mock itself, or set the variable to a running instance.',
    );
  }
  return value;
}

/** A name unique to this test process and moment, for topics, keyspaces and key prefixes. */
export function uniqueName(base: string): string {
  return `${base}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
