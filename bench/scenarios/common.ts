import type { NoisePolicy } from '../lib/peer-run.ts';
import type { PeerResult } from '../lib/results.ts';
import type { PeerName, StartOptions } from '../lib/servers.ts';

/** Options every scenario understands (parsed by run.ts). */
export interface CommonOptions {
  peers: PeerName[];
  start: StartOptions;
  /** Per-scenario numbers, already parsed; each scenario reads what it needs with its defaults. */
  numbers: Partial<Record<NumberOption, number>>;
  rates?: number[];
  noise: NoisePolicy;
}

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
  /** The options as run, for the result file. */
  describe(options: CommonOptions): Record<string, unknown>;
  run(options: CommonOptions): Promise<PeerResult[]>;
}

export const num = (options: CommonOptions, key: NumberOption, fallback: number): number => options.numbers[key] ?? fallback;
