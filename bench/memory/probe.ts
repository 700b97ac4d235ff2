import { setImmediate as nextTurn } from 'node:timers/promises';
import v8 from 'node:v8';
import type { ProbeReply, ProbeRequest } from './probe-protocol.ts';

/**
 * Loaded into the flametalk process under measurement only (`node --expose-gc --import <this bundle>
 * dist/main.js`, with an IPC channel): answers the memory bench's requests for a garbage-collected
 * heap figure or a heap snapshot. Nothing in src/ knows about it.
 */

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('the memory probe needs node --expose-gc');

async function collect(): Promise<void> {
  // Two full collections a turn apart: the first one's weak callbacks and finalizers free more for the second.
  gc!();
  await nextTurn();
  gc!();
}

async function answer(request: ProbeRequest): Promise<ProbeReply> {
  await collect();
  const usage = process.memoryUsage();
  const base = { id: request.id, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers, rss: usage.rss };
  if (request.op === 'snapshot') return { ...base, snapshot: v8.writeHeapSnapshot(request.path) };
  return base;
}

process.on('message', (raw) => {
  const request = raw as ProbeRequest;
  if (typeof request !== 'object' || request === null || !('probe' in request)) return;
  answer(request).then(
    (reply) => process.send?.(reply),
    (error: unknown) => process.send?.({ id: request.id, error: String(error) }),
  );
});
// The probe must not keep a stopping server alive.
process.channel?.unref();
