import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import { NUMBER_OPTIONS, type CommonOptions, type NumberOption, type Scenario } from './scenarios/common.ts';
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

const startedAt = new Date();
const runId = `${startedAt.toISOString().replace(/[-:.TZ]/g, '').slice(2, 14)}${Math.random().toString(36).slice(2, 6)}`;
const options: CommonOptions = {
  peers,
  numbers,
  ...(values.rate ? { rates: values.rate.split(',').map((r) => positive('rate', r)) } : {}),
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
const result: ScenarioResult = {
  scenario: scenario.name,
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine: machine(pinned),
  options: { ...scenario.describe(options), peers, flametalk: entry, ...(Object.keys(flametalkEnv).length ? { env: flametalkEnv } : {}) },
  peers: peerResults,
};
if (!values['no-save']) {
  const file = saveResult(result);
  log(`wrote ${relative(process.cwd(), file)} and ${relative(process.cwd(), RESULTS_DIR)}/latest.{md,svg,json}`);
}
process.exit(peerResults.some((p) => p.error) ? 1 : 0);
