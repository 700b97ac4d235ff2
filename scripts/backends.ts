// Usage: npx tsx scripts/backends.ts <start|stop|status|reset|fetch> [kafka|cassandra|s3mock|all]
import {
  BACKENDS, type BackendName, backendStatus, fetchBackend, resetBackend, startBackend, stopBackend,
} from './backends/index.ts';

const USAGE = 'usage: backends.ts <start|stop|status|reset|fetch> [kafka|cassandra|s3mock|all]  (default: all)';

function targets(arg: string | undefined): BackendName[] {
  if (arg === undefined || arg === 'all') return [...BACKENDS];
  if ((BACKENDS as readonly string[]).includes(arg)) return [arg as BackendName];
  throw new Error(`unknown backend "${arg}"\n${USAGE}`);
}

async function main(cmd: string | undefined, names: BackendName[]): Promise<void> {
  switch (cmd) {
    case 'fetch':
      for (const name of names) await fetchBackend(name);
      return;
    case 'start': {
      // Sequential fetches: concurrent Maven runs can trip over the shared ~/.m2.
      for (const name of names) await fetchBackend(name);
      const t0 = Date.now();
      const results = await Promise.allSettled(names.map((name) => startBackend(name)));
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
      if (failed.length > 0) throw new Error(failed.map((e) => e.message).join('\n\n'));
      console.error(`[backends] all up in ${((Date.now() - t0) / 1000).toFixed(1)} s; export these:`);
      for (const r of results) {
        if (r.status === 'fulfilled') for (const [k, v] of Object.entries(r.value.env)) console.log(`${k}=${v}`);
      }
      return;
    }
    case 'stop':
      await Promise.all(names.map((name) => stopBackend(name)));
      return;
    case 'reset':
      for (const name of names) await resetBackend(name);
      return;
    case 'status':
      for (const name of names) {
        const s = await backendStatus(name);
        const owner = s.pid !== undefined ? `pid ${s.pid}` : s.portOpen ? 'not started by these scripts' : 'no process';
        const state = s.ready ? 'ready' : s.portOpen ? 'port open, not answering' : 'stopped';
        console.log(`${name.padEnd(9)} ${state.padEnd(24)} ${owner.padEnd(28)} ${Object.entries(s.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      return;
    default:
      throw new Error(USAGE);
  }
}

const [cmd, target] = process.argv.slice(2);
try {
  await main(cmd, targets(target));
  process.exit(0);
} catch (err) {
  console.error(`[backends] ${(err as Error).message}`);
  process.exit(1);
}
