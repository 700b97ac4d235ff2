import { Histogram } from './lib/histogram.ts';
import { createClient, nowMicros, type LoadClient, type Sink } from './lib/clients.ts';
import type { ClientSpec, CloseResult, LoadRequest, LoadResult, OpenRequest, OpenResult, Reply, Request, StatusResult } from './lib/gen-protocol.ts';

/**
 * A load-generator process: opens sockets, joins rooms, sends at a fixed rate and measures
 * send→receive latency itself (the send time travels inside the message). Driven by the
 * harness over IPC; pinned to its own core.
 */

const clients: Array<LoadClient | undefined> = [];
const roomSizes = new Map<string, number>();
/** Nodes (indexes) that hold at least one socket of the room. */
const roomNodes = new Map<string, Set<number>>();
const events: Record<string, number> = {};
const samples: string[] = [];

/** The measurement in progress, if any. */
interface Measurement {
  loadId: number;
  windowEndMicros: number;
  delivered: number;
  deliveredInWindow: number;
  acked: number;
  stale: number;
  latency: Histogram;
  byGroup: Map<string, Histogram>;
  ackLatency: Histogram;
  /** Per sender: ref → the time the message was meant to be sent (the schedule), µs. */
  ackSentAt: Map<LoadClient, Map<number, number>>;
  /** How late the generator actually sent each message after its scheduled time. */
  sendLag: Histogram;
  /** Messages sent into rooms with a socket on node n (cluster), by node index. */
  sentByNode: number[];
}
let current: Measurement | undefined;
let loads = 0;
/** When the last delivery of any load arrived: a load starts only once the previous one stopped arriving. */
let lastDeliveryMicros = 0;

const sink: Sink = {
  delivery(client, loadId, sentMicros) {
    const m = current;
    lastDeliveryMicros = nowMicros();
    if (!m || loadId !== m.loadId) {
      events['stale delivery'] = (events['stale delivery'] ?? 0) + 1;
      return;
    }
    const now = nowMicros();
    const micros = now - sentMicros;
    m.latency.record(micros);
    const group = client.spec.group;
    if (group !== undefined) {
      let histogram = m.byGroup.get(group);
      if (!histogram) m.byGroup.set(group, (histogram = new Histogram()));
      histogram.record(micros);
    }
    m.delivered++;
    if (now <= m.windowEndMicros) m.deliveredInWindow++;
  },
  ack(client, ref) {
    const m = current;
    const sentAt = m?.ackSentAt.get(client)?.get(ref);
    if (!m || sentAt === undefined) return;
    m.ackSentAt.get(client)!.delete(ref);
    m.acked++;
    m.ackLatency.record(nowMicros() - sentAt);
  },
  event(kind, sample) {
    events[kind] = (events[kind] ?? 0) + 1;
    if (sample !== undefined && samples.length < 20) samples.push(`${kind}: ${sample}`);
  },
};

