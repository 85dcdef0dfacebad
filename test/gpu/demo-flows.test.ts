/**
 * The flows demo (section 3 of demo/index.html, demo/flows.ts) in headless
 * Chrome: the page loads without console errors or failed requests, the three
 * panels are drawn before training, training a few iterations lowers the
 * loss and redraws them, the charts are drawn, and the model density's mass
 * over [−4, 4]² (a Riemann sum of exp(log p) on the 64 × 64 grid) is 1 to
 * within what lies outside the square and the grid's resolution. With
 * DEMO_FLOWS_ITERS ≥ 150 (and DEMO_FLOWS_DATA naming a dataset), it also checks that the density
 * matches the data (correlation of the density grid with the data histogram)
 * and saves demo/screenshots/flows.png; test/artifacts/demo-flows.png always.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectBrowser, inked, mean, openDemo } from './demo-page';

const ARTIFACTS = 'test/artifacts';
const ITERS = Number(process.env.DEMO_FLOWS_ITERS ?? 6);
/** The dataset to train (the page's default unless DEMO_FLOWS_DATA names another). */
const DATA = process.env.DEMO_FLOWS_DATA;
/** From this many iterations on, the density must match the data and the screenshot goes to demo/screenshots. */
const LONG = 150;

let browser: Browser;
beforeAll(async () => {
  browser = await connectBrowser(3_600_000);
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => browser?.disconnect());

/** Pearson correlation of the data-histogram and density panels' darkness (the same colour map on both). */
function panelCorrelation(page: Page): Promise<number> {
  return page.evaluate(() => {
    const dark = (id: string) => {
      const c = document.getElementById(id) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const out = new Float64Array(d.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = 255 - d[4 * i];
      return out;
    };
    const a = dark('flows-data');
    const b = dark('flows-density');
    const ma = a.reduce((s, v) => s + v, 0) / a.length;
    const mb = b.reduce((s, v) => s + v, 0) / b.length;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = 0; i < a.length; i++) {
      sab += (a[i] - ma) * (b[i] - mb);
      saa += (a[i] - ma) ** 2;
      sbb += (b[i] - mb) ** 2;
    }
    return sab / Math.sqrt(saa * sbb);
  });
}

it(`trains the flows demo for ${ITERS} iterations: loss falls, panels and charts drawn, density mass ≈ 1`, async () => {
  const { page, errors, failed } = await openDemo(browser);
  for (const id of ['flows-data', 'flows-density', 'flows-samples']) expect(await inked(page, id), id).toBeGreaterThan(0.01);
  const s0 = await page.evaluate(() => window.webodeFlows);
  // Before training: mass of the untrained flow's density in view (N(0, I) pushed through a near-identity map).
  console.log(`untrained: density mass over [−4, 4]² ${s0.mass.toFixed(4)}`);
  expect(Math.abs(s0.mass - 1)).toBeLessThan(0.05);
  if (DATA) {
    await page.select('#flows-dataset', DATA); // resets the run and redraws
    await page.waitForFunction(`window.webodeFlows.dataset === '${DATA}' && window.webodeFlows.drawnIteration === 0`, { timeout: 120_000 });
  }
  const t0 = Date.now();
  await page.click('#flows-start');
  const draws = ITERS >= 50 ? 3 : 2;
  await page.waitForFunction(`window.webodeFlows.iteration >= ${ITERS}`, { timeout: 3_600_000, polling: 500 });
  await page.click('#flows-pause');
  // Pausing redraws the panels at the paused iteration.
  await page.waitForFunction('window.webodeFlows.running === false && window.webodeFlows.drawnIteration === window.webodeFlows.iteration', { timeout: 120_000 });
  const s = await page.evaluate(() => window.webodeFlows);
  console.log(
    `flows demo (${s.dataset}): ${s.iteration} iterations in ${Date.now() - t0} ms; NLL ${[...s.losses.slice(0, 3), NaN, ...s.losses.slice(-3)].map((v) => (Number.isNaN(v) ? '…' : v.toFixed(3))).join(' ')}; ` +
      `nfe ${JSON.stringify(s.nfe)}; density mass ${s.mass.toFixed(4)}; draws ${s.draws}`,
  );
  expect(s.losses.length).toBe(s.iteration);
  expect(mean(s.losses.slice(-2))).toBeLessThan(mean(s.losses.slice(0, 2)));
  expect(s.draws).toBeGreaterThanOrEqual(draws);
  for (const id of ['flows-loss', 'flows-nfe']) {
    const drawn = await page.evaluate((rid: string) => {
      const c = document.querySelector(`#${rid} canvas`) as HTMLCanvasElement | null;
      const d = c?.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
      if (!d) return -1;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n / (d.length / 4);
    }, id);
    expect(drawn, id).toBeGreaterThan(0.01);
  }
  const section = await page.$('#flows');
  await section?.screenshot({ path: `${ARTIFACTS}/demo-flows.png` });
  if (ITERS >= LONG) {
    const corr = await panelCorrelation(page);
    console.log(`density–data correlation ${corr.toFixed(3)}; density mass ${s.mass.toFixed(4)}`);
    expect(corr).toBeGreaterThan(0.8);
    expect(Math.abs(s.mass - 1)).toBeLessThan(0.1);
    await section?.screenshot({ path: 'demo/screenshots/flows.png' });
  }
  expect(s.iteration).toBeGreaterThanOrEqual(ITERS);
  expect(await page.evaluate(() => window.webodeDemo.errors)).toEqual([]);
  expect(errors).toEqual([]);
  expect(failed).toEqual([]);
  await page.close();
}, 3_600_000);
