/**
 * The demo page (demo/index.html) in headless Chrome, at `/` (the address
 * `npm run demo` prints) and at /demo/: it loads and trains without a console
 * error or a failed request (a 404 included, the favicon's too), both demos train for a few seconds and their losses fall,
 * their canvases are drawn (not blank), and a screenshot of each demo is
 * saved under test/artifacts/. With navigator.gpu deleted before the page's
 * scripts run, the page shows the no-WebGPU message instead of a blank page.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DemoPage, connectBrowser, inked, mean, openDemo } from './demo-page';

let browser: Browser;
const ARTIFACTS = 'test/artifacts';
/** Iterations each demo trains for (longer runs make nicer screenshots: DEMO_SPIRAL_ITERS=1500 DEMO_CIRCLES_ITERS=300). */
const SPIRAL_ITERS = Number(process.env.DEMO_SPIRAL_ITERS ?? 150);
const CIRCLES_ITERS = Number(process.env.DEMO_CIRCLES_ITERS ?? 80);

beforeAll(async () => {
  browser = await connectBrowser();
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => browser?.disconnect());

/** The demo at `path`, ready (`removeGpu`: without navigator.gpu). */
function open(removeGpu = false, path = '/'): Promise<DemoPage> {
  return openDemo(browser, { path, removeGpu });
}

/** Fraction of the uPlot chart canvas inside `rootId` that is drawn. */
async function chartInked(page: Page, rootId: string): Promise<number> {
  return page.evaluate((rid: string) => {
    const c = document.querySelector(`#${rid} canvas`);
    if (!(c instanceof HTMLCanvasElement)) return -1;
    const ctx = c.getContext('2d');
    if (!ctx) return -1;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n / (d.length / 4);
  }, rootId);
}


it('at /, loads and trains without console errors or failed requests, the losses fall, the canvases are drawn; screenshots saved', async () => {
  const { page, errors, failed } = await open();
  const state0 = await page.evaluate(() => window.webodeDemo);
  expect(state0.unavailable).toBeNull();
  expect(state0.errors).toEqual([]);
  // The initial drawings exist before training.
  for (const id of ['spiral-traj', 'spiral-field', 'circles-regions-0', 'circles-regions-1', 'circles-flow-0', 'circles-flow-1']) {
    expect(await inked(page, id), id).toBeGreaterThan(0.01);
  }

  // Spiral: train for SPIRAL_ITERS iterations (a few seconds on SwiftShader).
  const t0 = Date.now();
  await page.click('#spiral-start');
  await page.waitForFunction(`window.webodeDemo.spiral.iteration >= ${SPIRAL_ITERS} && window.webodeDemo.spiral.draws >= 2`, { timeout: 400_000, polling: 500 });
  await page.click('#spiral-pause');
  await page.waitForFunction('window.webodeDemo.spiral.running === false', { timeout: 60_000 });
  const spiral = await page.evaluate(() => window.webodeDemo.spiral);
  console.log(`spiral: ${spiral.iteration} iterations in ${Date.now() - t0} ms; first losses ${mean(spiral.losses.slice(0, 10)).toExponential(2)}, last ${mean(spiral.losses.slice(-30)).toExponential(2)}`);
  expect(mean(spiral.losses.slice(-30))).toBeLessThan(mean(spiral.losses.slice(0, 10)));
  expect(await chartInked(page, 'spiral-loss')).toBeGreaterThan(0.01);
  const spiralEl = await page.$('#spiral');
  await spiralEl?.screenshot({ path: `${ARTIFACTS}/demo-spiral.png` });

  // Circles: train both models for CIRCLES_ITERS iterations.
  const t1 = Date.now();
  await page.click('#circles-start');
  await page.waitForFunction(`window.webodeDemo.circles.iteration >= ${CIRCLES_ITERS} && window.webodeDemo.circles.draws >= 3`, { timeout: 400_000, polling: 500 });
  await page.click('#circles-pause');
  await page.waitForFunction('window.webodeDemo.circles.running === false', { timeout: 60_000 });
  const circles = await page.evaluate(() => window.webodeDemo.circles);
  console.log(`circles: ${circles.iteration} iterations in ${Date.now() - t1} ms`);
  for (const losses of circles.losses) {
    console.log(`  loss ${mean(losses.slice(0, 5)).toFixed(3)} → ${mean(losses.slice(-10)).toFixed(3)}`);
    expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 5)));
  }
  for (const id of ['circles-loss', 'circles-nfe']) expect(await chartInked(page, id), id).toBeGreaterThan(0.01);
  const circlesEl = await page.$('#circles');
  await circlesEl?.screenshot({ path: `${ARTIFACTS}/demo-circles.png` });

  const final = await page.evaluate(() => window.webodeDemo);
  expect(final.errors).toEqual([]);
  expect(errors).toEqual([]);
  expect(failed).toEqual([]);
  await page.close();
}, 900_000);

it('at /demo/, loads and trains without console errors or failed requests', async () => {
  const { page, errors, failed } = await open(false, '/demo/');
  await page.click('#spiral-start');
  await page.waitForFunction('window.webodeDemo.spiral.iteration >= 20 && window.webodeDemo.spiral.draws >= 1', { timeout: 120_000, polling: 250 });
  await page.click('#spiral-pause');
  await page.waitForFunction('window.webodeDemo.spiral.running === false', { timeout: 60_000 });
  expect(await page.evaluate(() => window.webodeDemo.errors)).toEqual([]);
  expect(errors).toEqual([]);
  expect(failed).toEqual([]);
  await page.close();
}, 300_000);

it('shows what to enable, not a blank page, when navigator.gpu is missing', async () => {
  const { page, errors, failed } = await open(true);
  const state = await page.evaluate(() => window.webodeDemo);
  expect(state.unavailable).not.toBeNull();
  const message = await page.$eval('#no-webgpu', (el) => ({ hidden: (el as HTMLElement).hidden, text: el.textContent ?? '' }));
  expect(message.hidden).toBe(false);
  expect(message.text).toContain('WebGPU is not available');
  expect(message.text).toContain('enable-unsafe-webgpu');
  const demosHidden = await page.$eval('#demos', (el) => (el as HTMLElement).hidden);
  expect(demosHidden).toBe(true);
  await page.screenshot({ path: `${ARTIFACTS}/demo-no-webgpu.png` });
  expect(errors).toEqual([]);
  expect(failed).toEqual([]);
  await page.close();
}, 120_000);
