import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './build.ts';
import { METRICS, runLabel, type PeerResult, type ScenarioResult } from './results.ts';
import { PEER_LABELS } from './servers.ts';
import { renderSvg } from './svg.ts';

/**
 * Result files: `results/<timestamp>-<scenario>.json` per run, and `results/latest.{json,md,svg}`
 * holding the newest run of each scenario (a new run refreshes its own section only).
 */

export const RESULTS_DIR = join(BENCH_DIR, 'results');
const ORDER = ['fanout', 'ramp', 'smallrooms', 'cluster'];

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export function saveResult(result: ScenarioResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = result.startedAt.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const key = sectionOf(result);
  const file = join(RESULTS_DIR, `${stamp}-${key.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const latestFile = join(RESULTS_DIR, 'latest.json');
  const latest: Record<string, ScenarioResult> = existsSync(latestFile) ? JSON.parse(readFileSync(latestFile, 'utf8')) : {};
  latest[key] = result;
  const ordered = Object.values(latest).sort((a, b) => rank(a.scenario) - rank(b.scenario) || sectionOf(a).localeCompare(sectionOf(b)));
  writeAtomic(latestFile, `${JSON.stringify(Object.fromEntries(ordered.map((r) => [sectionOf(r), r])), null, 2)}\n`);
  writeAtomic(join(RESULTS_DIR, 'latest.md'), renderMarkdown(ordered));
  writeAtomic(join(RESULTS_DIR, 'latest.svg'), renderSvg(ordered));
  return file;
}

export const sectionOf = (result: ScenarioResult): string => result.section ?? result.scenario;
const rank = (scenario: string): number => (ORDER.includes(scenario) ? ORDER.indexOf(scenario) : ORDER.length);

function format(value: number | undefined, digits = 2): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}×`;
}

const label = (p: PeerResult): string => runLabel(p, PEER_LABELS);

/** One table per step label: rows are metrics, columns the peers' runs, then flametalk (its first run) ÷ each other run. */
function stepTable(peers: PeerResult[], stepLabel: string): string[] {
  const withStep = peers.map((p) => p.steps.find((s) => s.label === stepLabel));
  const keys = Object.keys(METRICS).filter((key) => withStep.some((s) => s?.metrics[key] !== undefined));
  const flametalk = peers.findIndex((p) => p.peer === 'flametalk');
  const others = peers.map((p, i) => ({ p, i })).filter(({ i }) => i !== flametalk);
  const primary = flametalk >= 0 ? label(peers[flametalk]!) : '';
  const header = ['metric', ...peers.map(label), ...(flametalk >= 0 ? others.map(({ p }) => `${primary} ÷ ${label(p)}`) : [])];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const key of keys) {
    const info = METRICS[key]!;
    const values = withStep.map((s) => s?.metrics[key]);
    // Ratios only where a direction is meaningful (not for counts, settings or diagnostics).
    const ratios = flametalk >= 0 ? others.map(({ i }) => (info.better ? ratio(values[flametalk], values[i]) : '')) : [];
    lines.push(`| ${info.label} | ${values.map((v) => format(v, info.digits)).join(' | ')}${ratios.length ? ` | ${ratios.join(' | ')}` : ''} |`);
  }
  return lines;
}

/** The sustained-rate search: one row per run, then each run's probes. */
function searchTables(result: ScenarioResult): string[] {
  const searched = result.peers.filter((p) => p.search);
  if (!searched.length) return [];
  const rooms = typeof result.options.rooms === 'number' ? result.options.rooms : undefined;
  const perRoom = (rate: number | undefined): string => (rate === undefined || !rooms ? '–' : format(rate / rooms, 3));
  const limit = searched[0]!.search!.p99LimitMs;
  const primary = searched.find((p) => p.peer === 'flametalk');
  const flametalk = primary?.search?.sustainedMsgPerSec;
  const lines = [
    `### Sustained rate (p99 ≤ ${limit} ms, nothing lost, every send acked)`, '',
    `| run | sustained msg/s | per room | first failing msg/s | ${primary ? label(primary) : 'flametalk'} ÷ run | probes | stopped by | search time s |`,
    '|---|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const p of searched) {
    const s = p.search!;
    lines.push(`| ${label(p)} | ${format(s.sustainedMsgPerSec, 0)} | ${perRoom(s.sustainedMsgPerSec)} | ${format(s.failedMsgPerSec, 0)} | ` +
      `${p === primary ? '' : ratio(flametalk, s.sustainedMsgPerSec)} | ${s.probes.length} | ${s.stoppedBy} | ${s.elapsedSec} |`);
  }
  lines.push('');
  for (const p of searched) {
    lines.push(`Probes of ${label(p)}:`, '', "| msg/s | verdict | p50 ms | p99 ms | send→ack p99 ms | generator late p99 ms | lost % | server ms/msg | other processes' CPU (cores) |", '|---:|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const probe of p.search!.probes) {
      const m = probe.metrics;
      lines.push(`| ${format(m.offeredMsgPerSec, 0)} | ${probe.pass ? 'pass' : `fail: ${probe.reason}`} | ${format(m.p50Ms)} | ${format(m.p99Ms)} | ` +
        `${format(m.ackP99Ms)} | ${format(m.sendLagP99Ms)} | ${format(m.lostPct, 3)} | ${format(m.serverCpuMsPerMsg, 4)} | ${format(m.otherCores, 2)} |`);
    }
    lines.push('');
  }
  return lines;
}

