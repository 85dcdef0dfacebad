#!/usr/bin/env node
/**
 * `npm run bench`: serves bench/index.html with Vite (vite.config.ts, a free
 * port), opens it in headless Chromium through puppeteer-core with the GPU
 * tests' flags and adapter selection, runs the page's sections one after
 * another, prints their tables to stdout as they finish (progress goes to
 * stderr) and writes everything to bench/results.json (the printed text to
 * bench/results.txt).
 *
 *   node bench/run.mjs                 all sections -> bench/results.json
 *   node bench/run.mjs limits solves   some sections (limits always first) -> bench/results.partial.{json,txt}
 *
 * Exits non-zero when a section throws or the GPU reports any error while it
 * runs: a figure measured next to a validation error is not a figure.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { chromeArgs, chromePath } from '../test/gpu/chrome.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');


/** Aligns a table's cells in columns: the first column left, the others right (they are mostly numbers). */
function renderTable(t) {
  const all = [t.columns, ...t.rows];
  const width = t.columns.map((_, j) => Math.max(...all.map((r) => String(r[j] ?? '').length)));
  const line = (r) =>
    r
      .map((c, j) => (j === 0 ? String(c ?? '').padEnd(width[j]) : String(c ?? '').padStart(width[j])))
      .join('  ')
      .trimEnd();
  const out = [`${t.id}. ${t.title}`, '', line(t.columns), width.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
  if (t.notes.length) out.push('', ...t.notes.map((n) => `  ${n}`));
  return `${out.join('\n')}\n`;
}

/** Everything printed to stdout, kept for bench/results.txt. */
const printed = [];
function print(text) {
  printed.push(text);
  process.stdout.write(text);
}

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function main() {
  const started = performance.now();
  // Other work on the machine moves every figure; record how busy it was.
  const loadBefore = os.loadavg();
  const wanted = process.argv.slice(2);
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    root,
    // Cross-origin isolation gives performance.now() 5 µs resolution instead of 100 µs.
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      hmr: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    // Pre-bundle TF.js up front: a dependency discovered while the page runs
    // makes Vite reload it, which would kill the run.
    optimizeDeps: { entries: ['bench/index.html'], include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu'] },
    logLevel: 'warn',
  });
  await server.listen();
  const port = server.httpServer.address().port;
  const browser = await puppeteer.launch({
    executablePath: chromePath(),
    headless: true,
    args: chromeArgs(),
    protocolTimeout: 900_000,
  });
  let failed = false;
  const results = { date: new Date().toISOString(), sections: {} };
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      // Progress lines from bench/timing.ts progress().
      if (m.type() === 'info' && m.text().startsWith('bench: ')) log(m.text().slice('bench: '.length));
      // Resource errors are reported with their URL by the response handler below.
      if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) {
        log(`page ${m.type()}: ${m.text()}`);
      }
    });
    page.on('pageerror', (e) => log(`page error: ${e}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) log(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/bench/index.html`);
    await page.waitForFunction('window.benchReady === true', { timeout: 120_000 });
    if (!(await page.evaluate(() => 'gpu' in navigator))) throw new Error('navigator.gpu is missing: WebGPU is not available in this Chromium');
    const info = await page.evaluate(() => window.bench.info());
    const cpus = os.cpus();
    Object.assign(results, {
      adapter: info.adapter,
      adapterSelection: process.env.WEBODE_ADAPTER ?? 'swiftshader',
      userAgent: info.userAgent,
      browserVersion: await browser.version(),
      deviceLimits: info.limits,
      deviceFeatures: info.features,
      machine: {
        cpuModel: cpus[0]?.model ?? 'unknown',
        cpuCount: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        platform: `${os.platform()} ${os.release()} ${os.arch()}`,
        node: process.version,
      },
    });
    const a = info.adapter ?? {};
    print(
      `webode benchmarks, ${results.date}\n` +
        `adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || 'unknown'}\n` +
        `browser: ${results.browserVersion}; ${info.userAgent}\n` +
        `machine: ${results.machine.cpuModel} × ${results.machine.cpuCount}, ${results.machine.memoryGiB} GiB, ${results.machine.platform}\n\n`,
    );

    const all = await page.evaluate(() => window.bench.sections);
    const order = wanted.length ? all.filter((s) => s === 'limits' || wanted.includes(s)) : all;
    for (const w of wanted) if (!all.includes(w)) throw new Error(`unknown section ${w}; sections: ${all.join(', ')}`);
    for (const name of order) {
      log(`section ${name} …`);
      const reply = await page.evaluate((n) => window.bench.run(n), name);
      log(`section ${name} took ${(reply.ms / 1000).toFixed(1)} s`);
      results.sections[name] = reply;
      if (reply.error) {
        failed = true;
        print(`section ${name} FAILED: ${reply.error}\n\n`);
      }
      if (reply.gpuErrors.length) {
        failed = true;
        print(`section ${name}: GPU errors:\n${reply.gpuErrors.map((e) => `  ${e}`).join('\n')}\n\n`);
      }
      for (const t of reply.result?.tables ?? []) print(`${renderTable(t)}\n`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  results.totalSeconds = (performance.now() - started) / 1000;
  results.loadAverage = { before: loadBefore, after: os.loadavg() };
  const out = resolve(here, wanted.length ? 'results.partial.json' : 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const text = out.replace(/\.json$/, '.txt');
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  print(
    `total run time: ${results.totalSeconds.toFixed(1)} s; load average before ${load(loadBefore)}, after ${load(results.loadAverage.after)}; results in ${out} and ${text}\n`,
  );
  writeFileSync(text, printed.join(''));
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
