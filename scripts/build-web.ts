// `npm run build` (and so `npm start`): bundles the web chat app (web/) into dist/web, which the
// HTTP server serves at /app/. One ESM bundle, minified, with the SDK inside; no framework.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
export const WEB_OUT_DIR = join(root, 'dist', 'web');

/** Builds the app into `outDir`; resolves the bundle's size in bytes. */
export async function buildWebApp(outDir = WEB_OUT_DIR): Promise<number> {
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'web', 'src', 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true, format: 'esm', platform: 'browser', target: ['es2022'], minify: true, sourcemap: true,
    metafile: true, logLevel: 'warning',
  });
  await Promise.all(['index.html', 'app.css'].map((file) => copyFile(join(root, 'web', file), join(outDir, file))));
  return result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('app.js'))!]!.bytes;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bytes = await buildWebApp();
  console.log(`web app: ${WEB_OUT_DIR} (app.js ${(bytes / 1024).toFixed(1)} KiB)`);
}
