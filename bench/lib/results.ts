import os from 'node:os';
import type { LatencySummary } from './histogram.ts';
import type { LoadResult, OpenResult } from './gen-protocol.ts';
import type { PeerName } from './servers.ts';
import type { Around } from './sampling.ts';

/** The shape of a result file, and how a measurement becomes named metrics. */

export interface Step {
  /** e.g. "200 msg/s". */
  label: string;
  metrics: Record<string, number>;
  latency?: LatencySummary;
  latencyByGroup?: Record<string, LatencySummary>;
  /** Unexpected client-side events during the step (close codes, error frames) → count. */
  events?: Record<string, number>;
}

export interface PeerResult {
  peer: PeerName;
  /** Which run of this peer, when a scenario runs it more than once (`memory` storage, `1 node` reference). */
  variant?: string;
  notes: string[];
  setup?: Record<string, number>;
  steps: Step[];
  /** Warnings/errors the server printed. */
  serverLog: { notableLines: number; samples: string[]; exits: string[] };
  /** Client-side events over the whole run. */
  clientEvents?: Record<string, number>;
  clientSamples?: string[];
  /** The sustained-rate search (`--search`), when run. */
  search?: SearchResult;
  error?: string;
}

/** The largest offered rate meeting the latency target with nothing lost, and the probes that found it. */
export interface SearchResult {
  p99LimitMs: number;
  /** Total messages/s of the largest passing probe; undefined when even the lowest probe failed. */
  sustainedMsgPerSec?: number;
  /** The smallest failing rate above it, if one was probed. */
  failedMsgPerSec?: number;
  stoppedBy: string;
  elapsedSec: number;
  probes: Array<Step & { pass: boolean; reason: string }>;
}

/** The column name of a peer's run in reports. */
export const runLabel = (p: Pick<PeerResult, 'peer' | 'variant'>, labels: Record<PeerName, string>): string =>
  `${labels[p.peer]}${p.variant ? ` (${p.variant})` : ''}`;

export interface ScenarioResult {
  scenario: string;
  /**
   * The section of latest.{json,md} this run refreshes: the scenario, plus the options that change
   * what is measured (`smallrooms --search`), so such a run does not replace the plain one.
   */
  section?: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kernel: string; pinned: string };
  options: Record<string, unknown>;
  peers: PeerResult[];
}

export function machine(pinned: string): ScenarioResult['machine'] {
  return {
    cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, kernel: os.release(), pinned,
  };
}