/** `--storage sqlite,memory`: the targets of issue 11 (SQLite CPU/msg within 15 % of memory, send→ack p99 within 2×). */
function storageComparison(result: ScenarioResult, stepLabel: string): string[] {
  const run = (variant: string): PeerResult | undefined => result.peers.find((p) => p.peer === 'flametalk' && p.variant === variant);
  const sqlite = run('sqlite')?.steps.find((s) => s.label === stepLabel)?.metrics;
  const memory = run('memory')?.steps.find((s) => s.label === stepLabel)?.metrics;
  if (!sqlite || !memory || !memory.serverCpuMsPerMsg || !memory.ackP99Ms) return [];
  const cpu = sqlite.serverCpuMsPerMsg! / memory.serverCpuMsPerMsg;
  const ack = sqlite.ackP99Ms! / memory.ackP99Ms;
  const verdict = (ok: boolean): string => (ok ? 'meets' : 'misses');
  return [`SQLite ÷ memory: server CPU per message ${cpu.toFixed(2)}× (${verdict(cpu <= 1.15)} ≤ 1.15×), ` +
    `send→ack p99 ${ack.toFixed(2)}× (${verdict(ack <= 2)} ≤ 2×).`, ''];
}

/** `--layout disjoint`: each node's CPU per message of its own rooms ÷ one node's. */
function disjointComparison(result: ScenarioResult, stepLabel: string): string[] {
  if (result.options.layout !== 'disjoint') return [];
  const lines: string[] = [];
  for (const p of result.peers.filter((r) => !r.variant)) {
    const m = p.steps.find((s) => s.label === stepLabel)?.metrics;
    const ratios = [1, 2, 3, 4].map((n) => m?.[`node${n}VsOneNode`]).filter((v): v is number => v !== undefined);
    if (ratios.length) lines.push(`${label(p)}, disjoint rooms: each node's CPU per message of its own rooms ÷ one node's = ${ratios.map((r) => `${r.toFixed(2)}×`).join(', ')}.`);
  }
  return lines.length ? [...lines, ''] : [];
}

function problems(peers: PeerResult[]): string[] {
  const lines: string[] = [];
  for (const p of peers) {
    const name = label(p);
    if (p.error) lines.push(`- **${name} failed**: ${p.error}`);
    for (const exit of p.serverLog.exits) lines.push(`- ${name}: ${exit}`);
    const stepEvents = p.steps.filter((s) => s.events).map((s) => `${s.label}: ${JSON.stringify(s.events)}`);
    if (stepEvents.length) lines.push(`- ${name} client-side events: ${stepEvents.join('; ')}`);
    if (p.setup?.failed) lines.push(`- ${name}: ${p.setup.failed} sockets failed to open or join`);
    if (p.serverLog.notableLines) {
      lines.push(`- ${name} server printed ${p.serverLog.notableLines} warning/error line(s), e.g.:`);
      for (const sample of p.serverLog.samples.slice(0, 3)) lines.push(`  \`${sample.replace(/`/g, "'").slice(0, 300)}\``);
    }
  }
  return lines;
}

function section(result: ScenarioResult): string[] {
  const m = result.machine;
  const lines = [
    `## ${sectionOf(result)} — ${result.startedAt.slice(0, 19).replace('T', ' ')} UTC`,
    '',
    `Options: \`${JSON.stringify(result.options)}\``,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ${m.pinned}.`,
    '',
    ...result.peers.map((p) => `- ${label(p)}: ${p.notes.join('; ') || '(did not start)'}`),
    '',
  ];
  const labels = [...new Set(result.peers.flatMap((p) => p.steps.map((s) => s.label)))];
  for (const stepLabel of labels) {
    lines.push(`### ${stepLabel}`, '', ...stepTable(result.peers, stepLabel), '', ...storageComparison(result, stepLabel), ...disjointComparison(result, stepLabel));
    const bound = result.peers.filter((p) => (p.steps.find((s) => s.label === stepLabel)?.metrics.generatorCores ?? 0) >= 0.9);
    if (bound.length) {
      lines.push(`Generator-bound for ${bound.map(label).join(', ')}: the load generator used ≥ 0.9 of its core, so this step shows the generator's limit as much as the server's: compare the "per server CPU-s" rows.`, '');
    }
  }
  lines.push(...searchTables(result));
  const setups = result.peers.filter((p) => p.setup);
  if (setups.length) {
    lines.push('Setup (before measuring): ' + setups.map((p) => `${label(p)} ${Object.entries(p.setup!).map(([k, v]) => `${k}=${v}`).join(' ')}`).join('; '), '');
  }
  const issues = problems(result.peers);
  if (issues.length) lines.push('Problems seen:', '', ...issues, '');
  return lines;
}

export function renderMarkdown(results: ScenarioResult[]): string {
  return [
    '# flametalk benchmark results (latest run of each scenario)',
    '',
    'Generated by `npm run bench -- <scenario>` (see `bench/README.md`). Ratios are flametalk ÷ peer:',
    'above 1× is better for "higher is better" metrics (delivered/s, deliveries per CPU-second, connects/s),',
    'below 1× is better for latency, CPU and memory. Chart: `latest.svg`.',
    '',
    ...results.flatMap(section),
  ].join('\n');
}
