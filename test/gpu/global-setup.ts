/**
 * Starts one Vite dev server (serving src/ and the harness page) and one
 * headless Chromium for the whole GPU test run, and hands their addresses to
 * the test files.
 */
import type { AddressInfo } from 'node:net';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import type { TestProject } from 'vitest/node';
import { chromeArgs, chromePath } from './chrome.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    wsEndpoint: string;
    baseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await createServer({
    configFile: 'vite.config.ts',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    logLevel: 'warn',
  });
  await server.listen();
  const address = server.httpServer?.address() as AddressInfo;
  const browser = await puppeteer.launch({
    executablePath: chromePath(),
    headless: true,
    args: chromeArgs(),
    protocolTimeout: 600_000,
  });
  project.provide('wsEndpoint', browser.wsEndpoint());
  project.provide('baseUrl', `http://127.0.0.1:${address.port}`);
  return async () => {
    await browser.close();
    await server.close();
  };
}
