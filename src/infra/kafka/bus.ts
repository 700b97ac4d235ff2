import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Kafka, type KafkaConfig, type Message, type Producer, type RetryOptions } from 'kafkajs';
import pino, { type Logger } from 'pino';
import type { MessageEvent, RoomId } from '../../chat/model.ts';
import { partitionOf } from '../partition.ts';
import type { BusSubscription, RoomEventBus } from '../ports/bus.ts';
import { BrokerConnections } from './broker-connections.ts';
import { kafkaLogLevel, pinoLogCreator } from './log.ts';
import { TopicReader } from './reader.ts';
import { ensureTopic } from './topic.ts';

export interface KafkaBusOptions {
  brokers: string[];
  topic: string;
  /** Partitions and replication factor of the topic if this node creates it. */
  partitions: number;
  replicationFactor: number;
  clientId: string;
  /** Prepended to every consumer group id. */
  groupPrefix?: string;
  /** A member silent for this long is dropped from its groups and its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Longest a consumer's fetch waits for `fetchMinBytes` of new events (default 100 ms); also bounds join and stop times. */
  maxWaitMs?: number;
  /**
   * A consumer's fetch returns once this much is new or `maxWaitMs` has passed (default 64 KiB). The
   * groups (persister, notifier) trade up to `maxWaitMs` of delay for batches: with 1 byte, every
   * fetch returns with the one or two events published meanwhile, and the broker's CPU goes on
   * fetches and offset commits (measured: 0.56 ms of Kafka CPU per message at 1,000 messages/s).
   */
  fetchMinBytes?: number;
  /** How long a publish waits for others to share its produce request (default 0: the rest of the turn). */
  lingerMs?: number;
  logger?: Logger;
  /** Further kafkajs client settings: TLS, SASL, a socket factory (tests put a proxy in between). */
  client?: Pick<KafkaConfig, 'ssl' | 'sasl' | 'socketFactory' | 'connectionTimeout' | 'requestTimeout'>;
}

/**
 * How long a publish may wait for the broker: a batch is sent again until its oldest publish has
 * waited this long, then its publishes are rejected. Long enough to ride out a broker restart,
 * short enough that an outage never leaves a sender hanging.
 */
export const PUBLISH_WINDOW_MS = 30_000;
const RESEND_MIN_MS = 250;
const RESEND_MAX_MS = 2_000;

/**
 * The producer's own kafkajs retries are kept short (a send gives up after a few seconds) because
 * kafkajs nests retriers (a send that reconnects runs the connection's whole retry cycle inside
 * each of its own attempts), which made its give-up time vary between about 15 and 45 s. The
 * window above is enforced by the bus instead.
 */
const PRODUCER_RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 2_000, retries: 3 };

/**
 * Caps one produce request. Everything queued while the previous request was in flight goes out
 * together, but one partition's share must stay under the broker's message.max.bytes (1 MiB by default).
 */
const MAX_BATCH_MESSAGES = 2_000;
const MAX_BATCH_BYTES = 512 * 1024;

const START_TIMEOUT_MS = 60_000;

interface Pending {
  message: Message & { partition: number };
  bytes: number;
  queuedAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The durable message log on a Kafka topic: each room's events in one partition (chosen here, so a
 * room's partition is known without asking kafkajs), acks=all before a publish resolves.
 *
 * Publishes are queued and whatever accumulated while a request was in flight is sent as the next
 * single request: batches grow by themselves under load, and an idle bus answers in one round trip.
 * A room's order is the RoomFeed's, not the log's, so nothing here needs more than acks.
 */
export class KafkaBus implements RoomEventBus {
  readonly durable = true;
  private readonly queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private readonly groups = new Map<string, TopicReader>();
  private closing = false;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    private readonly options: KafkaBusOptions,
    private readonly logger: Logger,
    private readonly connections: BrokerConnections,
  ) {}

