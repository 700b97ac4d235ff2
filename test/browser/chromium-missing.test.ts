import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('browser tests without Chromium', () => {
  it('fail with the command that installs it (never skip)', () => {
    // A child process, so CHROMIUM_PATH is read afresh by the support module.
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      "const { launchChromium } = await import('./test/browser/support.ts'); await launchChromium();"], {
      env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' }, encoding: 'utf8', timeout: 60_000,
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /Chromium is not installed at \/nonexistent\/chromium/);
    assert.match(result.stderr, /apt-get update && apt-get install -y chromium/);
  });
});
