import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bundle, CACHE_DIR } from '../lib/build.ts';
import { Generator } from '../lib/generator-handle.ts';
import { clientIndex, place, type Layout } from '../lib/layout.ts';
import { log, withPeer } from '../lib/peer-run.ts';
import { killAll, pinSelf } from '../lib/process.ts';
import { RESULTS_DIR } from '../lib/report.ts';
import type { PeerServer, StartOptions } from '../lib/servers.ts';
import type { HeapFigures, ProbeReply, ProbeRequest } from './probe-protocol.ts';

/**
 * `npm run bench:memory`: what a socket joined to a small room costs flametalk. Starts the built
 * server (embedded mode, once per storage) with a probe that reports the heap after a full GC, opens
 * `rooms × members` real sockets from a load-generator process, joins each to its room, then sends
 * `messages` per room; heap and RSS per socket are the growth over the same server before any socket.
 * See bench/README.md.
 */

const USAGE = `usage: npm run bench:memory -- [options]
  --rooms N          rooms (default 2000)
  --members N        sockets per room, one user each (default 5)
  --messages N       messages sent per room after joining (default 20)
  --rate N           messages/s over all rooms while sending them (default 4000)
  --quiet S          seconds to wait after the traffic before measuring again, rooms quiet (default 35:
                     longer than ROOM_IDLE_MS, after which a quiet room lets its recent messages go); 0: skip
  --storage a,b      EMBEDDED_STORAGE runs, one fresh server each (default memory,sqlite)
  --snapshots        also write heap snapshots (bench/.cache/heap/) and list what grew, by constructor;
                     a snapshot inflates RSS, so RSS figures of such a run are not comparable
  --flametalk dist|tsx   run dist/main.js (default, built first) or src/main.ts under tsx
  --env KEY=VALUE    extra flametalk environment (repeatable)`;

