import type { SendDeduplicator } from '../infra/ports/dedup.ts';
import type { RoomFeed } from '../infra/ports/feed.ts';
import type { MessageId, RoomId } from './model.ts';

/**
 * Keeps one send attempt's room position and de-duplication claim leased while the attempt works
 * on them: renewed every third of the lease, however long the durable step takes (the bus may
 * retry for its whole publish window). So they lapse soon after the attempt's node dies, and only
 * then: a retry of the message, and the room's later deliveries, wait at most one lease for it.
 */
export class SendLease {
  /** The position this attempt holds, if any. */
  seq: number | undefined;
  /** The claim this attempt holds, if any. */
  claim: { key: string; messageId: MessageId } | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly roomId: RoomId,
    private readonly ports: { feed: RoomFeed; dedup: SendDeduplicator },
    private readonly leaseMs: number,
  ) {
    this.timer = setInterval(() => this.renew(), Math.max(1, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A renewal that fails leaves the lease to run out: another attempt may then take over, under the same id. */
  private renew(): void {
    if (this.seq !== undefined) this.ports.feed.renew(this.roomId, [this.seq], this.leaseMs).catch(() => undefined);
    if (this.claim) this.ports.dedup.renew(this.claim.key, this.claim.messageId, this.leaseMs).catch(() => undefined);
  }
}
