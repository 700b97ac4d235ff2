import type { MessageId } from './model.ts';

/** 2024-01-01T00:00:00Z: ids stay short and sortable for decades. */
export const SNOWFLAKE_EPOCH = 1_704_067_200_000;
const NODE_BITS = 10n;
const SEQUENCE_BITS = 12n;
/** Below each millisecond's node id: 22 bits of node id and sequence. */
export const REST_BITS = Number(NODE_BITS + SEQUENCE_BITS);
/**
 * The generator uses the lower half of the sequence space; the upper half is for ids a room's order
 * had to raise (see `raisedAt`), so a raised id can never equal one the generator makes.
 */
const GENERATED_SEQUENCES = 1 << (Number(SEQUENCE_BITS) - 1);
const RAISED_SEQUENCES = GENERATED_SEQUENCES;
export const MAX_NODE_ID = (1 << Number(NODE_BITS)) - 1;

/**
 * 64-bit time-ordered ids: 41 bits of milliseconds since SNOWFLAKE_EPOCH, 10 bits of node id,
 * 12 bits of sequence. Carried as decimal strings because JSON numbers lose precision past 2^53.
 */
export class SnowflakeGenerator {
  private lastMs = -1;
  private sequence = 0;
  private raisedMs = -1;
  private raisedCount = 0;

  constructor(readonly nodeId: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > MAX_NODE_ID) {
      throw new RangeError(`node id must be an integer from 0 to ${MAX_NODE_ID}`);
    }
  }

  next(): MessageId {
    let ms = this.now();
    // A clock that steps back must not produce ids lower than ones already handed out.
    if (ms < this.lastMs) ms = this.lastMs;
    if (ms === this.lastMs) {
      this.sequence++;
      if (this.sequence === GENERATED_SEQUENCES) {
        this.sequence = 0;
        ms = this.lastMs + 1;
      }
    } else {
      this.sequence = 0;
    }
    this.lastMs = ms;
    return compose(ms - SNOWFLAKE_EPOCH, this.nodeId, this.sequence);
  }

  /**
   * An id of this node in the given millisecond (since SNOWFLAKE_EPOCH) for a message whose room
   * already had ids as high as its candidate: unique, because generated ids never use these sequences.
   */
  raisedAt(epochMs: number): MessageId {
    if (epochMs !== this.raisedMs) {
      this.raisedMs = epochMs;
      this.raisedCount = 0;
    }
    if (this.raisedCount === RAISED_SEQUENCES) throw new RangeError('too many raised ids in one millisecond');
    return compose(epochMs, this.nodeId, GENERATED_SEQUENCES + this.raisedCount++);
  }
}

function compose(epochMs: number, nodeId: number, sequence: number): MessageId {
  return ((BigInt(epochMs) << (NODE_BITS + SEQUENCE_BITS)) | (BigInt(nodeId) << SEQUENCE_BITS) | BigInt(sequence)).toString();
}

/** An id's milliseconds since SNOWFLAKE_EPOCH and the 22 bits below them (numbers: both fit a double). */
export function idParts(id: MessageId): { ms: number; rest: number } {
  const value = BigInt(id);
  return { ms: Number(value >> BigInt(REST_BITS)), rest: Number(value & ((1n << BigInt(REST_BITS)) - 1n)) };
}

export function idFromParts(ms: number, rest: number): MessageId {
  return ((BigInt(ms) << BigInt(REST_BITS)) | BigInt(rest)).toString();
}

/** Milliseconds since the Unix epoch at which an id was made. */
export function snowflakeTime(id: MessageId): number {
  return Number(BigInt(id) >> (NODE_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH;
}

/** The lowest id that any message made at `ms` can have. */
export function snowflakeAt(ms: number): MessageId {
  return (BigInt(Math.max(0, ms - SNOWFLAKE_EPOCH)) << (NODE_BITS + SEQUENCE_BITS)).toString();
}

/** Orders canonical decimal ids numerically without parsing them. */
export function compareIds(a: MessageId, b: MessageId): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

const MAX_ID = (1n << 63n) - 1n;

/** A canonical id: decimal, no leading zeros, at most 2^63 − 1 (so that compareIds orders it). */
export function isSnowflake(value: string): boolean {
  return /^(0|[1-9][0-9]{0,18})$/.test(value) && BigInt(value) <= MAX_ID;
}
