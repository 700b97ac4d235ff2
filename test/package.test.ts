import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..');

interface PackageJson {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, { types: string; import: string; default: string } | string>;
  dependencies: Record<string, string>;
  keywords: string[];
}

/**
 * The package as npm would publish it: `npm pack` in a clean copy of the sources (so `prepack`
 * must build dist itself, and this checkout's dist is left alone for the tests running beside
 * this one), unpacked into a host project's node_modules, then started through its `bin` and
 * imported, types included, through its exports map. The dependencies come from this checkout's
 * node_modules (a registry install takes minutes here; it was checked by hand: README, Publishing).
 */
describe('the packed tarball', { timeout: 300_000 }, () => {
  let work: string;
  let host: string;
  let installed: string;
  let manifest: PackageJson;
  let files: string[];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'flametalk-pack-'));
    const source = join(work, 'source');
    await mkdir(source);
    for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'web', 'scripts']) {
      await cp(join(root, entry), join(source, entry), { recursive: true });
    }
    await symlink(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', work], { cwd: source, maxBuffer: 32 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    files = packed!.files.map((f) => f.path);

    host = join(work, 'host');
    installed = join(host, 'node_modules', 'flametalk');
    await mkdir(join(host, 'node_modules', '@types'), { recursive: true });
    await exec('tar', ['-xzf', join(work, packed!.filename), '-C', join(host, 'node_modules')]);
    await rename(join(host, 'node_modules', 'package'), installed);
    await writeFile(join(host, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', type: 'module', private: true }));
    manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as PackageJson;
    // The package's own dependencies, as an install would put them beside it.
    for (const dependency of [...Object.keys(manifest.dependencies), '@types/node']) {
      await mkdir(join(host, 'node_modules', dependency, '..'), { recursive: true });
      await symlink(join(root, 'node_modules', dependency), join(host, 'node_modules', dependency), 'dir');
    }
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('holds the built server, client, drivers and web app, and no sources, tests or fakes', () => {
    for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/main.js', 'dist/drivers.js', 'dist/drivers.d.ts', 'dist/client/index.js', 'dist/web/index.html', 'README.md', 'LICENSE']) {
      assert.ok(files.includes(path), `${path} is in the tarball`);
    }
    assert.deepEqual(files.filter((path) => /^(src|test|scripts|bench)\//.test(path) || /fake|\.map$/.test(path)), []);
    assert.deepEqual(manifest.keywords.includes('chat'), true);
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue;
      assert.equal(target.default, target.import, `${subpath} has a default condition`);
      assert.ok(files.includes(target.types.replace('./', '')), `${subpath} types are shipped`);
    }
  });

  it('starts through its bin (`npx flametalk`), serves, and stops on SIGTERM', async () => {
    const bin = join(installed, manifest.bin.flametalk!);
    assert.match(await readFile(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const child = spawn(process.execPath, [bin], {
      cwd: host,
      env: { PATH: process.env.PATH ?? '', HTTP_PORT: '0', WS_PORT: '0', DATA_DIR: join(work, 'data'), LOG_PRETTY: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const httpPort = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start within 60 s: ${stdout}${stderr}`)), 60_000);
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          const match = /"httpPort":(\d+)/.exec(stdout);
          if (match && stdout.includes('flametalk listening')) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
        child.on('exit', () => reject(new Error(`exited before listening: ${stderr}`)));
      });
      const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${httpPort}/app/`)).status, 200, 'the web app ships too');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
  });

  it('imports through its exports map at run time', async () => {
    const script = `
      const server = await import('flametalk');
      const drivers = await import('flametalk/drivers');
      const client = await import('flametalk/client');
      console.log(JSON.stringify({
        server: typeof server.createChatServer, memory: typeof server.MemoryStore,
        drivers: ['RedisPresenceStore', 'RedisTokenStore', 'RedisDedup', 'RedisFeed', 'KafkaBus', 'CassandraStore', 'FcmPusher'].filter((name) => typeof drivers[name] !== 'function'),
        client: typeof client.createClient,
      }));`;
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: host });
    assert.deepEqual(JSON.parse(stdout), { server: 'function', memory: 'function', drivers: [], client: 'function' });
  });

  it('type-checks a strict TypeScript host against its declarations', async () => {
    await writeFile(join(host, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: true },
      files: ['host.ts'],
    }));
    await writeFile(join(host, 'host.ts'), `
import { createChatServer, MemoryStore, type ChatServer, type Config, type Pusher } from 'flametalk';
import { KafkaBus, CassandraStore, FcmPusher, type KafkaBusOptions } from 'flametalk/drivers';
import { createClient, type FlametalkClient } from 'flametalk/client';

const config: Partial<Config> = { httpPort: 0, wsPort: 0, embeddedStorage: 'memory', corsOrigins: ['https://app.example'] };
const server: ChatServer = createChatServer({ config, drivers: { store: new MemoryStore() } });
const port: number = server.addresses.httpPort;
const connect: (options: KafkaBusOptions) => Promise<KafkaBus> = KafkaBus.connect;
const store: typeof CassandraStore.connect = CassandraStore.connect;
const pusher: (path: string) => Pusher = (path) => new FcmPusher({ serviceAccountPath: path });
const client: FlametalkClient = createClient({ httpUrl: 'http://127.0.0.1:' + port, wsUrl: 'ws://127.0.0.1:8081/ws', deviceId: 'host' });
// @ts-expect-error: a setting that does not exist is a type error for a host
createChatServer({ config: { httpPortt: 1 } });
export { connect, store, pusher, client };
`);
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    const result = await exec(tsc, ['-p', join(host, 'tsconfig.json')], { cwd: host }).then(() => '', (error: { stdout?: string }) => error.stdout ?? String(error));
    assert.equal(result, '', 'tsc reports nothing');
  });
});
