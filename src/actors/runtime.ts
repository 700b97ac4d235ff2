import * as nact from 'nact';
import type { Logger } from 'pino';

/**
 * The project's one door to nact: typed spawn / tell / stop and a supervision policy that can
 * never take the process down. Nothing else imports nact, so the runtime can be measured and
 * replaced on its own.
 *
 * Measured facts that shape this module (see shared notes and bench/):
 * - a parent that receives messages slows down with many children, so actors live under parents
 *   that never receive any;
 * - nact exits the process when a supervision policy throws, so crashes are handled here;
 * - nact runs one message per actor per event-loop turn (a setImmediate each). A room fanning out
 *   to 1,000 sockets makes a turn last milliseconds, which capped a room near 50 messages/s. So
 *   each actor has a mailbox of its own here, and one nact message drains up to TURN_BUDGET of
 *   it in a turn, one message at a time, in order.
 */

declare const refBrand: unique symbol;
/** An address to send messages of type M to. Sending to a stopped actor drops the message. */
export interface ActorRef<M> {
  readonly [refBrand]: M;
}

export interface Behavior<S, M> {
  /** Called at spawn and again after a crash with the `reset` policy. */
  initialState(): S;
  receive(state: S, message: M, self: ActorRef<M>): S | Promise<S>;
  /**
   * What a crash (a thrown error or rejected promise in `receive`) does: `resume` skips the
   * message and keeps the state, `reset` starts over from `initialState`. Default: stop.
   */
  onCrash?: 'resume' | 'reset' | 'stop';
  /** Runs once the actor stopped, with the messages it never got to. */
  afterStop?(state: S, unprocessed: M[]): void;
}

export type Family = 'sessions' | 'rooms' | 'services';

/** How many messages one actor handles in one event-loop turn before letting others run. */
const TURN_BUDGET = 64;
const DRAIN = Symbol('drain');

type NactRef = nact.Ref<unknown>;
type DrainRef = nact.Ref<typeof DRAIN>;

/**
 * One actor's side of the runtime: its behavior and its own mailbox. nact's callbacks are shared by
 * every actor and find the cell by the actor's ref, so an idle actor costs this object and nact's
 * own, and no closures (10,000 sockets are 10,000 session actors).
 */
interface Cell<S, M> {
  readonly name: string;
  readonly behavior: Behavior<S, M>;
  messages: M[];
  /** A drain is queued in nact or running. */
  draining: boolean;
  stopped: boolean;
}

export class ActorRuntime {
  private readonly system = nact.start();
  private readonly families: Record<Family, NactRef>;
  private readonly cells = new WeakMap<object, Cell<any, any>>();
  private counter = 0;

  private readonly receive: nact.ActorFunc<unknown, typeof DRAIN, NactRef> = (state, _message, ctx) => this.drain(ctx.self, state);

  // Only reached if the runtime itself fails; receive errors are handled in drain.
  private readonly onNactCrash: nact.SupervisionActorFunc<typeof DRAIN, NactRef, NactRef> = (message, error, ctx) => {
    const cell = this.cells.get(ctx.self);
    if (cell) this.crashed(cell, error, message);
    return ctx.stop;
  };

  private readonly afterNactStop = (state: unknown, ctx: nact.ActorContextWithMailbox<typeof DRAIN, NactRef>): void => {
    const cell = this.cells.get(ctx.self);
    if (!cell) return;
    cell.stopped = true;
    try {
      cell.behavior.afterStop?.(state, cell.messages.splice(0));
    } catch (error) {
      this.logger.error({ err: error, actor: cell.name }, 'actor cleanup failed');
    }
  };

  constructor(private readonly logger: Logger) {
    const idle = (state: undefined) => state;
    // Parents exist only to hold children; they never receive a message.
    this.families = {
      sessions: nact.spawn(this.system, idle, 'sessions') as NactRef,
      rooms: nact.spawn(this.system, idle, 'rooms') as NactRef,
      services: nact.spawn(this.system, idle, 'services') as NactRef,
    };
  }

  /** Starts an actor; `name` is for logs and need not be unique. */
  spawn<S, M>(family: Family, name: string, behavior: Behavior<S, M>): ActorRef<M> {
    const cell: Cell<S, M> = { name: `${name}-${++this.counter}`, behavior, messages: [], draining: false, stopped: false };
    const ref = nact.spawn(this.families[family], this.receive, cell.name, {
      initialState: behavior.initialState() as unknown,
      onCrash: this.onNactCrash,
      afterStop: this.afterNactStop,
    });
    this.cells.set(ref, cell);
    return ref as unknown as ActorRef<M>;
  }

  tell<M>(ref: ActorRef<M>, message: M): void {
    const cell = this.cells.get(ref);
    if (!cell || cell.stopped) return;
    cell.messages.push(message);
    if (!cell.draining) {
      cell.draining = true;
      nact.dispatch(ref as unknown as DrainRef, DRAIN);
    }
  }

  stop(ref: ActorRef<unknown>): void {
    const cell = this.cells.get(ref);
    if (cell) cell.stopped = true;
    nact.stop(ref as unknown as NactRef);
  }

  shutdown(): void {
    nact.stop(this.system);
  }

  /** One nact message: up to TURN_BUDGET of the actor's own mailbox, one message at a time, in order. */
  private async drain<S, M>(nactRef: DrainRef, state: S): Promise<S> {
    const cell = this.cells.get(nactRef) as Cell<S, M> | undefined;
    if (!cell) return state;
    const self = nactRef as unknown as ActorRef<M>;
    const { behavior, messages } = cell;
    for (let handled = 0; handled < TURN_BUDGET && messages.length > 0 && !cell.stopped; handled++) {
      const message = messages.shift() as M;
      try {
        state = await behavior.receive(state, message, self);
      } catch (error) {
        this.crashed(cell, error, message);
        const policy = behavior.onCrash ?? 'stop';
        if (policy === 'stop') {
          this.stop(self);
          return state;
        }
        if (policy === 'reset') state = behavior.initialState();
      }
    }
    if (messages.length > 0 && !cell.stopped) nact.dispatch(nactRef, DRAIN);
    else {
      cell.draining = false;
      // A fresh empty array has no backing store; the drained one keeps the capacity its first push gave it (~150 bytes).
      if (messages.length === 0) cell.messages = [];
    }
    return state;
  }

  private crashed(cell: Cell<unknown, unknown>, error: unknown, message: unknown): void {
    try {
      this.logger.error({ err: error, actor: cell.name, message: describe(message), policy: cell.behavior.onCrash ?? 'stop' }, 'actor crashed');
    } catch {
      // Logging must not turn a crash into a process exit.
    }
  }
}

/** Enough of a message to tell what it was, without dumping sockets or secrets into logs. */
function describe(message: unknown): unknown {
  if (message && typeof message === 'object' && 'type' in message) return { type: (message as { type: unknown }).type };
  return typeof message;
}
