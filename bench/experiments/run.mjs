#!/usr/bin/env node
/**
 * Runs the MLP-throughput experiments (not part of `npm run bench`): serves
 * bench/experiments/index.html with Vite (vite.config.ts, a free port), opens
 * it in headless Chromium through puppeteer-core with the GPU tests' flags
 * (copied from bench/run.mjs), runs the sections named on the command line and
 * prints their tables; writes everything to bench/experiments/results/.
 *
 *   node bench/experiments/run.mjs tanh forward '{"shapes":[[2,64,2]],"batches":[16384],"ids":["a","b"]}'
 *
 * A JSON argument after a section name is that section's options.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { createServer } from 'vite';
import { chromeArgs, chromePath } from '../../test/gpu/chrome.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');


function renderTable(t) {
  const all = [t.columns, ...t.rows];
  const width = t.columns.map((_, j) => Math.max(...all.map((r) => String(r[j] ?? '').length)));
  const line = (r) =>
    r.map((c, j) => (j <= 1 ? String(c ?? '').padEnd(width[j]) : String(c ?? '').padStart(width[j]))).join('  ').trimEnd();
  const out = [t.title, '', line(t.columns), width.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `  ${n}`));
  return `${out.join('\n')}\n\n`;
}

const printed = [];
function print(text) {
  printed.push(text);
  process.stdout.write(text);
}
function log(msg) {
  process.stderr.write(`[exp ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function main() {
  const jobs = [];
  for (const a of process.argv.slice(2)) {
    if (a.startsWith('{')) jobs[jobs.length - 1].options = JSON.parse(a);
    else jobs.push({ name: a, options: {} });
  }
  const started = performance.now();
  const loadBefore = os.loadavg();
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    root,
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      hmr: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    optimizeDeps: { entries: ['bench/experiments/index.html'] },
    logLevel: 'warn',
  });
  await server.listen();
  const port = server.httpServer.address().port;
  const browser = await puppeteer.launch({ executablePath: chromePath(), headless: true, args: chromeArgs(), protocolTimeout: 1_800_000 });
  const results = { date: new Date().toISOString(), jobs: [] };
  let failed = false;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'info' && m.text().startsWith('exp: ')) log(m.text().slice(5));
      if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) log(`page ${m.type()}: ${m.text().slice(0, 3000)}`);
    });
    page.on('pageerror', (e) => log(`page error: ${e}`));
    await page.goto(`http://127.0.0.1:${port}/bench/experiments/index.html`);
    await page.waitForFunction('window.expReady === true', { timeout: 120_000 });
    const info = await page.evaluate(() => window.exp.info());
    results.info = info;
    print(`experiments ${results.date}; adapter ${JSON.stringify(info.adapter)}; limits ${JSON.stringify(info.limits)}; load avg ${loadBefore.map((x) => x.toFixed(2)).join(' ')}\n\n`);
    for (const job of jobs) {
      log(`section ${job.name} ${JSON.stringify(job.options)} …`);
      const reply = await page.evaluate((n, o) => window.exp.run(n, o), job.name, job.options);
      log(`section ${job.name} took ${(reply.ms / 1000).toFixed(1)} s`);
      results.jobs.push({ ...job, ...reply });
      if (reply.error) {
        failed = true;
        print(`section ${job.name} FAILED: ${reply.error}\n\n`);
      }
      if (reply.gpuErrors.length) {
        failed = true;
        print(`section ${job.name}: GPU errors:\n${reply.gpuErrors.map((e) => `  ${e}`).join('\n')}\n\n`);
      }
      for (const t of reply.tables) print(renderTable(t));
    }
  } finally {
    await browser.close();
    await server.close();
  }
  const secs = (performance.now() - started) / 1000;
  const loadAfter = os.loadavg();
  print(`total ${secs.toFixed(1)} s; load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}\n`);
  const dir = resolve(here, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.date.replace(/[:.]/g, '-');
  const tag = process.env.EXP_TAG ?? jobs.map((j) => j.name).join('-');
  writeFileSync(resolve(dir, `${stamp}-${tag}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(resolve(dir, `${stamp}-${tag}.txt`), printed.join(''));
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`experiments failed: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
