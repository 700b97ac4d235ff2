import { withPeer, type LoadPlan, type NoisePolicy, type SearchOptions } from '../lib/peer-run.ts';
import type { Placement } from '../lib/layout.ts';
import type { PeerResult } from '../lib/results.ts';
import type { PeerName, PeerServer, StartOptions } from '../lib/servers.ts';

/** Options every scenario understands (parsed by run.ts). */
export interface CommonOptions {
  peers: PeerName[];
  start: StartOptions;
  /** Per-scenario numbers, already parsed; each scenario reads what it needs with its defaults. */
  numbers: Partial<Record<NumberOption, number>>;
  rates?: number[];
  noise: NoisePolicy;
  /** `--search`: find the sustained rate instead of measuring fixed rates. */
  search?: SearchOptions;
  /** `--storage sqlite,memory`: run flametalk once per embedded storage, side by side. */
  storages?: EmbeddedStorage[];
  /** `--layout`: cluster socket placement. */
  placement?: Placement;
}

export const EMBEDDED_STORAGES = ['sqlite', 'memory'] as const;
export type EmbeddedStorage = (typeof EMBEDDED_STORAGES)[number];

export const NUMBER_OPTIONS = [
  'rooms', 'subscribers', 'users', 'duration', 'warmup', 'drain', 'size', 'connections', 'per-generator', 'concurrency',
] as const;
export type NumberOption = (typeof NUMBER_OPTIONS)[number];

export interface Scenario {
  name: string;
  summary: string;
  defaultPeers: PeerName[];
  /** Nodes per peer (2 in the cluster scenario). */
  nodes: number;
  /** Which of the run-wide options it understands (run.ts refuses the others). */
  supports: Array<'search' | 'storage' | 'layout'>;
  /** The options as run, for the result file. */
  describe(options: CommonOptions): Record<string, unknown>;
  run(options: CommonOptions): Promise<PeerResult[]>;
}

export const num = (options: CommonOptions, key: NumberOption, fallback: number): number => options.numbers[key] ?? fallback;

/**
 * A load plan's step timing, message size and connect concurrency: as given, else these defaults
 * (seconds). A search runs many probes, so its steps are short unless told otherwise.
 */
export function loadTiming(
  options: CommonOptions, defaults: { warmup?: number; duration?: number; concurrency?: number } = {},
): Pick<LoadPlan, 'warmupMs' | 'durationMs' | 'drainMs' | 'contentBytes' | 'concurrency' | 'search'> {
  const search = options.search;
  return {
    warmupMs: num(options, 'warmup', defaults.warmup ?? 3) * 1000,
    durationMs: num(options, 'duration', search ? 5 : defaults.duration ?? 10) * 1000,
    drainMs: num(options, 'drain', search ? 10 : 30) * 1000,
    contentBytes: num(options, 'size', 64),
    concurrency: num(options, 'concurrency', defaults.concurrency ?? 100),
    ...(search ? { search } : {}),
  };
}

/** What the result file records of a load plan, besides the room shape each scenario names its own way. */
export function describeLoad(plan: LoadPlan): Record<string, unknown> {
  return {
    ...(plan.search ? { search: { ...plan.search, startPerRoom: plan.rates[0]! / plan.layout.rooms } } : { ratesPerRoom: plan.rates.map((rate) => rate / plan.layout.rooms) }),
    users: plan.layout.users, durationMs: plan.durationMs, warmupMs: plan.warmupMs, contentBytes: plan.contentBytes,
  };
}

/**
 * Runs `work` against each peer in turn, each on a server of its own; flametalk once per
 * embedded storage when `--storage` lists several (EMBEDDED_STORAGE, each run a `variant`).
 */
export async function eachPeer(
  options: CommonOptions,
  work: (server: PeerServer, result: PeerResult, peer: PeerName) => Promise<void>,
  start: StartOptions = options.start,
): Promise<PeerResult[]> {
  const results: PeerResult[] = [];
  for (const peer of options.peers) {
    if (peer !== 'flametalk' || !options.storages) {
      results.push(await withPeer(peer, start, (server, result) => work(server, result, peer)));
      continue;
    }
    for (const storage of options.storages) {
      const withStorage = { ...start, flametalkEnv: { ...start.flametalkEnv, EMBEDDED_STORAGE: storage } };
      results.push(await withPeer(peer, withStorage, (server, result) => work(server, result, peer), storage));
    }
  }
  return results;
}
