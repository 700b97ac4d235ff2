import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ActorRuntime, type Behavior } from '../../src/actors/runtime.ts';
import { waitFor } from '../support/wait.ts';

type Message = { type: 'add'; n: number } | { type: 'boom' } | { type: 'reject' } | { type: 'get'; reply: (n: number) => void };

function counter(onCrash: Behavior<number, Message>['onCrash'], stops: number[] = []): Behavior<number, Message> {
  return {
    initialState: () => 0,
    onCrash,
    async receive(state, message) {
      switch (message.type) {
        case 'add': return state + message.n;
        case 'boom': throw new Error('boom');
        case 'reject': return Promise.reject(new Error('rejected'));
        case 'get': message.reply(state); return state;
      }
    },
    afterStop: (state) => {
      stops.push(state);
      throw new Error('cleanup failure is contained too');
    },
  };
}

function logged() {
  const lines: any[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const ask = (runtime: ActorRuntime, ref: any): Promise<number> => new Promise((resolve) => runtime.tell(ref, { type: 'get', reply: resolve }));

describe('the actor runtime', () => {
  it('processes messages in order, one at a time', async () => {
    const runtime = new ActorRuntime(logged().logger);
    const ref = runtime.spawn<number, Message>('services', 'counter', counter('stop'));
    for (let i = 1; i <= 100; i++) runtime.tell(ref, { type: 'add', n: i });
    assert.equal(await ask(runtime, ref), 5050);
    runtime.shutdown();
  });

  it('keeps state after a crash with resume, starts over with reset, and logs each crash', async () => {
    const { logger, lines } = logged();
    const runtime = new ActorRuntime(logger);
    const resumed = runtime.spawn<number, Message>('rooms', 'resumed', counter('resume'));
    const reset = runtime.spawn<number, Message>('rooms', 'reset', counter('reset'));
    for (const ref of [resumed, reset]) {
      runtime.tell(ref, { type: 'add', n: 5 });
      runtime.tell(ref, { type: 'boom' });
      runtime.tell(ref, { type: 'add', n: 1 });
      runtime.tell(ref, { type: 'reject' });
      runtime.tell(ref, { type: 'add', n: 1 });
    }
    assert.equal(await ask(runtime, resumed), 7, 'resume skips the failing messages only');
    assert.equal(await ask(runtime, reset), 1, 'reset forgets everything before the last crash');
    assert.equal(lines.filter((l) => l.msg === 'actor crashed').length, 4);
    assert.deepEqual(lines[0].message, { type: 'boom' }, 'the log says which message, not its contents');
    runtime.shutdown();
  });

  it('stops a crashing actor by default without taking the process down, and drops later messages', async () => {
    const { logger, lines } = logged();
    const runtime = new ActorRuntime(logger);
    const stops: number[] = [];
    const ref = runtime.spawn<number, Message>('sessions', 'fragile', counter(undefined, stops));
    runtime.tell(ref, { type: 'add', n: 3 });
    runtime.tell(ref, { type: 'boom' });
    await waitFor(() => stops.length === 1, 'the actor to stop');
    assert.deepEqual(stops, [3]);
    runtime.tell(ref, { type: 'add', n: 1 });
    let answered = false;
    runtime.tell(ref, { type: 'get', reply: () => (answered = true) });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(answered, false, 'a stopped actor receives nothing');
    await waitFor(() => lines.some((l) => l.msg === 'actor cleanup failed'), 'the cleanup failure to be logged');
    runtime.shutdown();
  });
});
