/**
 * Progress of a Maven download, read from its transfer lines (batch mode, not -q):
 * `Downloaded from central: https://…/kafka-clients-4.0.0.jar (17 MB at 4.2 MB/s)`.
 * The first `npm test` fetches ~110 MB of Kafka and Cassandra jars; a line every few seconds
 * says what has arrived, so a slow mirror does not look like a hang.
 */
const DOWNLOADED = /^(?:\[INFO\]\s+)?Downloaded from [^:]+: (\S+) \((\d+(?:\.\d+)?) (B|kB|KB|MB|GB)\b/;
const UNIT = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 } as const;

export class MavenProgress {
  files = 0;
  bytes = 0;
  last: string | undefined;
  private reported = -1;

  /** Reads one line of Maven's output; true when it was a finished download. */
  feed(line: string): boolean {
    const match = DOWNLOADED.exec(line.trim());
    if (!match) return false;
    this.files += 1;
    this.bytes += Number(match[2]) * UNIT[match[3] as keyof typeof UNIT];
    this.last = match[1]!.slice(match[1]!.lastIndexOf('/') + 1);
    return true;
  }

  /** The progress line for `id` after `seconds`. */
  line(id: string, seconds: number): string {
    const elapsed = `${Math.round(seconds)} s`;
    if (this.files === 0) return `fetching ${id}: resolving dependencies, nothing downloaded yet (${elapsed})`;
    const moved = this.files === this.reported ? ', waiting for the next file' : '';
    this.reported = this.files;
    return `fetching ${id}: ${this.files} files, ${(this.bytes / 1e6).toFixed(1)} MB downloaded (${elapsed}, last ${this.last}${moved})`;
  }
}

/** Splits a stream's chunks into lines. */
export function lines(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  };
}
