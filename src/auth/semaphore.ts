import { ChatError } from '../chat/errors.ts';

/**
 * At most `limit` tasks run at once; later ones wait in arrival order. When `maxWaiting` are
 * already waiting, a new task is refused at once (503) rather than queued: under a flood, a
 * quick "busy" beats an answer that arrives after the client gave up.
 */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number, readonly maxWaiting: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`semaphore maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  /** Tasks running right now, and tasks waiting for a slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new ChatError(503, 'busy', 'the server is busy checking passwords: retry in a moment'));
    }
    // The slot passes straight from the releasing task to the waiter, so `running` never dips.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
