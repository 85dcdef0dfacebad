/**
 * Node side of the GPU tests: opens the harness page in the shared headless
 * Chromium and calls its operations. Fails loudly when WebGPU is missing:
 * a GPU test never passes without a GPU result.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { inject } from 'vitest';
import type { Ops } from './harness';

export type OpResult<K extends keyof Ops> = Awaited<ReturnType<Ops[K]>>;

export interface Harness {
  call<K extends keyof Ops>(op: K, args?: Parameters<Ops[K]>[0]): Promise<OpResult<K>>;
  page: Page;
  consoleErrors: string[];
  close(): Promise<void>;
}

export async function openHarness(): Promise<Harness> {
  const browser: Browser = await puppeteer.connect({ browserWSEndpoint: inject('wsEndpoint'), protocolTimeout: 600_000 });
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(`${inject('baseUrl')}/test/gpu/harness.html`);
  await page.waitForFunction('window.harnessReady === true', { timeout: 60_000 });
  const hasGpu = await page.evaluate(() => 'gpu' in navigator);
  if (!hasGpu) throw new Error('navigator.gpu is missing in the test browser: WebGPU is not available, GPU tests cannot run');
  return {
    page,
    consoleErrors,
    call: (op, args) =>
      page.evaluate((o: string, a: unknown) => window.harness.call(o, a), op, args as unknown) as never,
    async close() {
      await page.close();
      await browser.disconnect();
    },
  };
}
