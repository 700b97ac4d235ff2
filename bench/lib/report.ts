import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './build.ts';
import { METRICS, type PeerResult, type ScenarioResult } from './results.ts';
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
  const file = join(RESULTS_DIR, `${stamp}-${result.scenario}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const latestFile = join(RESULTS_DIR, 'latest.json');
  const latest: Record<string, ScenarioResult> = existsSync(latestFile) ? JSON.parse(readFileSync(latestFile, 'utf8')) : {};
  latest[result.scenario] = result;
  const ordered = Object.values(latest).sort((a, b) => rank(a.scenario) - rank(b.scenario));
  writeAtomic(latestFile, `${JSON.stringify(Object.fromEntries(ordered.map((r) => [r.scenario, r])), null, 2)}\n`);
  writeAtomic(join(RESULTS_DIR, 'latest.md'), renderMarkdown(ordered));
  writeAtomic(join(RESULTS_DIR, 'latest.svg'), renderSvg(ordered));
  return file;
}

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

/** One table per step label: rows are metrics, columns the peers, then flametalk ÷ each peer. */
function stepTable(peers: PeerResult[], label: string): string[] {
  const withStep = peers.map((p) => p.steps.find((s) => s.label === label));
  const keys = Object.keys(METRICS).filter((key) => withStep.some((s) => s?.metrics[key] !== undefined));
  const flametalk = peers.findIndex((p) => p.peer === 'flametalk');
  const others = peers.map((p, i) => ({ p, i })).filter(({ p }) => p.peer !== 'flametalk');
  const header = ['metric', ...peers.map((p) => PEER_LABELS[p.peer]), ...(flametalk >= 0 ? others.map(({ p }) => `flametalk ÷ ${PEER_LABELS[p.peer]}`) : [])];
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

function problems(peers: PeerResult[]): string[] {
  const lines: string[] = [];
  for (const p of peers) {
    const name = PEER_LABELS[p.peer];
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
    `## ${result.scenario} — ${result.startedAt.slice(0, 19).replace('T', ' ')} UTC`,
    '',
    `Options: \`${JSON.stringify(result.options)}\``,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ${m.pinned}.`,
    '',
    ...result.peers.map((p) => `- ${PEER_LABELS[p.peer]}: ${p.notes.join('; ') || '(did not start)'}`),
    '',
  ];
  const labels = [...new Set(result.peers.flatMap((p) => p.steps.map((s) => s.label)))];
  for (const label of labels) {
    lines.push(`### ${label}`, '', ...stepTable(result.peers, label), '');
    const bound = result.peers.filter((p) => (p.steps.find((s) => s.label === label)?.metrics.generatorCores ?? 0) >= 0.9);
    if (bound.length) {
      lines.push(`Generator-bound for ${bound.map((p) => PEER_LABELS[p.peer]).join(', ')}: the load generator used ≥ 0.9 of its core, so this step shows the generator's limit as much as the server's: compare the "per server CPU-s" rows.`, '');
    }
  }
  const setups = result.peers.filter((p) => p.setup);
  if (setups.length) {
    lines.push('Setup (before measuring): ' + setups.map((p) => `${PEER_LABELS[p.peer]} ${Object.entries(p.setup!).map(([k, v]) => `${k}=${v}`).join(' ')}`).join('; '), '');
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
