import type { FeedEntry } from '../infra/ports/feed.ts';

/** Void positions (given up on, or voided by the feed) remembered, so that a message arriving late is delivered once, late. */
const SKIPPED_REMEMBERED = 1_024;

/**
 * A receiver's view of one room's order: hands out entries in seq order, holds a later one while
 * an earlier one is missing, and can give up on a gap (the entry is delivered late if it comes).
 */
export class RoomOrder {
  private next: number;
  /** Created when an entry has to wait and dropped once none does: a room in order holds no collection. */
  private held: Map<number, FeedEntry> | undefined;
  /** Created at the first void position. */
  private skipped: Set<number> | undefined;
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
    for (const seq of this.held?.keys() ?? []) if (highest === undefined || seq > highest) highest = seq;
    return highest;
  }

  /** Takes entries in any order and duplicates; returns those now deliverable, in order. */
  accept(entries: FeedEntry[], now: number): FeedEntry[] {
    const ready: FeedEntry[] = [];
    for (const entry of entries) {
      if (entry.seq === this.next && !this.held) {
        // The common case, in order: no map on the way.
        this.next++;
        if (!('message' in entry)) this.skip(entry.seq);
        ready.push(entry);
      } else if (entry.seq >= this.next) (this.held ??= new Map()).set(entry.seq, entry);
      else if ('message' in entry && this.skipped?.delete(entry.seq)) ready.push(entry);
    }
    this.drain(ready);
    this.gapSince = this.held ? (this.gapSince ?? now) : undefined;
    return ready;
  }

  /**
   * Gives up on the missing positions before the lowest held one; returns what that releases, the
   * given-up positions as voids (a message that comes for one later is still delivered, late).
   */
  skipGap(now: number): FeedEntry[] {
    const { held } = this;
    if (!held) return [];
    let lowest = Infinity;
    for (const seq of held.keys()) lowest = Math.min(lowest, seq);
    for (let seq = this.next; seq < lowest; seq++) held.set(seq, { seq, void: true });
    const ready: FeedEntry[] = [];
    this.drain(ready);
    this.gapSince = this.held ? now : undefined;
    return ready;
  }

  private drain(ready: FeedEntry[]): void {
    const { held } = this;
    if (!held) return;
    for (let entry = held.get(this.next); entry; entry = held.get(this.next)) {
      held.delete(this.next++);
      if (!('message' in entry)) this.skip(entry.seq);
      ready.push(entry);
    }
    if (held.size === 0) this.held = undefined;
  }

  /**
   * A void may still be filled: a sender presumed dead whose message was durable after all (the
   * persister commits it), or a publish that timed out yet succeeded.
   */
  private skip(seq: number): void {
    const skipped = (this.skipped ??= new Set());
    skipped.add(seq);
    if (skipped.size > SKIPPED_REMEMBERED) skipped.delete(skipped.values().next().value!);
  }
}