const { values } = parseArgs({
  options: {
    rooms: { type: 'string', default: '2000' },
    members: { type: 'string', default: '5' },
    messages: { type: 'string', default: '20' },
    rate: { type: 'string', default: '4000' },
    quiet: { type: 'string', default: '35' },
    storage: { type: 'string', default: 'memory,sqlite' },
    snapshots: { type: 'boolean', default: false },
    flametalk: { type: 'string', default: 'dist' },
    env: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const rooms = Number(values.rooms);
const members = Number(values.members);
const messagesPerRoom = Number(values.messages);
const rate = Number(values.rate);
const quietMs = Number(values.quiet) * 1000;
const storages = values.storage.split(',').filter(Boolean);
const extraEnv = Object.fromEntries((values.env ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
const runId = `memory-${Date.now().toString(36)}`;
const SETTLE_MS = 3_000;
const MiB = 2 ** 20;

/** The harness's side of the probe inside the server process. */
class Probe {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ProbeReply) => void>();

  constructor(private readonly server: PeerServer) {
    server.nodes[0]!.process.child.on('message', (raw) => {
      const reply = raw as ProbeReply;
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  async figures(snapshotPath?: string): Promise<HeapFigures> {
    const id = this.nextId++;
    const request: ProbeRequest = snapshotPath ? { probe: true, id, op: 'snapshot', path: snapshotPath } : { probe: true, id, op: 'measure' };
    const reply = await new Promise<ProbeReply>((resolve) => {
      this.waiting.set(id, resolve);
      this.server.nodes[0]!.process.child.send(request);
    });
    if ('error' in reply) throw new Error(`memory probe: ${reply.error}`);
    return reply;
  }
}

type PointKind = 'started' | 'empty' | 'joined' | 'traffic' | 'quiet' | 'closed';

interface Point extends HeapFigures {
  kind: PointKind;
  label: string;
  sockets: number;
}

interface StorageRun {
  storage: string;
  points: Point[];
  opened: number;
  sent: number;
  delivered: number;
  expected: number;
  /** Heap snapshot growth tables (--snapshots). */
  growth: Record<string, string>;
  error?: string;
}

async function measureStorage(storage: string, probeBundle: string): Promise<StorageRun> {
  const run: StorageRun = { storage, points: [], opened: 0, sent: 0, delivered: 0, expected: 0, growth: {} };
  const snapshotDir = join(CACHE_DIR, 'heap');
  mkdirSync(snapshotDir, { recursive: true });
  const snapshots = new Map<string, string>();
  const start: StartOptions = {
    runId: `${runId}-${storage}`, nodes: 1, flametalkEntry: values.flametalk === 'tsx' ? 'tsx' : 'dist',
    flametalkEnv: { ...extraEnv, EMBEDDED_STORAGE: storage },
    flametalkNodeArgs: ['--expose-gc', '--import', pathToFileURL(probeBundle).href],
    flametalkIpc: true,
  };
  const result = await withPeer('flametalk', start, async (server) => {
    const probe = new Probe(server);
    const point = async (kind: PointKind, label: string, sockets: number): Promise<void> => {
      await sleep(SETTLE_MS);
      const figures = await probe.figures();
      run.points.push({ kind, label, sockets, ...figures });
      log(`${storage} ${label}: heap ${(figures.heapUsed / MiB).toFixed(1)} MiB, RSS ${(figures.rss / MiB).toFixed(1)} MiB`);
      if (values.snapshots) {
        const path = join(snapshotDir, `${runId}-${storage}-${label.replace(/\W+/g, '-')}.heapsnapshot`);
        await probe.figures(path);
        snapshots.set(kind, path);
      }
    };
    await point('started', 'started', 0);
    const layout: Layout = { rooms, socketsPerRoom: members, users: members };
    const placed = await place(server, layout);
    await point('empty', '0 sockets (users and rooms created)', 0);
    const generator = await Generator.start(`memory-${storage}`);
    try {
      const opened = await generator.open({ clients: placed.specs, concurrency: 100, roundTrip: false });
      run.opened = opened.opened;
      if (opened.failed) log(`${storage}: ${opened.failed} sockets failed: ${JSON.stringify(opened.failures)}`);
      await point('joined', `${opened.opened} sockets joined, idle`, opened.opened);
      if (messagesPerRoom > 0) {
        const senders: number[] = [];
        for (let k = 0; k < members; k++) for (let r = 0; r < rooms; r++) senders.push(clientIndex(layout, r, k));
        const load = await generator.load({ senders, rate, durationMs: (1000 * messagesPerRoom * rooms) / rate, drainMs: 30_000, contentBytes: 64 });
        Object.assign(run, { sent: load.sent, delivered: load.delivered, expected: load.expected });
        log(`${storage}: sent ${load.sent}, acked ${load.acked}, delivered ${load.delivered}/${load.expected}`);
        await point('traffic', `${opened.opened} sockets after ${messagesPerRoom} messages per room`, opened.opened);
        if (quietMs > 0) {
          await sleep(quietMs);
          await point('quiet', `${opened.opened} sockets, rooms quiet for ${quietMs / 1000} s more`, opened.opened);
        }
      }
    } finally {
      await generator.stop();
    }
    await point('closed', 'sockets closed', 0);
  });
  if (result.error) run.error = result.error;
  for (const [before, after] of [['empty', 'joined'], ['joined', 'traffic'], ['traffic', 'quiet']] as const) {
    if (!snapshots.has(before) || !snapshots.has(after)) continue;
    run.growth[`${before} → ${after}`] = heapGrowth(snapshots.get(before)!, snapshots.get(after)!, Math.max(1, run.opened));
  }
  return run;
}

/** A snapshot of 10,000 sockets is a few hundred MB of JSON: summarised in a process with a heap to match. */
function heapGrowth(before: string, after: string, sockets: number): string {
  const script = join(import.meta.dirname, 'heap-summary.ts');
  return execFileSync(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', script, before, after, String(sockets)], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim();
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(2);

function perSocket(run: StorageRun): Record<string, number> {
  const at = (kind: PointKind): Point | undefined => run.points.find((p) => p.kind === kind);
  const base = at('empty');
  if (!base || run.opened === 0) return {};
  const figures: Record<string, number> = {};
  for (const [kind, name] of [['joined', 'Idle'], ['traffic', 'AfterTraffic'], ['quiet', 'Quiet']] as const) {
    const point = at(kind);
    if (!point) continue;
    figures[`heapBytesPerSocket${name}`] = Math.round((point.heapUsed - base.heapUsed) / run.opened);
    figures[`rssBytesPerSocket${name}`] = Math.round((point.rss - base.rss) / run.opened);
  }
  return figures;
}

function markdown(runs: StorageRun[]): string {
  const lines = [
    `# Memory per joined socket (${rooms} rooms × ${members} members, ${messagesPerRoom} messages per room)`, '',
    `${new Date().toISOString()}, flametalk ${values.flametalk === 'tsx' ? 'src/main.ts under tsx' : 'dist/main.js'}, embedded mode; figures after two full GCs.`,
    'Per socket: growth over the same server with its users and rooms created but no socket, ÷ sockets joined.', '',
    '| storage | when | heap B/socket | RSS B/socket | RSS KiB/socket | RSS |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const run of runs) {
    const p = perSocket(run);
    const base = run.points.find((point) => point.kind === 'empty');
    if (base) lines.push(`| ${run.storage} | 0 sockets | | | | ${(base.rss / MiB).toFixed(1)} MiB |`);
    for (const [kind, name] of [['joined', 'Idle'], ['traffic', 'AfterTraffic'], ['quiet', 'Quiet']] as const) {
      const point = run.points.find((q) => q.kind === kind);
      const rssPer = p[`rssBytesPerSocket${name}`];
      if (!point || rssPer === undefined) continue;
      lines.push(`| ${run.storage} | ${point.label} | ${p[`heapBytesPerSocket${name}`]} | ${rssPer} | ${kib(rssPer)} | ${(point.rss / MiB).toFixed(1)} MiB |`);
    }
  }
  for (const run of runs) {
    lines.push('', `## ${run.storage}${run.error ? ` (FAILED: ${run.error})` : ''}`, '',
      `${run.opened} sockets joined; ${run.sent} messages sent, ${run.delivered}/${run.expected} deliveries.`, '',
      '| point | sockets | heap used MiB | heap total MiB | external MiB | RSS MiB |', '|---|---:|---:|---:|---:|---:|');
    for (const p of run.points) {
      lines.push(`| ${p.label} | ${p.sockets} | ${(p.heapUsed / MiB).toFixed(1)} | ${(p.heapTotal / MiB).toFixed(1)} | ${(p.external / MiB).toFixed(1)} | ${(p.rss / MiB).toFixed(1)} |`);
    }
    for (const [title, table] of Object.entries(run.growth)) lines.push('', `### Heap growth by constructor: ${title}`, '', table);
  }
  return `${lines.join('\n')}\n`;
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
pinSelf();
const probeBundle = await bundle('memory-probe');
const runs: StorageRun[] = [];
for (const storage of storages) runs.push(await measureStorage(storage, probeBundle));
const report = markdown(runs);
process.stdout.write(report);
mkdirSync(RESULTS_DIR, { recursive: true });
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
writeFileSync(join(RESULTS_DIR, `${stamp}-memory.json`), `${JSON.stringify({ rooms, members, messagesPerRoom, rate, runs: runs.map((r) => ({ ...r, perSocket: perSocket(r) })) }, null, 2)}\n`);
writeFileSync(join(RESULTS_DIR, 'memory-latest.md'), report);
if (runs.some((r) => r.error)) process.exitCode = 1;