const MiB = 2 ** 20;
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Named metrics of one load step: the generator's counts and latency, the server's CPU and memory, the host. */
export function loadMetrics(rate: number, measured: Around<LoadResult>): Step['metrics'] {
  const { value: load, server } = measured;
  const cpu = server.after.cpuSeconds - server.before.cpuSeconds;
  const system = server.after.systemSeconds - server.before.systemSeconds;
  const window = load.windowMs / 1000;
  const elapsed = load.elapsedMs / 1000;
  const others = measured.hostBusySeconds - cpu - load.generatorCpuSeconds - measured.harnessCpuSeconds - measured.backendCpuSeconds;
  const metrics: Record<string, number> = {
    offeredMsgPerSec: rate,
    offeredDeliveriesPerSec: round(load.expected / window, 0),
    sent: load.sent,
    acked: load.acked,
    expected: load.expected,
    delivered: load.delivered,
    deliveredPerSec: round(load.deliveredInWindow / window, 0),
    lostPct: load.expected ? round((100 * (load.expected - load.delivered)) / load.expected, 3) : 0,
    p50Ms: load.latency.p50,
    p95Ms: load.latency.p95,
    p99Ms: load.latency.p99,
    maxMs: load.latency.max,
    ackP50Ms: load.ackLatency.p50,
    ackP99Ms: load.ackLatency.p99,
    serverCpuSec: round(cpu, 2),
    serverCores: round(cpu / elapsed, 3),
    serverUserCores: round((cpu - system) / elapsed, 3),
    deliveriesPerCpuSec: cpu > 0 ? round(load.delivered / cpu, 0) : 0,
    messagesPerCpuSec: cpu > 0 ? round(load.sent / cpu, 0) : 0,
    rssMiB: round(server.after.rssBytes / MiB, 1),
    rssPeakMiB: round(server.peakRss / MiB, 1),
    generatorCores: round(load.generatorCpuSeconds / elapsed, 3),
    generatorUserCores: round((load.generatorCpuSeconds - load.generatorSystemSeconds) / elapsed, 3),
    otherCores: round(Math.max(0, others) / elapsed, 3),
    ...(measured.backendCpuSeconds > 0 ? {
      backendCores: round(measured.backendCpuSeconds / elapsed, 3),
      backendsRestarted: measured.backendsGone,
      messagesPerTotalCpuSec: round(load.sent / (cpu + measured.backendCpuSeconds), 0),
    } : {}),
    tcpSegmentsPerDelivery: load.delivered ? round(measured.tcpSegments / load.delivered, 3) : 0,
    serverCpuMsPerMsg: load.sent ? round((1000 * cpu) / load.sent, 4) : 0,
    sendLagP50Ms: load.sendLag.p50,
    sendLagP99Ms: load.sendLag.p99,
    sendLagMaxMs: load.sendLag.max,
  };
  const perMessage = (seconds: number, messages: number): number => (messages ? round((1000 * seconds) / messages, 4) : 0);
  const cluster = Object.keys(measured.backendCpuByName).length > 0;
  if (cluster || measured.nodeCpuSeconds.length > 1) {
    // Each node's CPU over the messages of the rooms it holds sockets of (all of them when rooms are split, its own when disjoint).
    measured.nodeCpuSeconds.forEach((seconds, n) => {
      metrics[`node${n + 1}Cores`] = round(seconds / elapsed, 3);
      metrics[`node${n + 1}Messages`] = load.sentByNode[n] ?? 0;
      metrics[`node${n + 1}CpuMsPerMsg`] = perMessage(seconds, load.sentByNode[n] ?? 0);
    });
  }
  for (const [name, seconds] of Object.entries(measured.backendCpuByName)) {
    metrics[`${name}Cores`] = round(seconds / elapsed, 3);
    metrics[`${name}CpuMsPerMsg`] = perMessage(seconds, load.sent);
  }
  if (cluster) metrics.totalCpuMsPerMsg = perMessage(cpu + measured.backendCpuSeconds, load.sent);
  for (const [group, summary] of Object.entries(load.latencyByGroup)) {
    const key = group === 'cross-node' ? 'cross' : group === 'same-node' ? 'same' : group;
    metrics[`${key}P50Ms`] = summary.p50;
    metrics[`${key}P99Ms`] = summary.p99;
  }
  return metrics;
}

export function openMetrics(open: OpenResult[], requested: number): Record<string, number> {
  const opened = open.reduce((n, o) => n + o.opened, 0);
  const started = Math.min(...open.map((o) => o.startedAt));
  const connected = Math.max(...open.map((o) => o.connectedAt));
  const joined = Math.max(...open.map((o) => o.joinedAt));
  return {
    sockets: requested,
    opened,
    connectSec: round((connected - started) / 1000, 2),
    connectsPerSec: round(opened / ((connected - started) / 1000), 0),
    joinSec: round((joined - connected) / 1000, 2),
  };
}

export interface MetricInfo {
  label: string;
  better?: 'higher' | 'lower';
  digits?: number;
}

/** Per-node rows of a cluster run (node n = the n-th server process of the peer). */
function nodeMetrics(nodes: number): Record<string, MetricInfo> {
  const rows: Record<string, MetricInfo> = {};
  for (let n = 1; n <= nodes; n++) {
    rows[`node${n}Cores`] = { label: `node ${n} CPU (cores)`, better: 'lower', digits: 3 };
    rows[`node${n}Messages`] = { label: `node ${n}: messages of rooms with sockets on it`, digits: 0 };
    rows[`node${n}CpuMsPerMsg`] = { label: `node ${n} CPU ms per message of its rooms`, better: 'lower', digits: 4 };
    rows[`node${n}VsOneNode`] = { label: `node ${n} CPU/msg ÷ one node's (disjoint layout)`, digits: 2 };
  }
  return rows;
}

