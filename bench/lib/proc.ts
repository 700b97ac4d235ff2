import { readFileSync } from 'node:fs';

/** Process accounting from /proc (Linux): CPU time and resident memory of a server under test. */

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux x86-64/arm64 build. */
const CLK_TCK = 100;

/** User and system CPU seconds consumed so far by `pid` (all its threads). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** User + system CPU seconds consumed so far by `pid`. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

function statusField(pid: number, name: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Resident set size, bytes. */
export const rssBytes = (pid: number): number => statusField(pid, 'VmRSS');

export interface Usage {
  cpuSeconds: number;
  /** The kernel's share of cpuSeconds (on loopback it includes the receive side of every send). */
  systemSeconds: number;
  rssBytes: number;
}

/** Summed over the processes of one peer (two nodes in the cluster scenario). */
export function usage(pids: number[]): Usage {
  const total: Usage = { cpuSeconds: 0, systemSeconds: 0, rssBytes: 0 };
  for (const pid of pids) {
    const { user, system } = cpuTimes(pid);
    total.cpuSeconds += user + system;
    total.systemSeconds += system;
    total.rssBytes += rssBytes(pid);
  }
  return total;
}

/** Samples RSS every `intervalMs` to find the peak during a measurement window. */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  peakBytes = 0;

  constructor(private readonly pids: number[], private readonly intervalMs = 250) {}

  start(): this {
    this.peakBytes = usage(this.pids).rssBytes;
    this.timer = setInterval(() => {
      try {
        this.peakBytes = Math.max(this.peakBytes, usage(this.pids).rssBytes);
      } catch {
        // The process exited; the scenario notices on its own.
      }
    }, this.intervalMs);
    return this;
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peakBytes;
  }
}

/** Host-wide TCP segments sent so far (/proc/net/snmp OutSegs): loopback traffic of the whole machine. */
export function tcpOutSegments(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Tcp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('OutSegs')] ?? 0);
}

/** Busy CPU seconds of the whole host so far (/proc/stat: everything but idle and iowait). */
export function hostBusySeconds(): number {
  const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = first;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}
