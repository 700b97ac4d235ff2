import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { MessageEvent } from '../../chat/model.ts';

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export interface ReaderOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /**
   * Longest a fetch waits for new events. It also bounds how long a member takes to notice a
   * rebalance (kafkajs heartbeats between fetches) and how long stopping takes.
   */
  maxWaitMs: number;
  /** A fetch returns once this many bytes are new (or `maxWaitMs` has passed). */
  minBytes: number;
  /** Batches of different partitions handled at the same time. */
  concurrency: number;
  /** Where to restart when the committed offset no longer exists (retention removed it). */
  fromBeginning: boolean;
  /** Resolving marks the events handled; rejecting has the same batch retried, with backoff. */
  handle(events: MessageEvent[]): Promise<void> | void;
  /** Keeps records the group cannot handle (not a message, or refused on their own) out of the partition's way. */
  deadLetter(records: DeadLetter[]): Promise<void>;
  /** How long start() waits for the group to be joined and positioned. */
  startTimeoutMs: number;
  logger: Logger;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Settling before anyone awaits must not count as an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export interface DeadLetter {
  partition: number;
  offset: string;
  value: Buffer | null;
  reason: string;
}

/** Failed attempts of a batch after which its events are tried one by one, to find one that can never succeed. */
const SPLIT_AFTER_ATTEMPTS = 3;

function isMessageEvent(value: unknown): value is MessageEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, roomId, message } = value as { kind?: unknown; roomId?: unknown; message?: { messageId?: unknown; roomId?: unknown } };
  return kind === 'message' && typeof roomId === 'string' && typeof message?.messageId === 'string' && message.roomId === roomId;
}

interface Decoded {
  event: MessageEvent;
  offset: string;
  value: Buffer | null;
}

/**
 * One kafkajs consumer in one group, reading the room-event topic batch by batch, per partition in
 * order, committing after each handled batch.
 *
 * Positioning: kafkajs resolves a partition without a committed offset lazily, at its first fetch,
 * to whatever the end is then; an event published between "joined" and that fetch would be skipped.
 * So on every join the assigned partitions are paused, every partition of the topic that has no
 * committed offset gets the current end committed (as a member of the group, so the broker accepts
 * it), and only then are they resumed and start() resolved. The end is read before the committed
 * offsets, which makes concurrent first starts of several members safe: any end a member commits was
 * read before anyone could see that partition committed, hence before anyone's start() resolved.
 */
let readers = 0;

export class TopicReader {
  /** Unique among the readers of this process. */
  readonly id: string;
  private readonly consumer: Consumer;
  private readonly logger: Logger;
  private readonly ready = deferred();
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;
  /** Bumped on every join, so the positioning of a superseded assignment gives up. */
  private generation = 0;
  private assigned: number[] = [];
  /** Per partition, the next offset to handle, once known. */
  private readonly next = new Map<number, number>();

