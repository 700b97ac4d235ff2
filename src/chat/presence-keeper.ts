import type { Logger } from 'pino';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';

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
 * Keeps this node's presence lease alive and clears the entries of nodes that died: every third
 * of the lease it renews, re-enters local sessions if the lease had lapsed, and sweeps, telling
 * the rooms about users who vanished with a dead node.
 */
export class PresenceKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly presence: PresenceStore,
    private readonly feed: RoomFeed,
    private readonly leaseMs: number,
    private readonly reenterAll: () => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    try {
      if (!(await this.presence.heartbeat())) {
        this.logger.warn('presence lease had lapsed; entering local sessions again');
        this.reenterAll();
      }
      const departed = await this.presence.sweep();
      await Promise.all(departed.map(({ roomId, userId }) => this.feed.signal({ kind: 'presence', roomId, userId, event: 'exit' })));
    } catch (error) {
      this.logger.warn({ err: error }, 'presence heartbeat or sweep failed');
    }
  }
}
