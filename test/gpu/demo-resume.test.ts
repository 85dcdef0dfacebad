/**
 * The demo's saved run (demo/main.ts, demo/store.ts) in headless Chrome: the
 * spiral trains, its checkpoint goes to IndexedDB every few seconds; the
 * page is reloaded, offers to resume, and the resumed run continues where
 * the saved one was. The reference is the run before the reload itself: it
 * kept training past its last save, so the resumed run's losses for those
 * same iterations must equal the ones recorded before the reload, bit for
 * bit — the iteration count continues and the loss is not back at its
 * initial value.
 */
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectBrowser, openDemo, untilReady } from './demo-page';

let browser: Browser;

beforeAll(async () => {
  browser = await connectBrowser();
});
afterAll(async () => browser?.disconnect());

it('the spiral saves to IndexedDB while training; after a reload, Resume continues from the saved iteration with identical losses', async () => {
  const demo = await openDemo(browser);
  const { page, errors } = demo;

  await page.click('#spiral-start');
  // A save after iteration 10 or later, and 10 more iterations trained past it.
  await page.waitForFunction(
    'window.webodeDemo.spiral.saved && window.webodeDemo.spiral.saved.iteration >= 10 && window.webodeDemo.spiral.iteration >= window.webodeDemo.spiral.saved.iteration + 10',
    { timeout: 300_000, polling: 100 },
  );
  await page.click('#spiral-pause');
  await page.waitForFunction('window.webodeDemo.spiral.running === false', { timeout: 60_000 });
  const before = await page.evaluate(() => window.webodeDemo.spiral);
  if (!before.saved) throw new Error('no save');
  const S = before.saved.iteration;
  // Losses are read every 10 iterations: those of iterations 1 … 10·⌊K/10⌋ are known.
  const known = before.losses.length;
  expect(known).toBeGreaterThan(S);
  expect(before.saved.loss).toBe(before.losses[S - 1]);

  await untilReady(demo, () => page.reload());
  const offered = await page.evaluate(() => window.webodeDemo.spiral.offered);
  expect(offered).toBe(S);
  const button = await page.$eval('#spiral-resume', (el) => ({ hidden: (el as HTMLElement).hidden, text: el.textContent ?? '' }));
  expect(button.hidden).toBe(false);
  expect(button.text).toContain(`iteration ${S}`);

  await page.click('#spiral-resume');
  await page.waitForFunction(`window.webodeDemo.spiral.losses.length >= ${known}`, { timeout: 300_000, polling: 100 });
  await page.click('#spiral-pause');
  await page.waitForFunction('window.webodeDemo.spiral.running === false', { timeout: 60_000 });
  const after = await page.evaluate(() => window.webodeDemo.spiral);
  expect(after.resumedFrom).toBe(S);
  expect(after.iteration).toBeGreaterThanOrEqual(known);
  // The ledger restored iterations 1 … S; iterations S+1 … known were trained again after the reload.
  const replayed = after.losses.slice(S, known);
  const original = before.losses.slice(S, known);
  console.log(
    `[demo-resume] saved at iteration ${S} (loss ${before.saved.loss?.toExponential(4)}), paused at ${before.iteration}; ` +
      `initial loss ${before.losses[0].toExponential(4)}; iterations ${S + 1}–${known} after the reload: ` +
      `${replayed.map((l) => l.toExponential(4)).join(' ')} (before: ${original.map((l) => l.toExponential(4)).join(' ')})`,
  );
  expect(after.losses.slice(0, S)).toEqual(before.losses.slice(0, S));
  expect(replayed).toEqual(original);
  expect(await page.evaluate(() => window.webodeDemo.errors)).toEqual([]);
  expect(errors).toEqual([]);
  await page.close();
}, 600_000);
