import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The generator and the peer servers run as plain JavaScript bundles (esbuild, packages left
 * external), not under the tsx loader, whose extra loader thread would add its memory and start-up
 * work to what is measured. flametalk itself runs from `dist/` (tsc).
 */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const REPO_DIR = join(BENCH_DIR, '..');
export const CACHE_DIR = join(BENCH_DIR, '.cache');
const OUT_DIR = join(CACHE_DIR, 'build');

export const ENTRIES = {
  generator: 'generator.ts',
  'uws-bare': 'peers/uws-bare.ts',
  socketio: 'peers/socketio.ts',
  'memory-probe': 'memory/probe.ts',
} as const;

export type Entry = keyof typeof ENTRIES;

let built: Promise<void> | undefined;

/** Bundles every entry once per harness run; returns the path of `entry`'s bundle. */
export async function bundle(entry: Entry): Promise<string> {
  built ??= build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(BENCH_DIR, file)])),
    outdir: OUT_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  }).then(() => undefined);
  await built;
  return join(OUT_DIR, `${entry}.mjs`);
}
