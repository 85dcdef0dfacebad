/**
 * The demo page (demo/index.html) in headless Chrome, for the demo tests: a
 * page of the run's browser (test/gpu/global-setup.ts) that collects its
 * console errors and failed requests, loaded until the demo says it is
 * ready, and how much of a canvas is drawn.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { inject } from 'vitest';

/** Connects to the run's browser; `protocolTimeout` bounds the longest page call (long trainings need more). */
export function connectBrowser(protocolTimeout = 600_000): Promise<Browser> {
  return puppeteer.connect({ browserWSEndpoint: inject('wsEndpoint'), protocolTimeout });
}

export interface DemoPage {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Requests that failed or were answered with a status of 400 or more (504 aside, see `untilReady`). */
  failed: string[];
  /** A request was answered 504 since the last load. */
  stale: boolean;
}

/**
 * Opens the demo at `path` (default `/`, the address `npm run demo` prints)
 * and waits until it is ready. `removeGpu`: navigator.gpu is deleted before
 * the page's scripts run (the page must then say what to enable).
 */
export async function openDemo(browser: Browser, options: { path?: string; removeGpu?: boolean } = {}): Promise<DemoPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1240, height: 1000 });
  const demo: DemoPage = { page, errors: [], failed: [], stale: false };
  page.on('console', (m) => {
    if (m.type() === 'error') demo.errors.push(m.text());
  });
  page.on('pageerror', (e) => demo.errors.push(String(e)));
  page.on('requestfailed', (r) => demo.failed.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
  page.on('response', (r) => {
    if (r.status() === 504) demo.stale = true;
    else if (r.status() >= 400) demo.failed.push(`${r.url()}: ${r.status()}`);
  });
  if (options.removeGpu) {
    await page.evaluateOnNewDocument(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      Reflect.deleteProperty(Navigator.prototype, 'gpu');
    });
  }
  await untilReady(demo, () => page.goto(`${inject('baseUrl')}${options.path ?? '/'}`));
  return demo;
}

/**
 * Runs `load` (a first load or a reload) and waits until
 * `window.webodeDemo.ready`. The test server runs Vite without HMR: when the
 * page's dependencies (uPlot) are first discovered after other pages were
 * served, Vite re-optimizes them and answers the stale request with 504
 * "Outdated Optimize Dep"; `npm run demo` reloads the page by itself then,
 * the test server cannot, so the page is reloaded once (its errors and failed
 * requests so far forgotten).
 */
export async function untilReady(demo: DemoPage, load: () => Promise<unknown>): Promise<void> {
  demo.stale = false;
  await load();
  const deadline = Date.now() + 120_000;
  let reloaded = false;
  for (;;) {
    if (await demo.page.evaluate(() => Boolean(window.webodeDemo?.ready))) return;
    if (demo.stale && !reloaded) {
      reloaded = true;
      await new Promise((r) => setTimeout(r, 2000));
      demo.errors.length = 0;
      demo.failed.length = 0;
      await demo.page.reload();
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the demo page did not become ready (errors: ${[...demo.errors, ...demo.failed].join('; ')})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Fraction of a canvas's pixels that differ from its first pixel (0 for a blank canvas, −1 for no canvas). */
export function inked(page: Page, id: string): Promise<number> {
  return page.evaluate((cid: string) => {
    const c = document.getElementById(cid);
    if (!(c instanceof HTMLCanvasElement)) return -1;
    const ctx = c.getContext('2d');
    if (!ctx) return -1;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let differ = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 30) differ++;
    }
    return differ / (d.length / 4);
  }, id);
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
