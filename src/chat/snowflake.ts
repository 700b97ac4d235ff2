import type { MessageId } from './model.ts';

/** 2024-01-01T00:00:00Z: ids stay short and sortable for decades. */
export const SNOWFLAKE_EPOCH = 1_704_067_200_000;
const NODE_BITS = 10n;
const SEQUENCE_BITS = 12n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;
export const MAX_NODE_ID = (1 << Number(NODE_BITS)) - 1;

/**
 * 64-bit time-ordered ids: 41 bits of milliseconds since SNOWFLAKE_EPOCH, 10 bits of node id,
 * 12 bits of sequence. Carried as decimal strings because JSON numbers lose precision past 2^53.
 */
export class SnowflakeGenerator {
  private lastMs = -1;
  private sequence = 0;

  constructor(private readonly nodeId: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID) {
      throw new RangeError(`node id must be an integer from 0 to ${MAX_NODE_ID}`);
    }
  }

  next(): MessageId {
    let ms = this.now();
    // A clock that steps back must not produce ids lower than ones already handed out.
    if (ms < this.lastMs) ms = this.lastMs;
    if (ms === this.lastMs) {
      this.sequence = (this.sequence + 1) & MAX_SEQUENCE;
      if (this.sequence === 0) ms = this.lastMs + 1;
    } else {
      this.sequence = 0;
    }
    this.lastMs = ms;
    const id =
      (BigInt(ms - SNOWFLAKE_EPOCH) << (NODE_BITS + SEQUENCE_BITS)) |
      (BigInt(this.nodeId) << SEQUENCE_BITS) |
      BigInt(this.sequence);
    return id.toString();
  }
}

/** Milliseconds since the Unix epoch at which an id was made. */
export function snowflakeTime(id: MessageId): number {
  return Number(BigInt(id) >> (NODE_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH;
}

/** The lowest id that any message made at `ms` can have. */
export function snowflakeAt(ms: number): MessageId {
  return (BigInt(Math.max(0, ms - SNOWFLAKE_EPOCH)) << (NODE_BITS + SEQUENCE_BITS)).toString();
}

/** Orders decimal ids numerically without parsing them. */
export function compareIds(a: MessageId, b: MessageId): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function isSnowflake(value: string): boolean {
  return /^[0-9]{1,19}$/.test(value) && BigInt(value) < 1n << 63n;
}
