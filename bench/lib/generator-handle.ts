import { join } from 'node:path';
import { bundle, CACHE_DIR } from './build.ts';
import type { CloseResult, LoadRequest, LoadResult, OpenRequest, OpenResult, Reply, Request, StatusResult } from './gen-protocol.ts';
import { GENERATOR_CORE, spawnNode, type PinnedProcess } from './process.ts';
import { cpuSeconds } from './proc.ts';

type Op = Request['op'];
type Args<O extends Op> = Extract<Request, { op: O }>['args'];

/** The harness's side of one load-generator process. */
export class Generator {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

  private constructor(readonly process: PinnedProcess) {
    process.child.on('message', (raw) => {
      const reply = raw as Reply;
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(`generator ${process.pid}: ${reply.error}`));
      else waiter.resolve(reply.result);
    });
    process.exited.then((exit) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`generator ${process.pid} exited (${exit.code ?? exit.signal})`));
      this.waiting.clear();
    });
  }

  static async start(label: string): Promise<Generator> {
    const file = await bundle('generator');
    const proc = spawnNode(`generator ${label}`, ['--max-old-space-size=4096', file], {
      core: GENERATOR_CORE, ipc: true, logFile: join(CACHE_DIR, 'logs', `generator-${label}.log`),
    });
    const generator = new Generator(proc);
    await new Promise<void>((resolve, reject) => {
      generator.waiting.set(0, { resolve: () => resolve(), reject });
    });
    return generator;
  }

  get pid(): number {
    return this.process.pid;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  private call<O extends Op, R>(op: O, args: Args<O>): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.child.send({ id, op, args } as Request);
    });
  }

  open(args: OpenRequest): Promise<OpenResult> {
    return this.call('open', args);
  }

  load(args: LoadRequest): Promise<LoadResult> {
    return this.call('load', args);
  }

  status(): Promise<StatusResult> {
    return this.call('status', {});
  }

  /** Closes the sockets, then ends the process. */
  async stop(): Promise<CloseResult | undefined> {
    let result: CloseResult | undefined;
    if (this.process.alive) {
      result = await this.call<'close', CloseResult>('close', {}).catch(() => undefined);
      this.process.child.disconnect?.();
    }
    await this.process.stop(5_000);
    return result;
  }
}
