import { readFileSync } from 'node:fs';

/** Process accounting from /proc (Linux): CPU time and resident memory of a server under test. */

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux x86-64/arm64 build. */
const CLK_TCK = 100;

/** User + system CPU seconds consumed so far by `pid` (all its threads). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLK_TCK;
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
  rssBytes: number;
}

/** Summed over the processes of one peer (two nodes in the cluster scenario). */
export function usage(pids: number[]): Usage {
  return pids.reduce((total, pid) => ({ cpuSeconds: total.cpuSeconds + cpuSeconds(pid), rssBytes: total.rssBytes + rssBytes(pid) }), { cpuSeconds: 0, rssBytes: 0 });
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
