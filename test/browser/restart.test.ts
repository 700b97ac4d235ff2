import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { fullHistory, ProcessNode } from '../support/process-node.ts';
import { portsForRestart } from '../support/restart-ports.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';
import {
  assertShownOnce, ensureWebAppBuilt, launchChromium, openApp, screenshot, sendInPage, shownIds, shownMessages, signUpInPage, waitForState,
} from './support.ts';

/** Long enough for a new process to start and for the app's backoff (up to 30 s between tries) to come round. */
const RECONNECT_MS = 75_000;

/**
 * The embedded default (SQLite under DATA_DIR) as `npm start` runs it, killed with SIGKILL and
 * started again on the same data directory and ports, while two people have the app open: the pages
 * are never reloaded or told anything, they must notice, queue, reconnect and catch up by themselves.
 */
describe('web app in Chromium: the server process is killed and started again', { timeout: 300_000 }, () => {
  let browser: Browser;
  let dataDir: string;
  const nodes: ProcessNode[] = [];
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    await ensureWebAppBuilt(); // before the server starts: it serves dist/web only if built by then
    browser = await launchChromium();
    dataDir = await mkdtemp(join(tmpdir(), 'flametalk-browser-restart-'));
  });
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await browser?.close();
    for (const node of nodes) await node.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function start(ports: { httpPort: number; wsPort: number }): Promise<ProcessNode> {
    const node = await ProcessNode.start({
      DATA_DIR: dataDir, HTTP_PORT: String(ports.httpPort), WS_PORT: String(ports.wsPort),
      LOG_LEVEL: 'info', LOG_PRETTY: 'false', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '1000',
    }, { name: `embedded-${nodes.length}` });
    nodes.push(node);
    return node;
  }

  it('both pages reconnect on their own and show every message once, in order, the one typed offline included', async () => {
    const ports = await portsForRestart();
    const first = await start(ports);
    const baseUrl = first.baseUrl;
    const ann = await openApp(browser, baseUrl);
    const bob = await openApp(browser, baseUrl);
    cleanups.push(() => ann.context.close(), () => bob.context.close());
    const annAccount = await signUpInPage(ann.page, 'Ann');
    const bobAccount = await signUpInPage(bob.page, 'Bob');
    await ann.page.locator('#new-room-users').fill(bobAccount.userId);
    await ann.page.locator('#new-room button').click();
    await ann.page.locator('#chat #room-title').filter({ hasText: 'Bob' }).waitFor();
    const roomId = (await ann.page.locator('#chat').getAttribute('data-room-id'))!;
    await bob.page.goto(`${baseUrl}/app/#/room/${roomId}`);
    await bob.page.locator('#chat #room-title').filter({ hasText: 'Ann' }).waitFor();
    await sendInPage(ann.page, 'before the restart');
    await waitFor(async () => (await shownMessages(bob.page)).includes('before the restart'), 'Bob gets Ann\'s message');
    await sendInPage(bob.page, 'hi Ann');
    await waitFor(async () => (await shownMessages(ann.page)).includes('hi Ann'), 'Ann gets Bob\'s reply');
    // Ann's phone, signed in before the kill: its token must still work on the new process.
    const annPhone = await first.signIn({ email: annAccount.email, password: 'correct horse battery' }, 'ann-phone');

    first.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    await waitForState(ann.page, 'reconnecting', 'Ann\'s page notices the server is gone');
    await waitForState(bob.page, 'reconnecting', 'Bob\'s page notices the server is gone');
    await sendInPage(ann.page, 'Ann wrote this while the server was down');
    await sendInPage(bob.page, 'Bob wrote this while the server was down');
    for (const page of [ann.page, bob.page]) {
      await page.locator('#messages .message.pending').filter({ hasText: 'while the server was down' }).waitFor();
      await page.locator('#connection').filter({ hasText: 'Reconnecting… · 1 waiting to send' }).waitFor();
    }
    await screenshot(ann.page, 'restart-1-ann-server-down');

    const second = await start(ports);
    assert.equal(second.baseUrl, baseUrl, 'the same ports');
    // Sent the moment the process is back, most likely before either page has retried: both pages
    // learn of it only through the rejoin's `since`.
    const phoneSocket = await TestSocket.connect(second.wsUrl, annPhone.accessToken);
    await phoneSocket.join(roomId);
    assert.equal((await phoneSocket.sendText(roomId, 'from Ann\'s phone, as the server came back')).type, 'ack');
    await phoneSocket.close();

    await waitForState(ann.page, 'connected', 'Ann\'s page reconnects to the new process', RECONNECT_MS);
    await waitForState(bob.page, 'connected', 'Bob\'s page reconnects to the new process', RECONNECT_MS);
    await sendInPage(bob.page, 'after the restart');

    // "In order" is the order the server stored them in: the two offline sends and the phone's race.
    const sent = [
      'before the restart', 'hi Ann', 'Ann wrote this while the server was down', 'Bob wrote this while the server was down',
      'from Ann\'s phone, as the server came back', 'after the restart',
    ];
    const stored = await waitFor(async () => {
      const history = await fullHistory(second, annPhone, roomId);
      return history.length >= sent.length ? history.map((m) => m.contents as string).reverse() : undefined;
    }, 'the history holds every message', 20_000, 100);
    assert.deepEqual([...stored].sort(), [...sent].sort(), 'the server stored each message once, the queued ones included');
    assert.deepEqual([stored.at(0), stored.at(1), stored.at(-1)], ['before the restart', 'hi Ann', 'after the restart']);
    await assertShownOnce(ann.page, stored, 'Ann after the restart');
    await assertShownOnce(bob.page, stored, 'Bob after the restart');
    assert.deepEqual(await shownIds(ann.page), await shownIds(bob.page), 'both pages show the same messages in the same order');
    for (const page of [ann.page, bob.page]) assert.equal(await page.locator('#connection').textContent(), 'Connected');
    await screenshot(ann.page, 'restart-2-ann-recovered');
    await screenshot(bob.page, 'restart-2-bob-recovered');

    // A reload on the new process: the same session, the same room, the history from SQLite.
    await bob.page.reload();
    await waitForState(bob.page, 'connected', 'Bob\'s reloaded page connects');
    await assertShownOnce(bob.page, stored, 'Bob after a reload');
    assert.deepEqual([...ann.errors, ...bob.errors], [], 'no script errors');
  });
});