  /** Connects, creating the topic if it is missing (several nodes may race to do so). */
  static async connect(options: KafkaBusOptions): Promise<KafkaBus> {
    const root = (options.logger ?? pino({ level: 'silent' })).child({ topic: options.topic });
    const logger = root.child({ component: 'kafka-bus' });
    const connections = new BrokerConnections(options.client?.socketFactory);
    const client = (retry?: RetryOptions): Kafka =>
      new kafkajs.Kafka({
        ...options.client,
        socketFactory: connections.factory,
        clientId: options.clientId,
        brokers: options.brokers,
        logLevel: kafkaLogLevel(root),
        logCreator: pinoLogCreator(root),
        ...(retry ? { retry } : {}),
      });
    // Consumers and admin keep kafkajs's retry defaults: a consumer that exhausts them restarts by itself.
    const kafka = client();
    const admin = kafka.admin();
    const producer = client(PRODUCER_RETRY).producer({
      // Messages name their partition; naming the partitioner only keeps kafkajs from warning that its default changed in 2.0.
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    try {
      await admin.connect();
      const partitions = await ensureTopic(admin, options, logger);
      await producer.connect();
      return new KafkaBus(kafka, admin, producer, { ...options, partitions }, logger, connections);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      connections.closeAll();
      throw error;
    }
  }

  publish(event: MessageEvent): Promise<void> {
    if (this.closing) return Promise.reject(new Error('bus is closed'));
    // Inside the executor, a value JSON cannot encode becomes a rejection rather than a throw.
    return new Promise<void>((resolve, reject) => {
      const value = JSON.stringify(event);
      this.queue.push({
        message: { key: event.roomId, value, partition: partitionOf(event.roomId, this.options.partitions) },
        bytes: Buffer.byteLength(value) + Buffer.byteLength(event.roomId),
        queuedAt: Date.now(),
        resolve,
        reject,
      });
      this.sending ??= this.drain();
    });
  }

  async consume(group: string, handler: (events: MessageEvent[]) => Promise<void>): Promise<BusSubscription> {
    if (this.closing) throw new Error('bus is closed');
    const groupId = this.groupId(group);
    const reader = new TopicReader({
      kafka: this.kafka,
      admin: this.admin,
      topic: this.options.topic,
      groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 1_000,
      maxWaitMs: this.options.maxWaitMs ?? 100,
      minBytes: this.options.fetchMinBytes ?? 64 * 1024,
      startTimeoutMs: START_TIMEOUT_MS,
      // Replaying is better than losing events the persister or notifier never handled.
      fromBeginning: true,
      concurrency: this.options.partitions,
      logger: this.logger,
      handle: handler,
      deadLetter: (records) => this.deadLetter(groupId, records),
    });
    this.groups.set(reader.id, reader);
    try {
      await reader.start();
    } catch (error) {
      this.groups.delete(reader.id);
      throw error;
    }
    return {
      stop: async () => {
        this.groups.delete(reader.id);
        await reader.stop();
      },
    };
  }

  async backlog(group: string, roomId: RoomId): Promise<number> {
    const { topic, partitions } = this.options;
    const partition = partitionOf(roomId, partitions);
    const [ends, [committed]] = await retryWhileLeaderMoves(() => Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.admin.fetchOffsets({ groupId: this.groupId(group), topics: [topic] }),
    ]));
    const end = ends.find((p) => p.partition === partition);
    if (!end) throw new Error(`partition ${partition} of ${topic} has no offsets`);
    const at = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    return Math.max(0, Number(end.high) - Math.max(at, Number(end.low)));
  }

  async lag(): Promise<number> {
    if (this.groups.size === 0) return 0;
    const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
    const ends = new Map(offsets.map(({ partition, high }) => [partition, Number(high)]));
    return [...this.groups.values()].reduce((sum, reader) => sum + reader.lag(ends), 0);
  }

  /** Leaves the groups, sends what is queued (rejecting what cannot be sent), disconnects. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      const readers = [...this.groups.values()].map((reader) => reader.stop());
      this.groups.clear();
      await Promise.allSettled([...readers, this.sending]);
      await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
      this.connections.closeAll();
    })();
    return this.closed;
  }

  private groupId(group: string): string {
    return `${this.options.groupPrefix ?? ''}${group}`;
  }

  /** Records a group could not handle, kept on `<topic>.dead-letter` with where they came from. */
  private async deadLetter(groupId: string, records: Array<{ partition: number; offset: string; value: Buffer | null; reason: string }>): Promise<void> {
    const topic = `${this.options.topic}.dead-letter`;
    await ensureTopic(this.admin, { topic, partitions: 1, replicationFactor: this.options.replicationFactor }, this.logger);
    await this.producer.send({
      topic,
      acks: -1,
      messages: records.map((r) => ({
        value: r.value,
        headers: { group: groupId, partition: String(r.partition), offset: r.offset, reason: r.reason },
      })),
    });
  }

  /** Sends the queue, one request at a time; each request carries whatever has accumulated meanwhile. */
  private async drain(): Promise<void> {
    // Publishes made in the same turn (or within the linger) join the first one's request.
    if (this.options.lingerMs) await sleep(this.options.lingerMs);
    else await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      try {
        await this.send(batch);
        for (const pending of batch) pending.resolve();
      } catch (error) {
        this.logger.warn({ err: error, events: batch.length }, 'publishing room events failed');
        for (const pending of batch) pending.reject(error);
      }
    }
    this.sending = undefined;
  }

  /** Sends one batch, again and again while the failure is transient and its oldest publish is within the window. */
  private async send(batch: Pending[]): Promise<void> {
    const deadline = batch[0]!.queuedAt + PUBLISH_WINDOW_MS;
    const messages = batch.map((p) => p.message);
    for (let delay = RESEND_MIN_MS; ; delay = Math.min(delay * 2, RESEND_MAX_MS)) {
      try {
        await this.producer.send({ topic: this.options.topic, acks: -1, messages });
        return;
      } catch (error) {
        if (!isTransient(error) || Date.now() + delay > deadline) throw error;
        this.logger.debug({ err: error, events: batch.length }, 'publishing room events failed; sending again');
        await sleep(delay);
      }
    }
  }

  private takeBatch(): Pending[] {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < MAX_BATCH_MESSAGES) {
      const next = this.queue[count]!.bytes;
      if (count > 0 && bytes + next > MAX_BATCH_BYTES) break;
      bytes += next;
      count++;
    }
    return this.queue.splice(0, count);
  }
}

/**
 * Whether sending again may help: kafkajs gave up retrying (broker unreachable, leader moving), as
 * opposed to a request refused for good (too large, not authorized, producer disconnecting).
 */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'KafkaJSNumberOfRetriesExceeded') return true;
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return (cause as { retriable?: unknown }).retriable === true;
}

/**
 * kafkajs's admin gives up on "not the leader" at once, which a partition whose leader just moved (or
 * a topic just created) answers for a moment: ask again a few times.
 */
async function retryWhileLeaderMoves<T>(ask: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask();
    } catch (error) {
      const { type } = error as { type?: string };
      if (attempt >= 5 || (type !== 'NOT_LEADER_FOR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE' && type !== 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
