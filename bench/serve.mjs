/**
 * What the benchmark runners share (bench/run.mjs):
 * a Vite dev server on a free port with cross-origin isolation and no HMR, a
 * headless Chromium through puppeteer-core with the GPU tests' flags and
 * adapter selection (test/gpu/chrome.mjs), a page whose progress lines and
 * errors reach stderr, the printed-text log, and the table renderer.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { chromeArgs, chromePath } from '../test/gpu/chrome.mjs';

/** The repository root (Vite's root). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** stdout that remembers what it printed (for the results .txt files). */
export function printer() {
  const printed = [];
  return {
    printed,
    print(text) {
      printed.push(text);
      process.stdout.write(text);
    },
  };
}

/** A progress logger to stderr: `[tag hh:mm:ss] msg`. */
export function logger(tag) {
  return (msg) => process.stderr.write(`[${tag} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/**
 * Aligns a table's cells in columns: the first `leftColumns` columns left,
 * the others right (they are mostly numbers); then its notes.
 */
export function renderTable(t, heading, leftColumns = 1) {
  const all = [t.columns, ...t.rows];
  const width = t.columns.map((_, j) => Math.max(...all.map((r) => String(r[j] ?? '').length)));
  const line = (r) =>
    r
      .map((c, j) => (j < leftColumns ? String(c ?? '').padEnd(width[j]) : String(c ?? '').padStart(width[j])))
      .join('  ')
      .trimEnd();
  const out = [heading, '', line(t.columns), width.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `  ${n}`));
  return `${out.join('\n')}\n`;
}

/**
 * Serves the repository with Vite, opens `path` in headless Chromium and
 * waits for `window[readyFlag]`. Console lines starting with `progress` go to
 * `log` (without the prefix), as do page errors, console errors and warnings,
 * and HTTP errors. `close()` ends browser and server.
 */
export async function openPage({ path, readyFlag, progress, log, optimizeDeps, protocolTimeout }) {
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    root,
    // Cross-origin isolation gives performance.now() 5 µs resolution instead of 100 µs;
    // no HMR: a reload would kill a run.
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      hmr: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    optimizeDeps,
    logLevel: 'warn',
  });
  await server.listen();
  const port = server.httpServer.address().port;
  let browser;
  try {
    browser = await puppeteer.launch({ executablePath: chromePath(), headless: true, args: chromeArgs(), protocolTimeout });
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'info' && m.text().startsWith(progress)) log(m.text().slice(progress.length));
      // Resource errors are reported with their URL by the response handler below.
      if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) {
        log(`page ${m.type()}: ${m.text().slice(0, 3000)}`);
      }
    });
    page.on('pageerror', (e) => log(`page error: ${e}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) log(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/${path}`);
    await page.waitForFunction(`window.${readyFlag} === true`, { timeout: 120_000 });
    if (!(await page.evaluate(() => 'gpu' in navigator))) throw new Error('navigator.gpu is missing: WebGPU is not available in this Chromium');
    const b = browser;
    return {
      page,
      browser: b,
      async close() {
        await b.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}
