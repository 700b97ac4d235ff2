import { cpuSeconds, hostBusySeconds, RssSampler, tcpOutSegments, usage, type Usage } from './proc.ts';

/** What the machine did while one piece of load ran. */
export interface Around<T> {
  value: T;
  server: { before: Usage; after: Usage; peakRss: number };
  /** CPU seconds of each server process meanwhile, in the order of the pids given (node 0, node 1, …). */
  nodeCpuSeconds: number[];
  /** Host-wide TCP segments sent meanwhile. */
  tcpSegments: number;
  /** CPU seconds of the whole host meanwhile, and of this harness process. */
  hostBusySeconds: number;
  harnessCpuSeconds: number;
  /** CPU seconds of the backends (Redis, Kafka, Cassandra) meanwhile, when their pids were given. */
  backendCpuSeconds: number;
  /** …per backend (`redis`, `kafka`, `cassandra`). */
  backendCpuByName: Record<string, number>;
  /** Backend processes that exited meanwhile (someone restarted Kafka, say): the step is not clean. */
  backendsGone: number;
}

/** CPU seconds of processes that may come and go (a backend restarted by someone else counts as 0). */
function cpuOf(pids: number[]): Map<number, number> {
  const times = new Map<number, number>();
  for (const pid of pids) {
    try {
      times.set(pid, cpuSeconds(pid));
    } catch {
      // exited
    }
  }
  return times;
}

/** Runs `work` while sampling the server processes `pids` (CPU, RSS peak) and the host; `backends` maps a backend's name to its pids. */
export async function around<T>(pids: number[], work: () => Promise<T>, backends: Record<string, number[]> = {}): Promise<Around<T>> {
  const sampler = new RssSampler(pids).start();
  const backendsBefore = Object.entries(backends).map(([name, list]) => [name, cpuOf(list)] as const);
  const nodesBefore = pids.map(cpuSeconds);
  const before = usage(pids);
  const segments = tcpOutSegments();
  const host = hostBusySeconds();
  const harness = process.cpuUsage();
  const value = await work();
  const after = usage(pids);
  const nodeCpuSeconds = pids.map((pid, i) => cpuSeconds(pid) - nodesBefore[i]!);
  const harnessUsed = process.cpuUsage(harness);
  const backendCpuByName: Record<string, number> = {};
  let backendsGone = 0;
  for (const [name, times] of backendsBefore) {
    const still = cpuOf([...times.keys()]);
    backendsGone += times.size - still.size;
    backendCpuByName[name] = [...still].reduce((sum, [pid, seconds]) => sum + seconds - times.get(pid)!, 0);
  }
  return {
    backendCpuSeconds: Object.values(backendCpuByName).reduce((a, b) => a + b, 0),
    backendCpuByName,
    backendsGone,
    value,
    server: { before, after, peakRss: sampler.stop() },
    nodeCpuSeconds,
    tcpSegments: tcpOutSegments() - segments,
    hostBusySeconds: hostBusySeconds() - host,
    harnessCpuSeconds: (harnessUsed.user + harnessUsed.system) / 1e6,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * CPU (cores) used by processes other than `ours` over one second. The machine is shared (other
 * people's tests, Kafka, Cassandra); a step measured while they are busy is noise.
 */
export async function otherLoad(ours: number[]): Promise<number> {
  const mine = (): number => ours.reduce((sum, pid) => {
    try {
      return sum + cpuSeconds(pid);
    } catch {
      return sum;
    }
  }, 0) + process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  const host = hostBusySeconds();
  const before = mine();
  await sleep(1000);
  return Math.max(0, hostBusySeconds() - host - (mine() - before));
}

/** Waits (up to `maxWaitMs`) for a second in which others use at most `threshold` cores; returns the last reading. */
export async function waitForQuiet(ours: number[], threshold: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let load = await otherLoad(ours);
  while (load > threshold && Date.now() < deadline) load = await otherLoad(ours);
  return load;
}
