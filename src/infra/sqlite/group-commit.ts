interface Waiter<T> {
  items: T[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes that arrive within one turn of the event loop are committed together: one transaction,
 * so one WAL sync (with synchronous=FULL) for hundreds of sends instead of one each. Every caller's
 * promise settles only after COMMIT returned, so an ack that waits for it means "on disk".
 *
 * `write` must run its statements in one transaction (it is given the items of every waiting
 * call). If that transaction fails, each call is retried in a transaction of its own, so a bad
 * item fails only the call that brought it.
 */
export class GroupCommit<T> {
  private waiting: Waiter<T>[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly write: (items: T[]) => void) {}

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      // setImmediate, not a microtask: it runs after the I/O callbacks of this turn, so the sends
      // of every socket that spoke in it share the commit.
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits what is waiting now (also called on close, so nothing queued is dropped). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    try {
      this.write(batch.flatMap((waiter) => waiter.items));
    } catch {
      for (const waiter of batch) this.writeAlone(waiter);
      return;
    }
    for (const waiter of batch) waiter.resolve();
  }

  private writeAlone(waiter: Waiter<T>): void {
    try {
      this.write(waiter.items);
      waiter.resolve();
    } catch (error) {
      waiter.reject(error);
    }
  }
}
