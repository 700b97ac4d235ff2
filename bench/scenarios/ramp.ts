import { setTimeout as sleep } from 'node:timers/promises';
import { signUpUsers } from '../lib/flametalk-api.ts';
import type { ClientSpec } from '../lib/gen-protocol.ts';
import { Generator } from '../lib/generator-handle.ts';
import { addressPool } from '../lib/layout.ts';
import { log, type NoisePolicy } from '../lib/peer-run.ts';
import { hostBusySeconds, usage } from '../lib/proc.ts';
import { waitForQuiet } from '../lib/sampling.ts';
import { openMetrics, type PeerResult } from '../lib/results.ts';
import type { PeerServer } from '../lib/servers.ts';
import { eachPeer, num, type CommonOptions, type Scenario } from './common.ts';

/**
 * Connection ramp to N idle sockets (default 10,000), spread over several generator processes
 * (each under the 20,000-fd limit) and over 127.0.x.y source addresses. Measures the connect
 * rate (upgrade + auth + one application round trip) and memory per idle connection:
 * (RSS after − RSS before) / N.
 */

const MiB = 2 ** 20;
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

interface RampPlan {
  connections: number;
  perGenerator: number;
  concurrency: number;
  users: number;
  settleMs: number;
}

function plan(options: CommonOptions): RampPlan {
  return {
    connections: num(options, 'connections', 10_000),
    perGenerator: num(options, 'per-generator', 5_000),
    concurrency: num(options, 'concurrency', 50),
    users: num(options, 'users', 10),
    settleMs: num(options, 'warmup', 3) * 1000,
  };
}

async function ramp(server: PeerServer, p: RampPlan, result: PeerResult, noise: NoisePolicy): Promise<void> {
  let tokens: string[] = [];
  if (server.name === 'flametalk') tokens = (await signUpUsers(server.nodes[0]!.httpUrl!, p.users)).map((u) => u.accessToken);
  const generatorCount = Math.ceil(p.connections / p.perGenerator);
  const generators = await Promise.all(Array.from({ length: generatorCount }, (_, g) => Generator.start(`${server.name}-ramp-${g}`)));
  try {
    const batches: ClientSpec[][] = generators.map(() => []);
    const pools = generators.map(() => addressPool());
    for (let i = 0; i < p.connections; i++) {
      const g = i % generatorCount;
      const token = tokens.length ? tokens[i % tokens.length]! : undefined;
      const base = server.nodes[i % server.nodes.length]!.wsUrl;
      batches[g]!.push({
        url: token ? `${base}?access_token=${encodeURIComponent(token)}` : base,
        protocol: server.protocol, rooms: [], localAddress: pools[g]!(batches[g]!.length),
      });
    }
    await sleep(p.settleMs);
    await waitForQuiet([...server.pids(), ...generators.map((g) => g.pid)], noise.maxOtherCores, noise.quietWaitMs);
    const hostBefore = hostBusySeconds();
    const generatorsBefore = generators.map((g) => g.cpuSeconds());
    const before = usage(server.pids());
    log(`${server.name}: ramping to ${p.connections} sockets from ${generatorCount} generator process(es), RSS before ${round(before.rssBytes / MiB, 1)} MiB`);
    const opens = await Promise.all(generators.map((g, i) => g.open({ clients: batches[i]!, concurrency: p.concurrency, roundTrip: true })));
    const connected = usage(server.pids());
    const generatorCpu = generators.reduce((sum, g, i) => sum + g.cpuSeconds() - generatorsBefore[i]!, 0);
    const otherCpu = hostBusySeconds() - hostBefore - (connected.cpuSeconds - before.cpuSeconds) - generatorCpu;
    const rampSeconds = Math.max(0.001, (Math.max(...opens.map((o) => o.connectedAt)) - Math.min(...opens.map((o) => o.startedAt))) / 1000);
    await sleep(p.settleMs);
    const after = usage(server.pids());
    const statuses = await Promise.all(generators.map((g) => g.status()));
    const stillOpen = statuses.reduce((n, s) => n + s.open, 0);
    const metrics = openMetrics(opens, p.connections);
    const cpu = connected.cpuSeconds - before.cpuSeconds;
    for (const g of generators) await g.stop();
    await sleep(p.settleMs);
    const closed = usage(server.pids());
    result.steps.push({
      label: `${p.connections} idle sockets`,
      metrics: {
        sockets: metrics.sockets!, opened: metrics.opened!, connectSec: metrics.connectSec!, connectsPerSec: metrics.connectsPerSec!,
        connectCpuSec: round(cpu), connectsPerCpuSec: cpu > 0 ? round(metrics.opened! / cpu, 0) : 0,
        rssBeforeMiB: round(before.rssBytes / MiB, 1), rssAfterMiB: round(after.rssBytes / MiB, 1),
        kibPerConnection: metrics.opened ? round((after.rssBytes - before.rssBytes) / metrics.opened / 1024) : 0,
        rssAfterCloseMiB: round(closed.rssBytes / MiB, 1),
        stillOpen,
        generatorCores: round(generatorCpu / rampSeconds, 3),
        otherCores: round(Math.max(0, otherCpu) / rampSeconds, 3),
      },
      ...(opens.some((o) => o.failed) ? { events: Object.assign({}, ...opens.map((o) => o.failures)) as Record<string, number> } : {}),
    });
    const events: Record<string, number> = {};
    for (const s of statuses) for (const [k, v] of Object.entries(s.events)) events[k] = (events[k] ?? 0) + v;
    result.clientEvents = events;
    result.clientSamples = statuses.flatMap((s) => s.samples).slice(0, 20);
    const m = result.steps[0]!.metrics;
    log(`${server.name}: opened ${m.opened}/${p.connections} in ${m.connectSec} s (${m.connectsPerSec}/s), ${m.kibPerConnection} KiB per connection, ` +
      `still open ${stillOpen}, RSS ${m.rssBeforeMiB} → ${m.rssAfterMiB} → ${m.rssAfterCloseMiB} MiB after closing`);
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
  }
}

export const rampScenario: Scenario = {
  name: 'ramp',
  summary: 'connection ramp to N idle sockets: connect rate and memory per connection',
  defaultPeers: ['flametalk', 'uws', 'socketio'],
  nodes: 1,
  supports: ['storage'],
  describe(options) {
    return { ...plan(options) };
  },
  async run(options) {
    const p = plan(options);
    return eachPeer(options, (server, result) => ramp(server, p, result, options.noise));
  },
};
