import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
}

/** Creates the topic unless it exists; returns its partition count. */
export async function ensureTopic(admin: Admin, options: TopicSpec, logger: Logger): Promise<number> {
  const { topic } = options;
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor }],
    waitForLeaders: true,
  });
  if (created) {
    logger.info({ partitions: options.partitions, replicationFactor: options.replicationFactor }, 'created the room event topic');
    warnIfUnreplicated(topic, options.replicationFactor, logger);
    return options.partitions;
  }
  // Already there, possibly created this very moment by another node: wait until every partition has a leader.
  for (let attempt = 0; ; attempt++) {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics.find((t) => t.name === topic)?.partitions ?? [];
    if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
      if (partitions.length !== options.partitions) {
        logger.warn({ partitions: partitions.length, configured: options.partitions }, 'the room event topic exists with another partition count; using it as it is');
      }
      warnIfUnreplicated(topic, Math.min(...partitions.map((p) => p.replicas.length)), logger);
      return partitions.length;
    }
    if (attempt >= 50) throw new Error(`topic ${topic} has partitions without a leader`);
    await sleep(100);
  }
}

/** One copy of the log means an acked message is lost with that broker's disk. */
function warnIfUnreplicated(topic: string, replicas: number, logger: Logger): void {
  if (replicas > 1) return;
  logger.warn(
    { topic, replicationFactor: replicas },
    'the room event topic has one replica: acked messages survive a broker restart, not the loss of its disk; ' +
      'production clusters use replication.factor=3 with min.insync.replicas=2 (see README)',
  );
}
