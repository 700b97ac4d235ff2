import type { Logger } from 'pino';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { PresenceExit, PresenceStore } from '../infra/ports/presence.ts';

/**
 * The lease a node writes its presence entries with, given the configured bound (PRESENCE_LEASE_MS)
 * on how long a dead node's entries may outlive it. They expire at most one lease after the node's
 * last renewal, and a live node sweeps every third of a lease: half the bound as the lease keeps
 * the total (two thirds of the bound) within it, with room for late timers and round trips.
 */
export function presenceLeaseFor(boundMs: number): number {
  return Math.floor(boundMs / 2);
}

/**
 * Entries swept per call: one call blocks Redis for a few milliseconds, and the exits of one chunk
 * are published while the next is swept.
 */
export const SWEEP_CHUNK = 1_000;

/**
 * Keeps this node's presence lease alive and clears the entries of nodes that died, every third of
 * the lease, each on its own timer: renewing the lease (and re-entering local sessions if it had
 * lapsed) never waits behind a sweep, so a dead node with tens of thousands of entries cannot make
 * its sweeper's own lease lapse, and the other nodes sweep the sweeper in turn (a cascade). A sweep
 * goes chunk by chunk and tells the rooms about users who vanished with a dead node as it goes.
 */
export class PresenceKeeper {
  private readonly timers: NodeJS.Timeout[] = [];
  private beating: Promise<void> | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly presence: PresenceStore,
    private readonly feed: RoomFeed,
    private readonly leaseMs: number,
    private readonly reenterAll: () => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const everyMs = Math.max(100, Math.floor(this.leaseMs / 3));
    this.timers.push(
      setInterval(() => {
        this.beating ??= this.heartbeat().finally(() => (this.beating = undefined));
      }, everyMs),
      setInterval(() => {
        this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
      }, everyMs),
    );
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.all([this.beating, this.sweeping]);
  }

  private async heartbeat(): Promise<void> {
    try {
      if (!(await this.presence.heartbeat())) {
        this.logger.warn('presence lease had lapsed; entering local sessions again');
        this.reenterAll();
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'presence heartbeat failed');
    }
  }

  private async sweep(): Promise<void> {
    let publishing: Promise<void> = Promise.resolve();
    try {
      for (let more = true; more;) {
        const chunk = await this.presence.sweep(SWEEP_CHUNK);
        more = chunk.more;
        // One chunk's exits in flight at a time, published together, while the next chunk is swept.
        await publishing;
        publishing = this.publishExits(chunk.exits);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'presence sweep failed');
    }
    await publishing;
  }

  /** Never rejects: an exit is a live signal (at most once), and the entries are gone either way. */
  private async publishExits(exits: PresenceExit[]): Promise<void> {
    try {
      await Promise.all(exits.map(({ roomId, userId }) => this.feed.signal({ kind: 'presence', roomId, userId, event: 'exit' })));
    } catch (error) {
      this.logger.warn({ err: error, exits: exits.length }, 'publishing presence exits failed');
    }
  }
}