  constructor(private readonly options: ReaderOptions) {
    this.id = `${options.groupId}#${++readers}`;
    this.logger = options.logger.child({ group: options.groupId });
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTimeInMs: options.maxWaitMs,
      minBytes: options.minBytes,
      allowAutoTopicCreation: false,
      // kafkajs's default (5 retries), but no restart once stopped: a fetch that fails because of
      // the disconnect would otherwise start the consumer again, and it would live on after close.
      retry: { retries: 5, restartOnFailure: async () => this.stopped === undefined },
    });
  }

  async start(): Promise<void> {
    const { consumer, options } = this;
    // kafkajs calls listeners synchronously, before the runner's first fetch: the pause is in time.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const generation = ++this.generation;
      this.assigned = payload.memberAssignment[options.topic] ?? [];
      this.next.clear();
      if (this.assigned.length > 0) consumer.pause([{ topic: options.topic, partitions: this.assigned }]);
      void this.position(generation, this.assigned);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.ready.reject(payload.error);
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [options.topic], fromBeginning: options.fromBeginning });
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.concurrency,
        eachBatch: (payload) => this.onBatch(payload),
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`consumer group ${options.groupId} was not joined within ${options.startTimeoutMs} ms`)),
          options.startTimeoutMs,
        );
      });
      await Promise.race([this.ready.promise, timeout]);
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Leaves the group (its partitions move to the other members at once) and disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      this.ready.reject(new Error(`consumer group ${this.options.groupId} was stopped`));
      await this.consumer.disconnect();
    })();
    return this.stopped;
  }

  /** Events in the assigned partitions not handled yet, given each partition's end offset. */
  lag(ends: ReadonlyMap<number, number>): number {
    let sum = 0;
    for (const partition of this.assigned) {
      const next = this.next.get(partition);
      const end = ends.get(partition);
      if (next !== undefined && end !== undefined) sum += Math.max(0, end - next);
    }
    return sum;
  }

  private isCurrent(generation: number): boolean {
    return generation === this.generation && !this.stopping.signal.aborted;
  }

  private async position(generation: number, partitions: number[]): Promise<void> {
    const { admin, topic, groupId } = this.options;
    let delay = 100;
    let commits = 0;
    while (this.isCurrent(generation)) {
      try {
        const ends = await admin.fetchTopicOffsets(topic);
        const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const committed = new Map((fetched?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        if (!this.isCurrent(generation)) return;
        const missing = ends.filter(({ partition }) => (committed.get(partition) ?? -1) < 0);
        if (missing.length === 0) {
          for (const partition of partitions) {
            const offset = committed.get(partition);
            if (offset !== undefined) this.next.set(partition, Math.max(offset, this.next.get(partition) ?? offset));
          }
          if (partitions.length > 0) this.consumer.resume([{ topic, partitions }]);
          this.ready.resolve();
          return;
        }
        await this.consumer.commitOffsets(missing.map(({ partition, high }) => ({ topic, partition, offset: high })));
        this.logger.debug({ partitions: missing.map((p) => p.partition) }, 'committed the end of partitions without committed offsets');
        // Read back at once rather than trusted: kafkajs skips a commit while its runner is
        // (re)starting. Should that happen, the next tries wait first.
        if (commits++ === 0) continue;
      } catch (error) {
        // A rebalance (a newer join takes over) or an unreachable broker; kafkajs reconnects.
        if (!this.isCurrent(generation)) return;
        this.logger.debug({ err: error }, 'positioning the consumer failed; retrying');
      }
      if (!(await this.pause(delay))) return;
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { partition } = batch;
    const decoded: Decoded[] = [];
    const rejected: DeadLetter[] = [];
    for (const message of batch.messages) {
      const event = decode(message);
      if (event) decoded.push({ event, offset: message.offset, value: message.value });
      else rejected.push({ partition, offset: message.offset, value: message.value, reason: 'not a message event' });
    }
    let pending = decoded;
    let delay = RETRY_MIN_MS;
    for (let attempt = 1; pending.length > 0 || rejected.length > 0; attempt++) {
      // kafkajs heartbeats only between batches; a handler slower than the session timeout (a
      // store that hangs) would otherwise get this member evicted and its events handled twice.
      // A rebalance noticed here is noticed again, and acted on, by kafkajs's own heartbeat after the batch.
      const beat = setInterval(() => void heartbeat().catch(() => undefined), this.options.heartbeatIntervalMs);
      try {
        if (rejected.length > 0) {
          await this.options.deadLetter(rejected);
          this.logger.error({ partition, offsets: rejected.map((r) => r.offset), reason: rejected[0]!.reason }, 'moved records the group cannot handle to the dead-letter topic');
          rejected.length = 0;
        }
        if (attempt > SPLIT_AFTER_ATTEMPTS && pending.length > 1) pending = await this.isolate(pending, partition, rejected);
        else if (pending.length > 0) await this.options.handle(pending.map((d) => d.event));
        if (rejected.length === 0) break;
      } catch (error) {
        const log = { err: error, partition, offset: batch.firstOffset(), events: pending.length, attempt };
        if (attempt === 1) this.logger.warn(log, 'handling a batch of room events failed; retrying it');
        else this.logger.debug(log, 'handling a batch of room events failed again');
        // Unresolved, the batch is fetched again by whoever holds the partition next.
        if (!(await this.pause(delay)) || !isRunning() || isStale()) return;
        // Keeps the membership alive; during a rebalance it throws, and kafkajs re-joins.
        await heartbeat();
        if (!isRunning() || isStale()) return;
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      } finally {
        clearInterval(beat);
      }
    }
    const last = batch.lastOffset();
    resolveOffset(last);
    // kafkajs commits the resolved offset right after this returns (autoCommit).
    this.next.set(partition, Number(last) + 1);
  }

  /**
   * A batch that keeps failing is tried event by event: if some events succeed on their own, the ones
   * that still fail are poison (the handler will never take them) and go to `rejected`; if every one
   * fails, the backend is down and the batch as a whole is retried (the returned events).
   */
  private async isolate(pending: Decoded[], partition: number, rejected: DeadLetter[]): Promise<Decoded[]> {
    const failed: Array<{ item: Decoded; error: unknown }> = [];
    for (const item of pending) {
      try {
        await this.options.handle([item.event]);
      } catch (error) {
        failed.push({ item, error });
      }
    }
    if (failed.length === pending.length) throw failed[0]!.error;
    for (const { item, error } of failed) {
      rejected.push({ partition, offset: item.offset, value: item.value, reason: `refused by the handler: ${error instanceof Error ? error.message : String(error)}` });
    }
    return [];
  }

  /** Waits, unless the reader is stopping; false when it is. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
      return true;
    } catch {
      return false;
    }
  }
}

function decode(message: KafkaMessage): MessageEvent | undefined {
  try {
    const value: unknown = JSON.parse(message.value?.toString('utf8') ?? '');
    return isMessageEvent(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
