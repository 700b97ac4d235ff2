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

interface Mailbox<M> {
  messages: M[];
  /** A drain is queued in nact or running. */
  draining: boolean;
  stopped: boolean;
}

export class ActorRuntime {
  private readonly system = nact.start();
  private readonly families: Record<Family, NactRef>;
  private readonly mailboxes = new WeakMap<object, Mailbox<unknown>>();
  private counter = 0;

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
    const uniqueName = `${name}-${++this.counter}`;
    const log = this.logger;
    const policy = behavior.onCrash ?? 'stop';
    const mailbox: Mailbox<M> = { messages: [], draining: false, stopped: false };
    let self: ActorRef<M>;

    const crashed = (error: unknown, message: unknown): void => {
      try {
        log.error({ err: error, actor: uniqueName, message: describe(message), policy }, 'actor crashed');
      } catch {
        // Logging must not turn a crash into a process exit.
      }
    };

    const drain = async (state: S): Promise<S> => {
      for (let handled = 0; handled < TURN_BUDGET && mailbox.messages.length > 0 && !mailbox.stopped; handled++) {
        const message = mailbox.messages.shift() as M;
        try {
          state = await behavior.receive(state, message, self);
        } catch (error) {
          crashed(error, message);
          if (policy === 'stop') {
            this.stop(self);
            return state;
          }
          if (policy === 'reset') state = behavior.initialState();
        }
      }
      if (mailbox.messages.length > 0 && !mailbox.stopped) nact.dispatch(ref, DRAIN);
      else mailbox.draining = false;
      return state;
    };

    const ref = nact.spawn(this.families[family], (state: S) => drain(state), uniqueName, {
      initialStateFunc: () => behavior.initialState(),
      // Only reached if the runtime itself fails; receive errors are handled in drain.
      onCrash: (message: unknown, error: unknown, ctx) => {
        crashed(error, message);
        return ctx.stop;
      },
      afterStop: (state: S) => {
        mailbox.stopped = true;
        try {
          behavior.afterStop?.(state, mailbox.messages.splice(0));
        } catch (error) {
          log.error({ err: error, actor: uniqueName }, 'actor cleanup failed');
        }
      },
    });
    self = ref as unknown as ActorRef<M>;
    this.mailboxes.set(self, mailbox as Mailbox<unknown>);
    return self;
  }

  tell<M>(ref: ActorRef<M>, message: M): void {
    const mailbox = this.mailboxes.get(ref);
    if (!mailbox || mailbox.stopped) return;
    mailbox.messages.push(message);
    if (!mailbox.draining) {
      mailbox.draining = true;
      nact.dispatch(ref as unknown as nact.Ref<typeof DRAIN>, DRAIN);
    }
  }

  stop(ref: ActorRef<unknown>): void {
    const mailbox = this.mailboxes.get(ref);
    if (mailbox) mailbox.stopped = true;
    nact.stop(ref as unknown as NactRef);
  }

  shutdown(): void {
    nact.stop(this.system);
  }
}

/** Enough of a message to tell what it was, without dumping sockets or secrets into logs. */
function describe(message: unknown): unknown {
  if (message && typeof message === 'object' && 'type' in message) return { type: (message as { type: unknown }).type };
  return typeof message;
}
