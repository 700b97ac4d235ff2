import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import { EMBEDDED_STORAGES, NUMBER_OPTIONS, type CommonOptions, type EmbeddedStorage, type NumberOption, type Scenario } from './scenarios/common.ts';
import { PLACEMENTS, type Placement } from './lib/layout.ts';
import { fanout } from './scenarios/fanout.ts';
import { rampScenario } from './scenarios/ramp.ts';
import { smallrooms } from './scenarios/smallrooms.ts';
import { cluster } from './scenarios/cluster.ts';
import { GENERATOR_CORE, killAll, pinning, pinSelf, SERVER_CORE } from './lib/process.ts';
import { DEFAULT_NOISE, log } from './lib/peer-run.ts';
import { machine, type ScenarioResult } from './lib/results.ts';
import { RESULTS_DIR, saveResult } from './lib/report.ts';
import { PEERS, type PeerName } from './lib/servers.ts';

/** `npm run bench -- <scenario> [options]`: see bench/README.md. */

const SCENARIOS: Record<string, Scenario> = Object.fromEntries([fanout, rampScenario, smallrooms, cluster].map((s) => [s.name, s]));

const USAGE = `usage: npm run bench -- <${Object.keys(SCENARIOS).join('|')}> [options]

  --peers a,b        peers to run (${PEERS.join(', ')}); default per scenario
  --rate a,b,c       messages/s per room, one measured step each
  --rooms N --subscribers N --users N
  --duration S --warmup S --drain S      seconds (warmup also = ramp settle time)
  --size BYTES       message contents length (default 64)
  --connections N --per-generator N      ramp: sockets in total / per generator process
  --concurrency N    sockets opened at once (per generator process)
  --flametalk dist|tsx                   run dist/main.js (default, built first) or src/main.ts under tsx
  --env KEY=VALUE    extra flametalk environment (repeatable)
  --max-noise C      cores other processes may use during a step before it is measured again (default 0.2)
  --attempts N       measurements per step at most (default 3)
  --search           fanout, smallrooms, cluster: instead of fixed rates, find the largest rate each peer sustains
                     with p99 <= --search-p99 and nothing lost (doubling from the first --rate, then bisection);
                     steps default to --duration 5 --drain 10
  --search-p99 MS    latency target of the search (default 100)
  --search-budget S  longest search per peer run, seconds (default 300)
  --search-precision F  stop when smallest failure / largest pass <= 1 + F (default 0.1)
  --storage a,b      fanout, smallrooms, ramp: run flametalk once per EMBEDDED_STORAGE (${EMBEDDED_STORAGES.join(', ')}), side by side
  --layout L         cluster: split (default; every room on both nodes) or disjoint (each room on one node,
                     plus a one-node run for its CPU per message)
  --no-save          do not write results/

${Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(11)} ${s.summary}`).join('\n')}`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    peers: { type: 'string' },
    rate: { type: 'string' },
    flametalk: { type: 'string', default: 'dist' },
    env: { type: 'string', multiple: true },
    'no-save': { type: 'boolean', default: false },
    'max-noise': { type: 'string' },
    attempts: { type: 'string' },
    search: { type: 'boolean', default: false },
    'search-p99': { type: 'string' },
    'search-budget': { type: 'string' },
    'search-precision': { type: 'string' },
    storage: { type: 'string' },
    layout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...Object.fromEntries(NUMBER_OPTIONS.map((name) => [name, { type: 'string' as const }])),
  },
});

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const scenario = SCENARIOS[positionals[0] ?? ''] ?? fail(`unknown scenario ${JSON.stringify(positionals[0] ?? '')}`);

const positive = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
};

const numbers: CommonOptions['numbers'] = {};
for (const name of NUMBER_OPTIONS) {
  const text = (values as Record<string, unknown>)[name];
  if (typeof text === 'string') numbers[name as NumberOption] = positive(name, text);
}
const peers = (values.peers ? values.peers.split(',') : scenario.defaultPeers).map((p) => {
  if (!(PEERS as readonly string[]).includes(p)) fail(`unknown peer ${JSON.stringify(p)}`);
  return p as PeerName;
});
const entry = values.flametalk === 'tsx' ? 'tsx' : values.flametalk === 'dist' ? 'dist' : fail('--flametalk is dist or tsx');
const flametalkEnv = Object.fromEntries((values.env ?? []).map((pair) => {
  const at = pair.indexOf('=');
  if (at <= 0) fail(`--env takes KEY=VALUE, got ${JSON.stringify(pair)}`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}));

const unsupported = (option: 'search' | 'storage' | 'layout'): void => {
  if (!scenario.supports.includes(option)) fail(`--${option} does not apply to ${scenario.name}`);
};
if (values.search) unsupported('search');
else if (values['search-p99'] || values['search-budget'] || values['search-precision']) fail('--search-p99, --search-budget and --search-precision need --search');
const search = values.search
  ? {
    p99LimitMs: values['search-p99'] ? positive('search-p99', values['search-p99']) : 100,
    budgetMs: (values['search-budget'] ? positive('search-budget', values['search-budget']) : 300) * 1000,
    precision: values['search-precision'] ? positive('search-precision', values['search-precision']) : 0.1,
  }
  : undefined;
if (values.rate && search && values.rate.includes(',')) fail('--search starts from one --rate, got a list');
let storages: EmbeddedStorage[] | undefined;
if (values.storage) {
  unsupported('storage');
  storages = values.storage.split(',').map((name) => {
    if (!(EMBEDDED_STORAGES as readonly string[]).includes(name)) fail(`unknown storage ${JSON.stringify(name)} (${EMBEDDED_STORAGES.join(', ')})`);
    return name as EmbeddedStorage;
  });
  if (new Set(storages).size !== storages.length) fail('--storage lists a storage twice');
  if (flametalkEnv.EMBEDDED_STORAGE) fail('--storage and --env EMBEDDED_STORAGE=… both choose the storage: use one');
  if (!peers.includes('flametalk')) fail('--storage needs flametalk among the peers');
}
let placement: Placement | undefined;
if (values.layout) {
  unsupported('layout');
  if (!(PLACEMENTS as readonly string[]).includes(values.layout)) fail(`--layout is ${PLACEMENTS.join(' or ')}, got ${JSON.stringify(values.layout)}`);
  placement = values.layout as Placement;
}

const startedAt = new Date();
const runId = `${startedAt.toISOString().replace(/[-:.TZ]/g, '').slice(2, 14)}${Math.random().toString(36).slice(2, 6)}`;
const options: CommonOptions = {
  peers,
  numbers,
  ...(values.rate ? { rates: values.rate.split(',').map((r) => positive('rate', r)) } : {}),
  ...(search ? { search } : {}),
  ...(storages ? { storages } : {}),
  ...(placement ? { placement } : {}),
  start: { runId, nodes: scenario.nodes, flametalkEntry: entry, flametalkEnv },
  noise: {
    ...DEFAULT_NOISE,
    ...(values['max-noise'] ? { maxOtherCores: positive('max-noise', values['max-noise']) } : {}),
    ...(values.attempts ? { attempts: Math.round(positive('attempts', values.attempts)) } : {}),
  },
};

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers and generators of this run`);
    killAll();
    process.exit(130);
  });
}
pinSelf();
const pinned = pinning
  ? `server(s) pinned to core ${SERVER_CORE}, load generator(s) and harness to core ${GENERATOR_CORE} (taskset)`
  : 'one core: nothing pinned';
log(`${scenario.name}: ${JSON.stringify(scenario.describe(options))}; peers ${peers.join(', ')}; ${pinned}`);

const peerResults = await scenario.run(options);
const sectionFlags = [
  search ? '--search' : '', placement === 'disjoint' ? '--layout disjoint' : '', storages ? `--storage ${storages.join(',')}` : '',
].filter(Boolean);
const result: ScenarioResult = {
  scenario: scenario.name,
  ...(sectionFlags.length ? { section: `${scenario.name} ${sectionFlags.join(' ')}` } : {}),
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine: machine(pinned),
  options: { ...scenario.describe(options), peers, ...(storages ? { storages } : {}), flametalk: entry, ...(Object.keys(flametalkEnv).length ? { env: flametalkEnv } : {}) },
  peers: peerResults,
};
if (!values['no-save']) {
  const file = saveResult(result);
  log(`wrote ${relative(process.cwd(), file)} and ${relative(process.cwd(), RESULTS_DIR)}/latest.{md,svg,json}`);
}
process.exit(peerResults.some((p) => p.error) ? 1 : 0);
