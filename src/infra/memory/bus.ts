import type { MessageEvent, RoomId } from '../../chat/model.ts';
import type { BusSubscription, RoomEventBus } from '../ports/bus.ts';
import { partitionOf } from '../partition.ts';

const PARTITIONS = 8;
const MAX_BATCH = 500;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

type GroupHandler = (events: MessageEvent[]) => Promise<void>;

/** One partition's retained events: `events[0]` has offset `base`. */
class PartitionLog {
  base = 0;
  events: MessageEvent[] = [];
  get end(): number {
    return this.base + this.events.length;
  }
  slice(from: number, max: number): MessageEvent[] {
    return this.events.slice(from - this.base, from - this.base + max);
  }
  trimTo(offset: number): void {
    if (offset > this.base) {
      this.events.splice(0, offset - this.base);
      this.base = offset;
    }
  }
}

/**
 * A consumer group: partitions are spread over its members the way Kafka would, each partition is
 * handled strictly in order, and a failing batch is retried with backoff.
 */
class Group {
  readonly cursors: number[];
  readonly members: GroupHandler[] = [];
  private readonly busy = new Set<number>();
  private readonly retryDelay = new Map<number, number>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly hub: MemoryBusHub) {
    this.cursors = hub.partitions.map((p) => p.end);
  }

  pending(): number {
    return this.hub.partitions.reduce((sum, p, i) => sum + p.end - this.cursors[i]!, 0);
  }

  kick(): void {
    for (let p = 0; p < this.cursors.length; p++) this.drain(p);
  }

  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private drain(p: number): void {
    if (this.busy.has(p) || this.members.length === 0) return;
    const log = this.hub.partitions[p]!;
    const from = this.cursors[p]!;
    if (from >= log.end) return;
    const handler = this.members[p % this.members.length]!;
    const batch = log.slice(from, MAX_BATCH);
    this.busy.add(p);
    const run = (async () => {
      try {
        await handler(batch);
        this.cursors[p] = from + batch.length;
        this.retryDelay.delete(p);
        this.hub.trim();
        this.busy.delete(p);
        this.drain(p);
      } catch {
        const delay = Math.min(RETRY_MAX_MS, (this.retryDelay.get(p) ?? RETRY_MIN_MS / 2) * 2);
        this.retryDelay.set(p, delay);
        setTimeout(() => {
          this.busy.delete(p);
          this.drain(p);
        }, delay).unref();
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }
}

/** The shared "cluster" of in-process buses: one per process in embedded mode, several in tests. */
export class MemoryBusHub {
  readonly partitions = Array.from({ length: PARTITIONS }, () => new PartitionLog());
  readonly groups = new Map<string, Group>();

  append(event: MessageEvent): void {
    this.partitions[partitionOf(event.roomId, PARTITIONS)]!.events.push(event);
    for (const group of this.groups.values()) group.kick();
    this.trim();
  }

  /** Events of the room's partition the group has not handled; a group nobody consumes yet has handled nothing. */
  backlog(groupName: string, roomId: RoomId): number {
    const p = partitionOf(roomId, PARTITIONS);
    const group = this.groups.get(groupName);
    return this.partitions[p]!.end - (group ? group.cursors[p]! : this.partitions[p]!.base);
  }

  group(name: string): Group {
    let group = this.groups.get(name);
    if (!group) {
      group = new Group(this);
      this.groups.set(name, group);
    }
    return group;
  }

  /** Events every group has handled are not needed any more. */
  trim(): void {
    this.partitions.forEach((log, p) => {
      let min = log.end;
      for (const group of this.groups.values()) min = Math.min(min, group.cursors[p]!);
      log.trimTo(min);
    });
  }
}

/** In-process bus node: not durable (the process is the only copy), ordered per room. */
export class MemoryBus implements RoomEventBus {
  readonly durable = false;
  private readonly ownGroups: Array<{ group: Group; handler: GroupHandler }> = [];
  private closed = false;

  constructor(private readonly hub: MemoryBusHub = new MemoryBusHub()) {}

  async publish(event: MessageEvent): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    this.hub.append(event);
  }

  async consume(groupName: string, handler: GroupHandler): Promise<BusSubscription> {
    const group = this.hub.group(groupName);
    group.members.push(handler);
    const membership = { group, handler };
    this.ownGroups.push(membership);
    group.kick();
    return { stop: () => this.leave(membership) };
  }

  async backlog(group: string, roomId: RoomId): Promise<number> {
    return this.hub.backlog(group, roomId);
  }

  async lag(): Promise<number> {
    return this.ownGroups.reduce((sum, { group }) => sum + group.pending(), 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const membership of [...this.ownGroups]) await this.leave(membership);
  }

  private async leave(membership: { group: Group; handler: GroupHandler }): Promise<void> {
    const { group, handler } = membership;
    const at = group.members.indexOf(handler);
    if (at >= 0) group.members.splice(at, 1);
    const own = this.ownGroups.indexOf(membership);
    if (own >= 0) this.ownGroups.splice(own, 1);
    await group.idle();
    group.kick();
  }
}
