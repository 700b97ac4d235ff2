import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import kafkajs, { type Admin, type ISocketFactory, type Kafka, type KafkaConfig, type Message, type Producer, type RetryOptions } from 'kafkajs';
import pino, { type Logger } from 'pino';
import type { RoomEvent } from '../../chat/model.ts';
import type { BusSubscription, RoomEventBus } from '../ports/bus.ts';
import { kafkaLogLevel, pinoLogCreator } from './log.ts';
import { TopicReader } from './reader.ts';

export interface KafkaBusOptions {
  brokers: string[];
  topic: string;
  /** Partitions and replication factor of the topic if this node creates it. */
  partitions: number;
  replicationFactor: number;
  clientId: string;
  /** Names this node's own consumer group. */
  nodeId: string;
  /** Prepended to every consumer group id (the shared groups and the per-node one). */
  groupPrefix?: string;
  /** A member silent for this long is dropped from its groups and its partitions move (default 10 s). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Longest a consumer's fetch waits for new events (default 500 ms); also bounds join and stop times. */
  maxWaitMs?: number;
  logger?: Logger;
  /** Further kafkajs client settings: TLS, SASL, a socket factory (tests put a proxy in between). */
  client?: Pick<KafkaConfig, 'ssl' | 'sasl' | 'socketFactory' | 'connectionTimeout' | 'requestTimeout'>;
}

/**
 * How long a publish may wait for the broker: a batch is sent again until its oldest publish has
 * waited this long, then its publishes are rejected. Long enough to ride out a broker restart,
 * short enough that an outage never leaves a sender hanging.
 */
