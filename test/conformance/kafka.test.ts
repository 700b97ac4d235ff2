import kafkajs from 'kafkajs';
import pino from 'pino';
import { KafkaBus } from '../../src/infra/kafka/bus.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { busConformance } from './bus.ts';

const brokers = backendAddress('KAFKA_BROKERS').split(',');
// Quiet unless asked: kafkajs logs rebalances and leaves at info.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Drops a test topic and the groups that read it, with a client of its own, once every node has left. */
async function dropBackend(topic: string, groupPrefix: string): Promise<void> {
  const admin = new kafkajs.Kafka({ clientId: 'flametalk-test-cleanup', brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(groupPrefix));
    if (ours.length > 0) await admin.deleteGroups(ours);
    await admin.deleteTopics({ topics: [topic] });
  } finally {
    await admin.disconnect();
  }
}

busConformance(
  'kafka',
  async () => {
    // Each cluster has its own topic and groups, so nothing leaks between tests or concurrent runs.
    const topic = uniqueName('flametalk_test_events');
    const groupPrefix = `${uniqueName('flametalk_test')}.`;
    const nodes: KafkaBus[] = [];
    return {
      // Every node is a bus of its own, with its own kafkajs clients, as if it were another process.
      node: async (name) => {
        const bus = await KafkaBus.connect({
          brokers, topic, partitions: 8, replicationFactor: 1,
          clientId: `flametalk-test-${name}`, groupPrefix, logger,
        });
        nodes.push(bus);
        return bus;
      },
      close: async () => {
        await Promise.all(nodes.map((bus) => bus.close()));
        if (nodes.length > 0) await dropBackend(topic, groupPrefix);
      },
    };
  },
  30_000,
);
