import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { TcpProxy, clientOf, received, signUp } from '../client/support.ts';
import { startNode } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import {
  assertShownOnce, ensureWebAppBuilt, launchChromium, openApp, screenshot, sendInPage, shownMessages, signUpInPage, waitForState,
} from './support.ts';

const RELAXED = { rateLimitPerSecond: 1000, rateLimitBurst: 1000 };

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
});