const PUBLISH_WINDOW_MS = 30_000;
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
  message: Message;
  bytes: number;
  queuedAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The room event bus on a Kafka topic keyed by room id: one room, one partition, one order.
 *
 * - publish: acks=all; publishes are queued and whatever accumulated while a request was in flight
 *   is sent as the next single request, so there is one request in flight at a time (strict order
 *   per room without relying on kafkajs's experimental idempotent producer) and batches grow by
 *   themselves under load.
 * - subscribe: a consumer group of its own per bus instance, so this node reads every partition;
 *   it is deleted when the subscription ends.
 * - consume: the shared group `${groupPrefix}${group}`; each event is handled by one member.
 */
export class KafkaBus implements RoomEventBus {
  private readonly queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private readonly handlers = new Set<(event: RoomEvent) => void>();
  private node: { reader: TopicReader; groupId: string; started: Promise<void> } | undefined;
  private readonly groups = new Set<TopicReader>();
  /** Node readers being stopped (and their groups deleted); close() waits for them. */
  private readonly nodeStops = new Set<Promise<void>>();
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
      // Named explicitly (murmur2 of the key, as Java clients do) so kafkajs does not warn that its default changed in 2.0.
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

  publish(event: RoomEvent): Promise<void> {
    if (this.closing) return Promise.reject(new Error('bus is closed'));
    // Inside the executor, a value JSON cannot encode becomes a rejection rather than a throw.
    return new Promise<void>((resolve, reject) => {
      const value = JSON.stringify(event);
      this.queue.push({
        message: { key: event.roomId, value },
        bytes: Buffer.byteLength(value) + Buffer.byteLength(event.roomId),
        queuedAt: Date.now(),
        resolve,
        reject,
      });
      this.sending ??= this.drain();
    });
  }

  async subscribe(handler: (event: RoomEvent) => void): Promise<BusSubscription> {
    if (this.closing) throw new Error('bus is closed');
    this.handlers.add(handler);
    try {
      await (this.node ??= this.startNode()).started;
    } catch (error) {
      this.handlers.delete(handler);
      throw error;
    }
    let active = true;
    return {
      stop: async () => {
        if (!active) return;
        active = false;
        this.handlers.delete(handler);
        if (this.handlers.size === 0) await this.stopNode();
      },
    };
  }

  async consume(group: string, handler: (events: RoomEvent[]) => Promise<void>): Promise<BusSubscription> {
    if (this.closing) throw new Error('bus is closed');
    const reader = this.reader(`${this.options.groupPrefix ?? ''}${group}`, {
      dropDelivered: false,
      // Replaying is better than losing events the persister or notifier never handled.
      fromBeginning: true,
      concurrency: this.options.partitions,
      handle: handler,
    });
    this.groups.add(reader);
    try {
      await reader.start();
    } catch (error) {
      this.groups.delete(reader);
      throw error;
    }
    return {
      stop: async () => {
        this.groups.delete(reader);
        await reader.stop();
      },
    };
  }

  async lag(): Promise<number> {
    const readers = [...this.groups];
    if (this.node) readers.push(this.node.reader);
    if (readers.length === 0) return 0;
    const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
    const ends = new Map(offsets.map(({ partition, high }) => [partition, Number(high)]));
    return readers.reduce((sum, reader) => sum + reader.lag(ends), 0);
  }

  /** Leaves the groups, sends what is queued (rejecting what cannot be sent), disconnects. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      this.handlers.clear();
      const readers = [...this.groups].map((reader) => reader.stop());
      this.groups.clear();
      void this.stopNode();
      await Promise.allSettled([...readers, ...this.nodeStops, this.sending]);
      await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
      this.connections.closeAll();
    })();
    return this.closed;
  }

  private reader(
    groupId: string,
    how: { dropDelivered: boolean; fromBeginning: boolean; concurrency: number; handle: (events: RoomEvent[]) => Promise<void> | void },
  ): TopicReader {
    return new TopicReader({
      kafka: this.kafka,
      admin: this.admin,
      topic: this.options.topic,
      groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 1_000,
      maxWaitMs: this.options.maxWaitMs ?? 500,
      startTimeoutMs: START_TIMEOUT_MS,
      logger: this.logger,
      ...how,
    });
  }

  /** The node-wide reader behind every subscribe() of this bus, in a group of its own. */
  private startNode(): NonNullable<KafkaBus['node']> {
    const groupId = `${this.options.groupPrefix ?? ''}node.${this.options.nodeId}.${randomBytes(4).toString('hex')}`;
    const reader: TopicReader = this.reader(groupId, {
      dropDelivered: true,
      // The group is new, so it starts at the end; this only matters if retention outran it.
      fromBeginning: false,
      // Handlers are synchronous: nothing to overlap.
      concurrency: 1,
      handle: (events) => {
        // A reader being replaced by a newer one must not deliver twice.
        if (this.node?.reader !== reader) return;
        for (const event of events) {
          for (const handler of this.handlers) {
            try {
              handler(event);
            } catch (error) {
              // A subscriber's bug must not stop delivery to the others.
              this.logger.error({ err: error, roomId: event.roomId, kind: event.kind }, 'a room event subscriber threw');
            }
          }
        }
      },
    });
    const node = { reader, groupId, started: reader.start() };
    node.started.catch(() => {
      if (this.node === node) this.node = undefined;
    });
    return node;
  }

  private stopNode(): Promise<void> {
    const node = this.node;
    if (!node) return Promise.resolve();
    this.node = undefined;
    const stopping = (async () => {
      await node.reader.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'stopping the node subscription failed'));
      // Nobody will use this group again; it would otherwise linger until offsets retention (7 days).
      await this.admin
        .deleteGroups([node.groupId])
        .catch((error: unknown) => this.logger.debug({ err: error, group: node.groupId }, 'could not delete the node consumer group'));
    })();
    this.nodeStops.add(stopping);
    const forget = (): void => void this.nodeStops.delete(stopping);
    stopping.then(forget, forget);
    return stopping;
  }

  /** Sends the queue, one request at a time; each request carries whatever has accumulated meanwhile. */
  private async drain(): Promise<void> {
    // Publishes made in the same synchronous burst as the first one join its request.
    await Promise.resolve();
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

/** Creates the topic unless it exists; returns its partition count. */
async function ensureTopic(admin: Admin, options: KafkaBusOptions, logger: Logger): Promise<number> {
  const { topic } = options;
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: options.partitions, replicationFactor: options.replicationFactor }],
    waitForLeaders: true,
  });
  if (created) {
    logger.info({ partitions: options.partitions, replicationFactor: options.replicationFactor }, 'created the room event topic');
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
      return partitions.length;
    }
    if (attempt >= 50) throw new Error(`topic ${topic} has partitions without a leader`);
    await sleep(100);
  }
}

/**
 * Every broker connection of one bus, through kafkajs's own socket factory (net or tls, keep-alive)
 * or the caller's. kafkajs can reopen a connection (a group heartbeat, a consumer's retry) after its
 * own disconnect and never close it, keeping the host process alive (measured); so closing the bus
 * closes whatever is still open, and any connection opened after that.
 */
class BrokerConnections {
  private readonly open = new Set<Socket>();
  private closed = false;

  constructor(private readonly inner?: ISocketFactory) {}

  readonly factory: ISocketFactory = (args) => {
    const socket = this.inner
      ? this.inner(args)
      : args.ssl
        ? tls.connect({ host: args.host, port: args.port, ...(net.isIP(args.host) ? {} : { servername: args.host }), ...(typeof args.ssl === 'object' ? args.ssl : {}) }, args.onConnect)
        : net.connect({ host: args.host, port: args.port }, args.onConnect);
    if (!this.inner) socket.setKeepAlive(true, 60_000);
    if (this.closed) {
      // Once kafkajs has attached its listeners.
      process.nextTick(() => BrokerConnections.cut(socket));
    } else {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    }
    return socket;
  };

  closeAll(): void {
    this.closed = true;
    for (const socket of this.open) BrokerConnections.cut(socket);
    this.open.clear();
  }

  /**
   * With an error: kafkajs listens for 'error' and 'end' only, and after a bare close would keep
   * that connection's request-timeout interval running, and the process alive, for good (measured).
   */
  private static cut(socket: Socket): void {
    socket.destroy(new Error('the Kafka bus was closed'));
  }
}
