import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildWebApp } from '../../scripts/build-web.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** Debian's Chromium (`apt-get install -y chromium`); CHROMIUM_PATH points elsewhere. No browser is ever downloaded. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots of every browser test land here (gitignored), for a person to look at after a run. */
export const ARTIFACTS_DIR = join(import.meta.dirname, '..', '..', 'test-results', 'browser');

/**
 * Starts headless Chromium. A machine without it fails the test with the command that installs
 * it: the browser tests are part of the suite, never skipped.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}, and the browser tests need it. Install it with\n`
      + '  apt-get update && apt-get install -y chromium\n'
      + 'or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      // Chromium refuses its sandbox to root, which is how CI containers run.
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM_PATH} did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The bundle the server serves at /app/, built from the current source (what `npm run build` does). */
let built: Promise<number> | undefined;
export const ensureWebAppBuilt = (): Promise<number> => (built ??= buildWebApp());

/** A page of its own browser context (its own sessionStorage: its own device), failing on any script error. */
export async function openApp(browser: Browser, baseUrl: string): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${baseUrl}/app/`);
  return { context, page, errors };
}

let accounts = 0;

/** Signs up through the form; resolves the new user's id, as the page shows it. */
export async function signUpInPage(page: Page, nickname: string): Promise<{ userId: string; email: string }> {
  const email = `${nickname.toLowerCase()}-${Date.now()}-${++accounts}@example.com`;
  const form = page.locator('#sign-up');
  await form.locator('input[name=nickname]').fill(nickname);
  await form.locator('input[name=email]').fill(email);
  await form.locator('input[name=password]').fill('correct horse battery');
  await form.locator('button').click();
  const userId = (await page.locator('#my-id').textContent({ timeout: 10_000 }))!;
  return { userId, email };
}

/** The contents of the messages the open room shows, in the order shown (pending sends excluded). */
export function shownMessages(page: Page): Promise<string[]> {
  return page.locator('#messages .message:not(.pending):not(.system) .contents').allTextContents();
}

/** The ids of the messages shown, in order. */
export function shownIds(page: Page): Promise<string[]> {
  return page.locator('#messages .message[data-message-id]').evaluateAll((items) => items.map((item) => item.getAttribute('data-message-id')!));
}

/** Waits until the page shows `expected` with nothing left pending, then asserts it shows each once, in that order. */
export async function assertShownOnce(page: Page, expected: string[], what: string): Promise<void> {
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

export async function sendInPage(page: Page, contents: string): Promise<void> {
  await page.locator('#composer-input').fill(contents);
  await page.locator('#composer button').click();
}

export const connectionState = (page: Page): Promise<string | null> => page.locator('#connection').getAttribute('data-state');

export async function waitForState(page: Page, state: string, what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await connectionState(page)) === state, `${what} (connection ${state})`, timeoutMs, 50);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`) });
}
