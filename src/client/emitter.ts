type Listener<Args extends unknown[]> = (...args: Args) => void;

/** Reports a listener's exception without letting it break the SDK's own bookkeeping. */
function report(error: unknown): void {
  const global = globalThis as { reportError?: (error: unknown) => void };
  if (global.reportError) global.reportError(error);
  else console.error(error);
}

/** A tiny typed event emitter that works the same in browsers and Node (no node:events). */
export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  // Typed at on/emit; the map itself cannot express the per-event types.
  private readonly listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();

  /** Adds a listener; the returned function removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        report(error);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
