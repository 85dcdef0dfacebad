/**
 * The demo page's latent-ODE section (demo/series.ts) in headless Chrome: it
 * draws before training, trains without a console error or a failed
 * request, its ELBO rises, its panels and curve are drawn, and a screenshot
 * of the section is saved under test/artifacts/ — or, with
 * DEMO_LATENT_ITERS set (the README's was taken with DEMO_LATENT_ITERS=600),
 * as demo/screenshots/latent.png.
 */
import { mkdirSync } from 'node:fs';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectBrowser, inked, mean, openDemo } from './demo-page';

let browser: Browser;
/** Iterations to train (longer runs make nicer screenshots: DEMO_LATENT_ITERS=600). */
const ITERS = Number(process.env.DEMO_LATENT_ITERS ?? 100);
const SCREENSHOT = process.env.DEMO_LATENT_ITERS ? 'demo/screenshots/latent.png' : 'test/artifacts/demo-latent.png';

beforeAll(async () => {
  browser = await connectBrowser();
  mkdirSync('demo/screenshots', { recursive: true });
  mkdirSync('test/artifacts', { recursive: true });
});
afterAll(async () => browser?.disconnect());

it('trains a latent ODE live: the ELBO rises, panels drawn, no errors; screenshot saved', async () => {
  const { page, errors, failed } = await openDemo(browser);
  for (const id of ['series-panel-0', 'series-panel-1', 'series-panel-2']) expect(await inked(page, id), id).toBeGreaterThan(0.01);
  const t0 = Date.now();
  await page.click('#series-start');
  await page.waitForFunction(`window.webodeSeriesDemo.iteration >= ${ITERS} && window.webodeSeriesDemo.draws >= 3`, { timeout: 400_000, polling: 500 });
  await page.click('#series-pause');
  await page.waitForFunction('window.webodeSeriesDemo.running === false', { timeout: 60_000 });
  const s = await page.evaluate(() => window.webodeSeriesDemo);
  const first = mean(s.elbo.slice(0, 10));
  const last = mean(s.elbo.slice(-10));
  console.log(`latent demo: ${s.iteration} iterations in ${Date.now() - t0} ms; ELBO ${first.toFixed(1)} → ${last.toFixed(1)}`);
  expect(last).toBeGreaterThan(first);
  for (const id of ['series-panel-0', 'series-panel-1', 'series-panel-2', 'series-elbo']) expect(await inked(page, id), id).toBeGreaterThan(0.01);
  const el = await page.$('#series');
  await el?.screenshot({ path: SCREENSHOT });
  expect(errors).toEqual([]);
  expect(failed).toEqual([]);
  await page.close();
}, 600_000);
