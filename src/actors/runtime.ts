import * as nact from 'nact';
import type { Logger } from 'pino';

/**
 * The project's one door to nact: typed spawn / tell / stop and a supervision policy that can
 * never take the process down. Nothing else imports nact, so the runtime can be measured and
 * replaced on its own.
 *
 * Measured facts that shape this module (see shared notes): a parent that receives messages
 * slows down with many children, so actors live under parents that never receive any; nact
 * exits the process when a supervision policy throws, so the policy here cannot throw.
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

type NactRef = nact.Ref<unknown>;
const toNact = (ref: ActorRef<unknown>): NactRef => ref as unknown as NactRef;

export class ActorRuntime {
  private readonly system = nact.start();
  private readonly families: Record<Family, NactRef>;
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
    let self: ActorRef<M>;
    const ref = nact.spawn(
      this.families[family],
      (state: S, message: M) => behavior.receive(state, message, self),
      uniqueName,
      {
        initialStateFunc: () => behavior.initialState(),
        onCrash: (message: unknown, error: unknown, ctx) => {
          try {
            log.error({ err: error, actor: uniqueName, message: describe(message), policy }, 'actor crashed');
          } catch {
            // Logging must not turn a crash into a process exit.
          }
          return policy === 'resume' ? ctx.resume : policy === 'reset' ? ctx.reset : ctx.stop;
        },
        afterStop: (state: S, ctx) => {
          try {
            behavior.afterStop?.(state, ctx.mailbox.map((entry) => (entry as unknown as { message: M }).message));
          } catch (error) {
            log.error({ err: error, actor: uniqueName }, 'actor cleanup failed');
          }
        },
      },
    );
    self = ref as unknown as ActorRef<M>;
    return self;
  }

  tell<M>(ref: ActorRef<M>, message: M): void {
    nact.dispatch(toNact(ref) as nact.Ref<M>, message);
  }

  stop(ref: ActorRef<unknown>): void {
    nact.stop(toNact(ref));
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
