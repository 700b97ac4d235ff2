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
  let created: boolean;
  try {
    created = await admin.createTopics({
      topics: [{ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor }],
      waitForLeaders: true,
    });
  } catch (error) {
    // kafkajs gives up waiting for leaders when the broker's metadata lags the creation (a busy
    // broker that just started): the topic is there, so wait for its leaders below.
    if (!isMetadataLag(error)) throw error;
    created = false;
  }
  if (created) {
    logger.info({ partitions: options.partitions, replicationFactor: options.replicationFactor }, 'created the room event topic');
    warnIfUnreplicated(topic, options.replicationFactor, logger);
    return options.partitions;
  }
  // Already there, possibly created this very moment by another node: wait until every partition has a leader.
  for (let attempt = 0; ; attempt++) {
    const partitions = await admin.fetchTopicMetadata({ topics: [topic] }).then(
      ({ topics }) => topics.find((t) => t.name === topic)?.partitions ?? [],
      (error: unknown) => {
        if (isMetadataLag(error)) return [];
        throw error;
      },
    );
    if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
      if (partitions.length !== options.partitions) {
        logger.warn({ partitions: partitions.length, configured: options.partitions }, 'the room event topic exists with another partition count; using it as it is');
      }
      warnIfUnreplicated(topic, Math.min(...partitions.map((p) => p.replicas.length)), logger);
      return partitions.length;
    }
    if (attempt >= 150) throw new Error(`topic ${topic} has partitions without a leader after 15 s`);
    await sleep(100);
  }
}

const METADATA_LAG = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const isMetadataLag = (error: unknown): boolean => METADATA_LAG.has((error as { type?: string }).type ?? '');

/** One copy of the log means an acked message is lost with that broker's disk. */
function warnIfUnreplicated(topic: string, replicas: number, logger: Logger): void {
  if (replicas > 1) return;
  logger.warn(
    { topic, replicationFactor: replicas },
    'the room event topic has one replica: acked messages survive a broker restart, not the loss of its disk; ' +
      'production clusters use replication.factor=3 with min.insync.replicas=2 (see README)',
  );
}
