import { Generator } from './generator-handle.ts';
import { place, type Layout } from './layout.ts';
import { usage } from './proc.ts';
import { around, waitForQuiet } from './sampling.ts';
import { loadMetrics, openMetrics, type PeerResult, type SearchResult, type Step } from './results.ts';
import { searchRate } from './rate-search.ts';
import { startPeer, type PeerName, type PeerServer, type StartOptions } from './servers.ts';

/** Runs one peer through a scenario: start its server(s), do the work, stop, and collect what the server said. */
export async function withPeer(
  name: PeerName, start: StartOptions, work: (server: PeerServer, result: PeerResult) => Promise<void>, variant?: string,
): Promise<PeerResult> {
  const result: PeerResult = { peer: name, ...(variant ? { variant } : {}), notes: [], steps: [], serverLog: { notableLines: 0, samples: [], exits: [] } };
  let server: PeerServer | undefined;
  try {
    log(`${name}${variant ? ` (${variant})` : ''}: starting`);
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
  /** Processes whose CPU belongs to the scenario without being the server (cluster: Redis, Kafka, Cassandra), by backend name. */
  backendPids?: () => Record<string, number[]>;
  /** Instead of the fixed rates: find the largest rate meeting the latency target (starting at rates[0]). */
  search?: SearchOptions;
}

/** `--search`: the sustained-rate search's target and bounds. */
export interface SearchOptions {
  p99LimitMs: number;
  budgetMs: number;
  precision: number;
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

/** Why a search probe failed, or undefined when it met the target: every message acked and delivered, p99 within the limit. */
export function probeVerdict(step: Step, p99LimitMs: number): string | undefined {
  const m = step.metrics;
  const reasons: string[] = [];
  if ((m.lostPct ?? 0) > 0) reasons.push(`lost ${m.lostPct}%`);
  if ((m.acked ?? 0) < (m.sent ?? 0)) reasons.push(`${m.sent! - m.acked!} unacked`);
  if ((m.p99Ms ?? Infinity) > p99LimitMs) reasons.push(`p99 ${m.p99Ms} ms > ${p99LimitMs} ms`);
  if (step.events) reasons.push(`events ${JSON.stringify(step.events)}`);
  // Still a failure (the schedule is the truth), but one a reader should see may be the generator's own core being taken.
  if (reasons.length && (m.sendLagP99Ms ?? 0) > p99LimitMs / 2) reasons.push(`generator itself ran ${m.sendLagP99Ms} ms late (p99)`);
  return reasons.length ? reasons.join(', ') : undefined;
}

/**
 * The fan-out style measurement: open and join every socket, warm up, then one step per rate
 * (or the sustained-rate search), sampling the server's CPU and RSS around each step.
 */
export async function runLoad(server: PeerServer, plan: LoadPlan, result: PeerResult, noise: NoisePolicy = DEFAULT_NOISE): Promise<void> {
  const placed = await place(server, plan.layout);
  log(`${server.name}: ${placed.specs.length} sockets in ${placed.roomIds.length} rooms (setup ${placed.setupSeconds.toFixed(1)} s)`);
  const generator = await Generator.start(`${server.name}-${process.pid}`);
  try {
    const rssBefore = usage(server.pids()).rssBytes;
    const opened = await generator.open({ clients: placed.specs, concurrency: plan.concurrency, roundTrip: false });
    // Issue 15's sizing figure; without a GC, so a little above `npm run bench:memory`'s.
    const rssPerJoinedSocketKiB = opened.opened ? Number(((usage(server.pids()).rssBytes - rssBefore) / opened.opened / 1024).toFixed(2)) : 0;
    result.setup = { httpSetupSec: Number(placed.setupSeconds.toFixed(2)), ...openMetrics([opened], placed.specs.length), rssPerJoinedSocketKiB };
    log(`${server.name}: opened ${opened.opened}/${placed.specs.length}, RSS +${rssPerJoinedSocketKiB} KiB per joined socket${opened.failed ? `, failures ${JSON.stringify(opened.failures)}` : ''}`);
    if (opened.opened === 0) throw new Error(`no socket opened: ${JSON.stringify(opened.failures)}`);
    if (opened.failed) result.setup.failed = opened.failed;
    const base = { senders: plan.senders, drainMs: plan.drainMs, contentBytes: plan.contentBytes };
    if (plan.warmupMs > 0) await generator.load({ ...base, rate: plan.rates[0]!, durationMs: plan.warmupMs });
    const backendPids = (): number[] => Object.values(plan.backendPids?.() ?? {}).flat();
    const ours = [...server.pids(), generator.pid, ...backendPids()];
    const measure = async (rate: number): Promise<Step> => {
      let step: Step | undefined;
      for (let attempt = 1; attempt <= noise.attempts; attempt++) {
        const quiet = await waitForQuiet(ours, noise.maxOtherCores, noise.quietWaitMs);
        const measured = await around(server.pids(), () => generator.load({ ...base, rate, durationMs: plan.durationMs }), plan.backendPids?.() ?? {});
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
      const m = step!.metrics;
      log(`${server.name} @ ${rate} msg/s: delivered ${m.deliveredPerSec}/s, p50 ${m.p50Ms} p99 ${m.p99Ms} max ${m.maxMs} ms, ` +
        `ack p99 ${m.ackP99Ms} ms, generator late p99 ${m.sendLagP99Ms} ms, server ${m.serverCores} cores (${m.serverCpuMsPerMsg} ms/msg), ` +
        `${m.tcpSegmentsPerDelivery} segments/delivery, generator ${m.generatorCores} cores, ` +
        `${m.backendCores === undefined ? '' : `backends ${m.backendCores} cores (total ${m.totalCpuMsPerMsg} ms/msg), `}others ${m.otherCores} cores, lost ${m.lostPct}%` +
        `${step!.events ? `, events ${JSON.stringify(step!.events)}` : ''}`);
      return step!;
    };
    const alive = (): boolean => server.nodes.every((node) => node.process.alive);
    if (plan.search) {
      result.search = await searchSustained(server.name, plan, plan.search, measure, alive);
    } else {
      for (const rate of plan.rates) {
        result.steps.push(await measure(rate));
        if (!alive()) break;
      }
    }
    const status = await generator.status();
    result.clientEvents = status.events;
    result.clientSamples = status.samples;
  } finally {
    await generator.stop();
  }
}

/** Runs the sustained-rate search with `measure` as the probe; a dead server ends it as a failure. */
async function searchSustained(
  name: string, plan: LoadPlan, options: SearchOptions, measure: (rate: number) => Promise<Step>, alive: () => boolean,
): Promise<SearchResult> {
  const rooms = plan.layout.rooms;
  const probes: SearchResult['probes'] = [];
  const outcome = await searchRate({
    startRate: plan.rates[0]!, precision: options.precision, budgetMs: options.budgetMs,
    // Whole messages/s per room when rates are high, else whole messages/s in total.
    granularity: plan.rates[0]! >= rooms ? rooms : 1, minRate: 1, maxRate: 10_000_000,
  }, async (rate) => {
    if (!alive()) return { pass: false };
    const step = await measure(rate);
    const reason = alive() ? probeVerdict(step, options.p99LimitMs) : 'a server process exited';
    probes.push({ ...step, pass: reason === undefined, reason: reason ?? 'ok' });
    log(`${name} search: ${rate} msg/s ${reason === undefined ? 'passes' : `fails (${reason})`}`);
    return { pass: reason === undefined };
  });
  log(`${name} search: sustained ${outcome.sustained ?? 'nothing'} msg/s with p99 ≤ ${options.p99LimitMs} ms (stopped by ${outcome.stoppedBy}, ${(outcome.elapsedMs / 1000).toFixed(0)} s)`);
  return {
    p99LimitMs: options.p99LimitMs,
    ...(outcome.sustained !== undefined ? { sustainedMsgPerSec: outcome.sustained } : {}),
    ...(outcome.failed !== undefined ? { failedMsgPerSec: outcome.failed } : {}),
    stoppedBy: outcome.stoppedBy,
    elapsedSec: Math.round(outcome.elapsedMs / 1000),
    probes,
  };
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
