import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { clientOf, signUp } from '../client/support.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { ensureWebAppBuilt, launchChromium, openApp, screenshot, sendInPage, shownIds, shownMessages, signUpInPage, waitForState } from './support.ts';

describe('web app in Chromium: two people chat', () => {
  let node: TestNode;
  let browser: Browser;
  const cleanups: Array<() => unknown> = [];

  before(async () => {
    await ensureWebAppBuilt();
    browser = await launchChromium();
    node = await startNode({ config: { rateLimitPerSecond: 1000, rateLimitBurst: 1000 } });
  });
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await browser?.close();
    await node?.stop();
  });

  it('serves the app at /app/ with its socket address and a strict content security policy', async () => {
    const root = await fetch(`${node.baseUrl}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/app/');
    const page = await fetch(`${node.baseUrl}/app/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const config = await (await fetch(`${node.baseUrl}/app/config.json`)).json() as { data: { wsUrl: string } };
    assert.equal(config.data.wsUrl, node.wsUrl);
  });

  it('two pages sign up, find the room with its unread count, chat live with presence, typing and read markers', async () => {
    const ann = await openApp(browser, node.baseUrl);
    const bob = await openApp(browser, node.baseUrl);
    cleanups.push(() => ann.context.close(), () => bob.context.close());
    await signUpInPage(ann.page, 'Ann');
    const bobAccount = await signUpInPage(bob.page, 'Bob');
    await waitForState(ann.page, 'connected', 'Ann is connected');
    await waitForState(bob.page, 'connected', 'Bob is connected');

    // Ann creates the room by Bob's id (shown on his page) and writes first.
    await ann.page.locator('#new-room-users').fill(bobAccount.userId);
    await ann.page.locator('#new-room button').click();
    await ann.page.locator('#chat #room-title').filter({ hasText: 'Bob' }).waitFor();
    await sendInPage(ann.page, 'hi Bob');
    await waitFor(async () => (await shownMessages(ann.page)).includes('hi Bob'), 'Ann sees her message acknowledged');

    // Bob's room list picks the room up with two unread messages (Ann's invitation and her text) and the last one.
    const bobsRoom = bob.page.locator('#room-list .room').filter({ hasText: 'Ann' });
    await bobsRoom.locator('.unread').filter({ hasText: '2' }).waitFor({ timeout: 15_000 });
    assert.match((await bobsRoom.locator('.last').textContent())!, /Ann: hi Bob/);
    await screenshot(bob.page, 'chat-1-room-list-unread');

    await bobsRoom.locator('a').click();
    await waitFor(async () => (await shownMessages(bob.page)).includes('hi Bob'), 'Bob sees the history');
    // The invitation is a notice from the server, without a sender (Korean, the default catalogue).
    await bob.page.locator('#messages .message.system .contents').filter({ hasText: 'Ann님이 Bob님을 초대했습니다.' }).first().waitFor();
    assert.equal(await bob.page.locator('#messages .message.system .nickname').count(), 0, 'no sender name on a notice');
    assert.equal(await bobsRoom.locator('.unread').count(), 0, 'the open room shows no unread count');

    // Presence: each sees the other in the room.
    await ann.page.locator(`#members .member[data-user-id="${bobAccount.userId}"][data-online="true"]`).waitFor();
    // Read marker: Bob opened the room, Ann's message says he read it.
    await ann.page.locator('#messages .message.mine .read-by').filter({ hasText: 'Read by Bob' }).waitFor();

    // Typing, then a live message each way.
    await bob.page.locator('#composer-input').pressSequentially('hel');
    await ann.page.locator('#typing').filter({ hasText: 'Bob is typing' }).waitFor();
    await bob.page.locator('#composer-input').fill('');
    await sendInPage(bob.page, 'hi Ann <b>not bold</b>');
    await waitFor(async () => (await shownMessages(ann.page)).includes('hi Ann <b>not bold</b>'), 'Ann gets Bob\'s message live');
    assert.equal(await ann.page.locator('#messages b').count(), 0, 'message text is shown as text, never as HTML');
    await waitFor(async () => (await ann.page.locator('#typing').textContent()) === '', 'the typing line clears when his message arrives');
    await sendInPage(ann.page, 'how are you?');
    await waitFor(async () => (await shownMessages(bob.page)).includes('how are you?'), 'Bob gets Ann\'s message live');

    const expected = ['hi Bob', 'hi Ann <b>not bold</b>', 'how are you?'];
    assert.deepEqual((await shownMessages(ann.page)).filter((c) => expected.includes(c)), expected);
    assert.deepEqual((await shownMessages(bob.page)).filter((c) => expected.includes(c)), expected);
    assert.deepEqual(await shownIds(ann.page), await shownIds(bob.page), 'both show the same messages in the same order');
    await screenshot(ann.page, 'chat-2-ann');
    await screenshot(bob.page, 'chat-2-bob');
    assert.deepEqual([...ann.errors, ...bob.errors], [], 'no script errors');
  });

  it('a reload resumes the session and the room, and older history pages in on scroll', async () => {
    const annClient = clientOf(node, 'ann-phone');
    cleanups.push(() => annClient.close());
    await signUp(annClient, 'Ann');
    const bob = await openApp(browser, node.baseUrl);
    cleanups.push(() => bob.context.close());
    const bobAccount = await signUpInPage(bob.page, 'Bob');
    const { roomId } = await annClient.createRoom({ users: [bobAccount.userId] });
    const room = await annClient.join(roomId);
    const sent: string[] = [];
    for (let i = 1; i <= 45; i++) {
      sent.push(`message ${i}`);
      await room.send(`message ${i}`);
    }

    await bob.page.goto(`${node.baseUrl}/app/#/room/${roomId}`);
    await bob.page.reload(); // a reload, not a new sign-in: the session lives in this tab
    await bob.page.locator('#my-id').filter({ hasText: bobAccount.userId }).waitFor();
    await waitFor(async () => (await shownMessages(bob.page)).includes('message 45'), 'the newest page is shown');
    const firstPage = (await shownMessages(bob.page)).filter((c) => c.startsWith('message '));
    assert.deepEqual(firstPage, sent.slice(-30), 'one page: the newest 30, oldest first');

    await bob.page.locator('#scroller').evaluate((scroller) => scroller.scrollTo(0, 0));
    await waitFor(async () => (await shownMessages(bob.page)).includes('message 1'), 'scrolling up loads the older page');
    assert.deepEqual((await shownMessages(bob.page)).filter((c) => c.startsWith('message ')), sent);
    await bob.page.locator('#messages[data-complete=true]').waitFor();
    assert.equal(await bob.page.locator('#older').isHidden(), true, 'nothing older to load');
    await screenshot(bob.page, 'chat-3-history');
    assert.deepEqual(bob.errors, []);
  });

  it('a bad user id in the new-room form gets a clear message', async () => {
    const ann = await openApp(browser, node.baseUrl);
    cleanups.push(() => ann.context.close());
    await signUpInPage(ann.page, 'Ann');
    await ann.page.locator('#new-room-users').fill('bob@example.com');
    await ann.page.locator('#new-room button').click();
    await ann.page.locator('#room-error').filter({ hasText: '"bob@example.com" is not a user id' }).waitFor();
    await ann.page.locator('#new-room-users').fill('12345');
    await ann.page.locator('#new-room button').click();
    await ann.page.locator('#room-error').filter({ hasText: 'Could not create the room' }).waitFor();
  });
});
