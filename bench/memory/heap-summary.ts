import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * Heap snapshot (.heapsnapshot) → objects and self bytes per constructor, and the difference of two
 * snapshots: what the heap holds more of at 10,000 joined sockets than at none.
 * CLI: `node --max-old-space-size=4096 --import tsx bench/memory/heap-summary.ts before.heapsnapshot after.heapsnapshot [per]`
 */

export interface Tally {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** The group an object counts under: its constructor for objects, its name for closures, a kind for the rest. */
function group(type: string, name: string): string {
  switch (type) {
    case 'object':
    case 'native':
    case 'regexp':
      return name;
    case 'closure':
      return `(closure) ${name || 'anonymous'}`;
    case 'array':
    case 'hidden':
    case 'object shape':
      return `(${type}) ${name}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    default:
      return `(${type})`;
  }
}

export function summarize(path: string): Map<string, Tally> {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const tallies = new Map<string, Tally>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const key = group(types[data.nodes[i + typeAt]!]!, data.strings[data.nodes[i + nameAt]!]!);
    let tally = tallies.get(key);
    if (!tally) tallies.set(key, (tally = { count: 0, bytes: 0 }));
    tally.count++;
    tally.bytes += data.nodes[i + sizeAt]!;
  }
  return tallies;
}

export interface Growth extends Tally {
  group: string;
}

/** What grew from `before` to `after`, largest byte growth first. */
export function growth(before: Map<string, Tally>, after: Map<string, Tally>): Growth[] {
  const rows: Growth[] = [];
  for (const [key, tally] of after) {
    const was = before.get(key) ?? { count: 0, bytes: 0 };
    rows.push({ group: key, count: tally.count - was.count, bytes: tally.bytes - was.bytes });
  }
  return rows.sort((a, b) => b.bytes - a.bytes);
}

/** A Markdown table of the top `limit` rows, per `per` units (sockets) as well. */
export function growthTable(rows: Growth[], per: number, limit = 25): string {
  const lines = ['| constructor / kind | objects | bytes | objects per socket | bytes per socket |', '|---|---:|---:|---:|---:|'];
  for (const row of rows.slice(0, limit)) {
    lines.push(`| ${row.group.replaceAll('|', '\\|').slice(0, 80)} | ${row.count} | ${row.bytes} | ${(row.count / per).toFixed(2)} | ${(row.bytes / per).toFixed(0)} |`);
  }
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  lines.push(`| **all** | ${rows.reduce((sum, row) => sum + row.count, 0)} | ${total} | | ${(total / per).toFixed(0)} |`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [before, after, per] = process.argv.slice(2);
  if (!before || !after) {
    process.stderr.write('usage: heap-summary.ts <before.heapsnapshot> <after.heapsnapshot> [sockets]\n');
    process.exit(2);
  }
  process.stdout.write(`${growthTable(growth(summarize(before), summarize(after)), Number(per ?? 1))}\n`);
}
