#!/usr/bin/env node
/**
 * Runs the MLP-throughput experiments (not part of `npm run bench`): serves
 * bench/experiments/index.html with Vite (vite.config.ts, a free port), opens
 * it in headless Chromium through puppeteer-core with the GPU tests' flags
 * (bench/serve.mjs, shared with bench/run.mjs), runs the sections named on the command line and
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
import { logger, openPage, printer, renderTable } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { printed, print } = printer();
const log = logger('exp');

async function main() {
  const jobs = [];
  for (const a of process.argv.slice(2)) {
    if (a.startsWith('{')) jobs[jobs.length - 1].options = JSON.parse(a);
    else jobs.push({ name: a, options: {} });
  }
  const started = performance.now();
  const loadBefore = os.loadavg();
  const { page, close } = await openPage({
    path: 'bench/experiments/index.html',
    readyFlag: 'expReady',
    progress: 'exp: ',
    log,
    optimizeDeps: { entries: ['bench/experiments/index.html'] },
    protocolTimeout: 1_800_000,
  });
  const results = { date: new Date().toISOString(), jobs: [] };
  let failed = false;
  try {
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
      for (const t of reply.tables) print(`${renderTable(t, t.title, 2)}\n`);
    }
  } finally {
    await close();
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
