import { Generator } from './generator-handle.ts';
import { place, type Layout } from './layout.ts';
import { around, waitForQuiet } from './sampling.ts';
import { loadMetrics, openMetrics, type PeerResult, type Step } from './results.ts';
import { startPeer, type PeerName, type PeerServer, type StartOptions } from './servers.ts';

/** Runs one peer through a scenario: start its server(s), do the work, stop, and collect what the server said. */
export async function withPeer(name: PeerName, start: StartOptions, work: (server: PeerServer, result: PeerResult) => Promise<void>): Promise<PeerResult> {
  const result: PeerResult = { peer: name, notes: [], steps: [], serverLog: { notableLines: 0, samples: [], exits: [] } };
  let server: PeerServer | undefined;
  try {
    log(`${name}: starting`);
    server = await startPeer(name, start);
    result.notes = server.notes;
    await work(server, result);
    const dead = server.nodes.filter((node) => !node.process.alive);
    if (dead.length) throw new Error(`${dead.length} server process(es) exited during the run`);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    log(`${name}: FAILED: ${result.error}`);
  } finally {
    if (server) {
      for (const node of server.nodes) {
        const crashedBefore = !node.process.alive;
        const exit = await node.process.stop();
        if (crashedBefore) result.serverLog.exits.push(`${node.process.name} exited by itself: code ${exit.code} signal ${exit.signal}`);
        result.serverLog.notableLines += node.process.notableCount;
        result.serverLog.samples.push(...node.process.notable.slice(0, 10));
      }
    }
  }
  return result;
}

export interface LoadPlan {
  layout: Layout;
  /** Client indexes that send, in round-robin order. */
  senders: number[];
  rates: number[];
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  contentBytes: number;
  /** Connections opened at once. */
  concurrency: number;
  /** How a step is named in the report (default "<rate> msg/s"). */
  label?: (rate: number) => string;
  /** Processes whose CPU belongs to the scenario without being the server (cluster: Redis, Kafka, Cassandra). */
  backendPids?: () => number[];
}

/** The machine is shared: steps wait for quiet and are measured again when others were busy. */
export interface NoisePolicy {
  /** Cores other processes may use during a step. */
  maxOtherCores: number;
  attempts: number;
  /** Longest wait for a quiet second before a step. */
  quietWaitMs: number;
}

export const DEFAULT_NOISE: NoisePolicy = { maxOtherCores: 0.2, attempts: 3, quietWaitMs: 60_000 };

/**
 * The fan-out style measurement: open and join every socket, warm up, then one step per rate,
 * sampling the server's CPU and RSS around each step.
 */
export async function runLoad(server: PeerServer, plan: LoadPlan, result: PeerResult, noise: NoisePolicy = DEFAULT_NOISE): Promise<void> {
  const placed = await place(server, plan.layout);
  log(`${server.name}: ${placed.specs.length} sockets in ${placed.roomIds.length} rooms (setup ${placed.setupSeconds.toFixed(1)} s)`);
  const generator = await Generator.start(`${server.name}-${process.pid}`);
  try {
    const opened = await generator.open({ clients: placed.specs, concurrency: plan.concurrency, roundTrip: false });
    result.setup = { httpSetupSec: Number(placed.setupSeconds.toFixed(2)), ...openMetrics([opened], placed.specs.length) };
    log(`${server.name}: opened ${opened.opened}/${placed.specs.length}${opened.failed ? `, failures ${JSON.stringify(opened.failures)}` : ''}`);
    if (opened.opened === 0) throw new Error(`no socket opened: ${JSON.stringify(opened.failures)}`);
    if (opened.failed) result.setup.failed = opened.failed;
    const base = { senders: plan.senders, drainMs: plan.drainMs, contentBytes: plan.contentBytes };
    if (plan.warmupMs > 0) await generator.load({ ...base, rate: plan.rates[0]!, durationMs: plan.warmupMs });
    const ours = [...server.pids(), generator.pid, ...(plan.backendPids?.() ?? [])];
    for (const rate of plan.rates) {
      let step: Step | undefined;
      for (let attempt = 1; attempt <= noise.attempts; attempt++) {
        const quiet = await waitForQuiet(ours, noise.maxOtherCores, noise.quietWaitMs);
        const backends = plan.backendPids?.() ?? [];
        const measured = await around(server.pids(), () => generator.load({ ...base, rate, durationMs: plan.durationMs }), backends);
        const load = measured.value;
        const candidate: Step = {
          label: plan.label?.(rate) ?? `${rate} msg/s`,
          metrics: { ...loadMetrics(rate, measured), attempt },
          latency: load.latency,
          ...(Object.keys(load.latencyByGroup).length ? { latencyByGroup: load.latencyByGroup } : {}),
          ...(Object.keys(load.events).length ? { events: load.events } : {}),
        };
        // Quietest attempt wins; one during which a backend was restarted (by someone else's test) loses to any other.
        const badness = (s: Step): number => s.metrics.otherCores! + 100 * (s.metrics.backendsRestarted ?? 0);
        if (!step || badness(candidate) < badness(step)) step = candidate;
        if (badness(candidate) <= noise.maxOtherCores) break;
        log(`${server.name} @ ${rate} msg/s: other processes used ${candidate.metrics.otherCores} cores (quiet check ${quiet.toFixed(2)})` +
          `${measured.backendsGone ? `, ${measured.backendsGone} backend process(es) restarted` : ''}, measuring again`);
      }
      if (!step) continue;
      result.steps.push(step);
      const m = step.metrics;
      log(`${server.name} @ ${rate} msg/s: delivered ${m.deliveredPerSec}/s, p50 ${m.p50Ms} p99 ${m.p99Ms} max ${m.maxMs} ms, ` +
        `server ${m.serverCores} cores (user ${m.serverUserCores}), ${m.deliveriesPerCpuSec} deliveries/CPU-s, ${m.tcpSegmentsPerDelivery} TCP segments/delivery, ` +
        `generator ${m.generatorCores} cores (user ${m.generatorUserCores}), ${m.backendCores === undefined ? '' : `backends ${m.backendCores} cores, `}others ${m.otherCores} cores, lost ${m.lostPct}%` +
        `${step.events ? `, events ${JSON.stringify(step.events)}` : ''}`);
      if (server.nodes.some((node) => !node.process.alive)) break;
    }
    const status = await generator.status();
    result.clientEvents = status.events;
    result.clientSamples = status.samples;
  } finally {
    await generator.stop();
  }
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