/** Runs `work` over indexes 0..count-1 with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

const failureKind = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\d{2,}/g, 'N').slice(0, 120);
};

async function open({ clients: specs, concurrency, roundTrip }: OpenRequest): Promise<OpenResult> {
  const failures: Record<string, number> = {};
  const base = clients.length;
  const fail = (error: unknown, index: number): void => {
    const kind = failureKind(error);
    failures[kind] = (failures[kind] ?? 0) + 1;
    clients[base + index]?.close();
    clients[base + index] = undefined;
  };
  const startedAt = nowMicros() / 1000;
  await pool(specs.length, concurrency, async (i) => {
    const client = createClient(specs[i] as ClientSpec, sink);
    clients[base + i] = client;
    await client.connect(roundTrip).catch((error: unknown) => fail(error, i));
  });
  const connectedAt = nowMicros() / 1000;
  await pool(specs.length, concurrency, async (i) => {
    const client = clients[base + i];
    if (!client) return;
    try {
      for (const roomId of client.spec.rooms) {
        await client.join(roomId);
        roomSizes.set(roomId, (roomSizes.get(roomId) ?? 0) + 1);
        if (client.spec.node !== undefined) {
          let nodes = roomNodes.get(roomId);
          if (!nodes) roomNodes.set(roomId, (nodes = new Set()));
          nodes.add(client.spec.node);
        }
      }
    } catch (error) {
      fail(error, i);
    }
  });
  const joinedAt = nowMicros() / 1000;
  const opened = specs.reduce((n, _, i) => n + (clients[base + i] ? 1 : 0), 0);
  return { opened, failed: specs.length - opened, failures, startedAt, connectedAt, joinedAt };
}

const snapshot = (): Record<string, number> => ({ ...events });
const diff = (before: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(events).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));

async function load(request: LoadRequest): Promise<LoadResult> {
  const senders = request.senders.map((i) => clients[i]).filter((c): c is LoadClient => c !== undefined);
  if (senders.length === 0) throw new Error('no open sender');
  // A server still delivering an earlier load's backlog would charge its work to this one.
  const settleDeadline = nowMicros() + 60e6;
  while (nowMicros() - lastDeliveryMicros < 500e3 && nowMicros() < settleDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const loadId = ++loads;
  const eventsBefore = snapshot();
  const cpuBefore = process.cpuUsage();
  const start = nowMicros();
  const m: Measurement = {
    loadId, windowEndMicros: start + request.durationMs * 1000, delivered: 0, deliveredInWindow: 0, acked: 0, stale: 0,
    latency: new Histogram(), byGroup: new Map(), ackLatency: new Histogram(), ackSentAt: new Map(senders.map((c) => [c, new Map()])),
    sendLag: new Histogram(), sentByNode: [],
  };
  current = m;
  const padding = 'x'.repeat(Math.max(0, request.contentBytes - 30));
  let sent = 0;
  let expected = 0;
  let turn = 0;
  const intervalMicros = 1e6 / request.rate;
  await new Promise<void>((resolve) => {
    // A 1 ms timer: each tick sends what the schedule calls for since the start, so late ticks catch up.
    // Message k is stamped with its scheduled time (start + (k + 1) / rate), not the time it left: a generator
    // that stalls (GC, a busy core) then shows up as latency instead of quietly sending later and
    // hiding the queueing it would have met (coordinated omission). How late it ran is reported apart.
    const timer = setInterval(() => {
      const now = nowMicros();
      const elapsed = Math.min(now, m.windowEndMicros) - start;
      const due = Math.floor((request.rate * elapsed) / 1e6) - sent;
      for (let k = 0; k < due; k++) {
        const client = senders[turn++ % senders.length]!;
        if (!client.isOpen) continue;
        const roomId = client.spec.rooms[0]!;
        // Message k (from 0) falls due when ⌊rate · elapsed⌋ reaches k + 1.
        const scheduled = Math.round(start + (sent + 1) * intervalMicros);
        const ref = client.send(roomId, `bench:${loadId}:${scheduled}:${padding}`);
        m.sendLag.record(nowMicros() - scheduled);
        m.ackSentAt.get(client)!.set(ref, scheduled);
        expected += (roomSizes.get(roomId) ?? 1) - 1;
        for (const node of roomNodes.get(roomId) ?? []) m.sentByNode[node] = (m.sentByNode[node] ?? 0) + 1;
        sent++;
      }
      if (now >= m.windowEndMicros) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const drainStart = nowMicros();
  // Deliveries still in flight are waited for while they keep coming (a backlog draining), up to drainMs;
  // two seconds without any means what is missing is lost.
  while ((m.delivered < expected || m.acked < sent) && nowMicros() - drainStart < request.drainMs * 1000 &&
    nowMicros() - Math.max(lastDeliveryMicros, drainStart) < 2e6) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const elapsedMs = (nowMicros() - start) / 1000;
  current = undefined;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    sent, acked: m.acked, expected, delivered: m.delivered, deliveredInWindow: m.deliveredInWindow,
    windowMs: request.durationMs, elapsedMs,
    latency: m.latency.summary(),
    latencyByGroup: Object.fromEntries([...m.byGroup].map(([group, h]) => [group, h.summary()])),
    ackLatency: m.ackLatency.summary(),
    sendLag: m.sendLag.summary(),
    sentByNode: Array.from(m.sentByNode, (n) => n ?? 0),
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    generatorSystemSeconds: cpu.system / 1e6,
    events: diff(eventsBefore),
  };
}

function status(): StatusResult {
  return { open: clients.filter((c) => c?.isOpen).length, events: { ...events }, samples };
}

async function close(): Promise<CloseResult> {
  const open = clients.filter((c): c is LoadClient => c !== undefined);
  await pool(open.length, 500, (i) => open[i]!.close());
  return { closed: open.length };
}

process.on('message', (raw) => {
  const request = raw as Request;
  const run = (): Promise<unknown> => {
    switch (request.op) {
      case 'open': return open(request.args);
      case 'load': return load(request.args);
      case 'status': return Promise.resolve(status());
      case 'close': return close();
    }
  };
  run().then(
    (result) => process.send!({ id: request.id, result } satisfies Reply),
    (error: unknown) => process.send!({ id: request.id, error: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies Reply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, result: 'ready' } satisfies Reply);
