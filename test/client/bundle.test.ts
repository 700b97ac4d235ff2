import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

describe('client SDK: runs in a browser', () => {
  it('bundles for the browser with no Node built-in and no server code', async () => {
    const result = await build({
      entryPoints: ['src/client/index.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, minify: true, logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.deepEqual(inputs.filter((path) => !path.startsWith('src/client/')), [], 'only the SDK\'s own files end up in the bundle');
    const size = result.outputFiles[0]!.contents.byteLength;
    assert.ok(size < 40_000, `the minified bundle is small (${size} bytes)`);
  });
});
