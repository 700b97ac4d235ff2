import type { FeedEntry } from '../infra/ports/feed.ts';

/** Void positions (given up on, or voided by the feed) remembered, so that a message arriving late is delivered once, late. */
const SKIPPED_REMEMBERED = 1_024;

/**
 * A receiver's view of one room's order: hands out entries in seq order, holds a later one while
 * an earlier one is missing, and can give up on a gap (the entry is delivered late if it comes).
 */
export class RoomOrder {
  private next: number;
  private readonly held = new Map<number, FeedEntry>();
  private readonly skipped = new Set<number>();
  /** When the current gap was first seen (performance.now()), or undefined with no gap. */
  gapSince: number | undefined;

  constructor(through: number) {
    this.next = through + 1;
  }

  /** The first seq not delivered yet. */
  get expected(): number {
    return this.next;
  }

  /** The highest seq held behind a gap, or undefined. */
  get heldUpTo(): number | undefined {
    let highest: number | undefined;
    for (const seq of this.held.keys()) if (highest === undefined || seq > highest) highest = seq;
    return highest;
  }

  /** Takes entries in any order and duplicates; returns those now deliverable, in order. */
  accept(entries: FeedEntry[], now: number): FeedEntry[] {
    const ready: FeedEntry[] = [];
    for (const entry of entries) {
      if (entry.seq >= this.next) this.held.set(entry.seq, entry);
      else if ('message' in entry && this.skipped.delete(entry.seq)) ready.push(entry);
    }
    this.drain(ready);
    this.gapSince = this.held.size === 0 ? undefined : (this.gapSince ?? now);
    return ready;
  }

  /**
   * Gives up on the missing positions before the lowest held one; returns what that releases, the
   * given-up positions as voids (a message that comes for one later is still delivered, late).
   */
  skipGap(now: number): FeedEntry[] {
    let lowest = Infinity;
    for (const seq of this.held.keys()) lowest = Math.min(lowest, seq);
    if (lowest === Infinity) return [];
    for (let seq = this.next; seq < lowest; seq++) this.held.set(seq, { seq, void: true });
    const ready: FeedEntry[] = [];
    this.drain(ready);
    this.gapSince = this.held.size === 0 ? undefined : now;
    return ready;
  }

  private drain(ready: FeedEntry[]): void {
    for (let entry = this.held.get(this.next); entry; entry = this.held.get(this.next)) {
      this.held.delete(this.next++);
      // A void may still be filled: a sender presumed dead whose message was durable after all
      // (the persister commits it), or a publish that timed out yet succeeded.
      if (!('message' in entry)) this.skip(entry.seq);
      ready.push(entry);
    }
  }

  private skip(seq: number): void {
    this.skipped.add(seq);
    if (this.skipped.size > SKIPPED_REMEMBERED) this.skipped.delete(this.skipped.values().next().value!);
  }
}
