import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TcpProxy, clientOf, received, signUp } from '../client/support.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import {
  ensureWebAppBuilt, launchChromium, openApp, screenshot, sendInPage, shownIds, shownMessages, signUpInPage, waitForState,
} from './support.ts';

const RELAXED = { rateLimitPerSecond: 1000, rateLimitBurst: 1000 };

async function assertShownOnce(page: Page, expected: string[], what: string): Promise<void> {
  await waitFor(async () => {
    const shown = await shownMessages(page);
    return expected.every((c) => shown.includes(c));
  }, `${what}: every message shown`, 20_000, 50);
  await waitFor(async () => (await page.locator('#messages .pending').count()) === 0, `${what}: no send left pending`, 20_000, 50);
  await sleep(500); // a late duplicate would show up by now
  assert.deepEqual(await shownMessages(page), expected, `${what}: each message once, in order`);
  const ids = await shownIds(page);
  assert.equal(new Set(ids).size, ids.length, `${what}: no message id twice`);
}

describe('web app in Chromium: recovery', () => {
  let browser: Browser;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    await ensureWebAppBuilt();
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(() => browser?.close());

  it('a page whose socket the server dropped shows it, queues what is written meanwhile, and recovers exactly the missed messages', async () => {
    // The page's socket goes through a relay the test can cut; Ann's SDK client connects directly.
    const proxy = await TcpProxy.start(1);
    cleanups.push(() => proxy.close());
    const node = await startNode({ config: { ...RELAXED, webAppWsUrl: `ws://127.0.0.1:${proxy.port}/ws` } });
    cleanups.push(() => node.stop());
    proxy.target = node.server.addresses.wsPort;

    const bob = await openApp(browser, node.baseUrl);
    cleanups.push(() => bob.context.close());
    const bobAccount = await signUpInPage(bob.page, 'Bob');
    const annClient = clientOf(node, 'ann-phone');
    cleanups.push(() => annClient.close());
    await signUp(annClient, 'Ann');
    const { roomId } = await annClient.createRoom({ users: [bobAccount.userId] });
    const annRoom = await annClient.join(roomId);
    const toAnn = received(annRoom);
    await annRoom.send('before the drop');
    await bob.page.goto(`${node.baseUrl}/app/#/room/${roomId}`);
    await waitFor(async () => (await shownMessages(bob.page)).includes('before the drop'), 'Bob sees the first message');
    await waitForState(bob.page, 'connected', 'Bob is connected');

    proxy.cut();
    await waitForState(bob.page, 'reconnecting', 'the page shows the lost connection');
    const missed = ['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5'];
    for (const contents of missed) await annRoom.send(contents);
    await sendInPage(bob.page, 'written offline');
    await bob.page.locator('#messages .message.pending').filter({ hasText: 'written offline' }).waitFor();
    await bob.page.locator('#connection').filter({ hasText: '1 waiting to send' }).waitFor();
    await screenshot(bob.page, 'recovery-1-offline');
    await sleep(300); // a few reconnect attempts fail meanwhile
    assert.deepEqual(await shownMessages(bob.page), ['before the drop'], 'nothing arrives while the socket is down');

    proxy.restore();
    await waitForState(bob.page, 'connected', 'the page reconnects on its own', 30_000);
    await assertShownOnce(bob.page, ['before the drop', ...missed, 'written offline'], 'Bob after the reconnect');
    await waitFor(() => toAnn.some((m) => m.contents === 'written offline'), 'Ann gets what Bob wrote offline');
    assert.equal(toAnn.filter((m) => m.contents === 'written offline').length, 1, 'the queued send is delivered once');
    assert.match((await bob.page.locator('#connection').textContent())!, /^Connected$/);
    await screenshot(bob.page, 'recovery-2-recovered');
    assert.deepEqual(bob.errors, []);
  });

  it('both pages ride out a server restart (embedded SQLite): reconnect, send what was queued once, keep the history', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flametalk-browser-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    // The pages reach the socket through a relay, as through a load balancer: the new process's
    // socket port is another one (uWS cannot bind the old one again within this process).
    const relay = await TcpProxy.start(1);
    cleanups.push(() => relay.close());
    const config = { ...RELAXED, embeddedStorage: 'sqlite' as const, dataDir, webAppWsUrl: `ws://127.0.0.1:${relay.port}/ws` };
    let node: TestNode = await startNode({ config });
    cleanups.push(() => node.stop());
    relay.target = node.server.addresses.wsPort;
    const { httpPort } = node.server.addresses;

    const ann = await openApp(browser, node.baseUrl);
    const bob = await openApp(browser, node.baseUrl);
    cleanups.push(() => ann.context.close(), () => bob.context.close());
    await signUpInPage(ann.page, 'Ann');
    const bobAccount = await signUpInPage(bob.page, 'Bob');
    await ann.page.locator('#new-room-users').fill(bobAccount.userId);
    await ann.page.locator('#new-room button').click();
    await ann.page.locator('#chat #room-title').filter({ hasText: 'Bob' }).waitFor();
    const roomId = (await ann.page.locator('#chat').getAttribute('data-room-id'))!;
    await bob.page.goto(`${node.baseUrl}/app/#/room/${roomId}`);
    await bob.page.locator('#chat #room-title').filter({ hasText: 'Ann' }).waitFor();
    await sendInPage(ann.page, 'before the restart');
    await waitFor(async () => (await shownMessages(bob.page)).includes('before the restart'), 'Bob gets the first message');

    await node.stop(); // drains: every socket is told 4200
    await waitForState(ann.page, 'reconnecting', 'Ann sees the server go');
    await waitForState(bob.page, 'reconnecting', 'Bob sees the server go');
    await sendInPage(ann.page, 'written while the server was down');
    await ann.page.locator('#messages .message.pending').waitFor();

    node = await startNode({ config: { ...config, httpPort } });
    relay.target = node.server.addresses.wsPort;
    await waitForState(ann.page, 'connected', 'Ann reconnects to the new process', 40_000);
    await waitForState(bob.page, 'connected', 'Bob reconnects to the new process', 40_000);
    await sendInPage(bob.page, 'after the restart');
    const everything = ['before the restart', 'written while the server was down', 'after the restart'];
    await assertShownOnce(ann.page, everything, 'Ann after the restart');
    await assertShownOnce(bob.page, everything, 'Bob after the restart');
    await screenshot(ann.page, 'restart-1-ann');

    // A reload on the new process: same session, same room, the history from SQLite.
    await bob.page.reload();
    await assertShownOnce(bob.page, everything, 'Bob after a reload');
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  });
});