/** Every metric a report may show, in display order. */
export const METRICS: Record<string, MetricInfo> = {
  offeredMsgPerSec: { label: 'offered messages/s', digits: 0 },
  offeredDeliveriesPerSec: { label: 'offered deliveries/s', digits: 0 },
  deliveredPerSec: { label: 'delivered messages/s', better: 'higher', digits: 0 },
  lostPct: { label: 'lost %', better: 'lower', digits: 3 },
  p50Ms: { label: 'latency p50 ms', better: 'lower', digits: 2 },
  p95Ms: { label: 'latency p95 ms', better: 'lower', digits: 2 },
  p99Ms: { label: 'latency p99 ms', better: 'lower', digits: 2 },
  maxMs: { label: 'latency max ms', better: 'lower', digits: 2 },
  sameP50Ms: { label: 'same-node p50 ms', better: 'lower', digits: 2 },
  sameP99Ms: { label: 'same-node p99 ms', better: 'lower', digits: 2 },
  crossP50Ms: { label: 'cross-node p50 ms', better: 'lower', digits: 2 },
  crossP99Ms: { label: 'cross-node p99 ms', better: 'lower', digits: 2 },
  ackP50Ms: { label: 'send→ack p50 ms', better: 'lower', digits: 2 },
  ackP99Ms: { label: 'send→ack p99 ms', better: 'lower', digits: 2 },
  serverCores: { label: 'server CPU (cores)', better: 'lower', digits: 3 },
  serverUserCores: { label: '… of which user space (cores)', better: 'lower', digits: 3 },
  deliveriesPerCpuSec: { label: 'deliveries / server CPU-s', better: 'higher', digits: 0 },
  messagesPerCpuSec: { label: 'messages in / server CPU-s', better: 'higher', digits: 0 },
  backendCores: { label: 'backends CPU (cores): Redis + Kafka + Cassandra for flametalk, Redis for Socket.IO', better: 'lower', digits: 3 },
  messagesPerTotalCpuSec: { label: 'messages in / (server + backends) CPU-s', better: 'higher', digits: 0 },
  serverCpuMsPerMsg: { label: 'server CPU ms per message in', better: 'lower', digits: 4 },
  ...nodeMetrics(4),
  redisCores: { label: 'Redis CPU (cores)', better: 'lower', digits: 3 },
  redisCpuMsPerMsg: { label: 'Redis CPU ms per message', better: 'lower', digits: 4 },
  kafkaCores: { label: 'Kafka CPU (cores)', better: 'lower', digits: 3 },
  kafkaCpuMsPerMsg: { label: 'Kafka CPU ms per message', better: 'lower', digits: 4 },
  cassandraCores: { label: 'Cassandra CPU (cores)', better: 'lower', digits: 3 },
  cassandraCpuMsPerMsg: { label: 'Cassandra CPU ms per message', better: 'lower', digits: 4 },
  totalCpuMsPerMsg: { label: '(server + backends) CPU ms per message', better: 'lower', digits: 4 },
  rssMiB: { label: 'server RSS MiB', better: 'lower', digits: 1 },
  rssPeakMiB: { label: 'server RSS peak MiB', better: 'lower', digits: 1 },
  sockets: { label: 'sockets', digits: 0 },
  opened: { label: 'opened', digits: 0 },
  connectSec: { label: 'connect time s', better: 'lower', digits: 2 },
  connectsPerSec: { label: 'connects/s', better: 'higher', digits: 0 },
  connectCpuSec: { label: 'server CPU s for the ramp', better: 'lower', digits: 2 },
  connectsPerCpuSec: { label: 'connects / server CPU-s', better: 'higher', digits: 0 },
  rssBeforeMiB: { label: 'RSS before MiB', digits: 1 },
  rssAfterMiB: { label: 'RSS after MiB', better: 'lower', digits: 1 },
  kibPerConnection: { label: 'KiB per idle connection', better: 'lower', digits: 2 },
  stillOpen: { label: 'still open after settling', digits: 0 },
  rssAfterCloseMiB: { label: 'RSS after closing MiB', digits: 1 },
  generatorCores: { label: 'generator CPU (cores)', digits: 3 },
  generatorUserCores: { label: '… of which user space (cores)', digits: 3 },
  sendLagP50Ms: { label: 'generator lateness p50 ms (sent − scheduled)', digits: 2 },
  sendLagP99Ms: { label: 'generator lateness p99 ms', digits: 2 },
  sendLagMaxMs: { label: 'generator lateness max ms', digits: 2 },
  otherCores: { label: 'CPU used by other processes (cores)', digits: 3 },
  attempt: { label: 'measured on attempt', digits: 0 },
  backendsRestarted: { label: 'backend processes restarted during the step', digits: 0 },
  tcpSegmentsPerDelivery: { label: 'TCP segments per delivery (host-wide)', digits: 3 },
};
