#!/usr/bin/env node
/**
 * `npm run bench`: serves bench/index.html with Vite (vite.config.ts, a free
 * port), opens it in headless Chromium through puppeteer-core with the GPU
 * tests' flags and adapter selection, runs the page's sections one after
 * another, prints their tables to stdout as they finish (progress goes to
 * stderr) and writes everything to bench/results.json (the printed text to
 * bench/results.txt).
 *
 *   node bench/run.mjs                 all sections but the opt-in ones -> bench/results.json
 *   node bench/run.mjs limits solves   some sections (limits always first) -> bench/results.partial.{json,txt}
 *   node bench/run.mjs flows           an opt-in section (`window.bench.optIn`: not run by default; also
 *                                      flows-peer, which trains for minutes per side)
 *   node bench/run.mjs latent          another opt-in section (several minutes: two latent ODEs trained)
 *
 * The work-precision section (table 7) also writes its figure,
 * bench/work-precision.svg (bench/plot.mjs), from the data the page returns.
 * A section with a peer outside the browser (peer-torchdiffeq, precision) first returns
 * the problems for it (`window.bench.peerRequest`); this script runs the peer
 * (bench/torchdiffeq-process.mjs) and passes its answer to the section.
 *
 * Exits non-zero when a section throws or the GPU reports any error while it
 * runs: a figure measured next to a validation error is not a figure.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workPrecisionSvg } from './plot.mjs';
import { logger, openPage, printer, renderTable } from './serve.mjs';
import { runFfjord, runLatent, runPrecisionPeer, runTorchdiffeq } from './torchdiffeq-process.mjs';

/**
 * Peers that run outside the browser, by the name a section's
 * `window.bench.peerRequest` gives: each takes the page's request and
 * resolves to an answer for `window.bench.run`, or says why it has none
 * (a missing peer never fails the run). They run while the page is idle.
 */
const hostPeers = { torchdiffeq: runTorchdiffeq, precision: runPrecisionPeer, ffjord: runFfjord, latent: runLatent };

const here = dirname(fileURLToPath(import.meta.url));
/** Everything printed to stdout, kept for bench/results.txt. */
const { printed, print } = printer();
const log = logger('bench');

async function main() {
  const started = performance.now();
  // Other work on the machine moves every figure; record how busy it was.
  const loadBefore = os.loadavg();
  const wanted = process.argv.slice(2);
  const { page, browser, close } = await openPage({
    path: 'bench/index.html',
    readyFlag: 'benchReady',
    // Progress lines from bench/timing.ts progress().
    progress: 'bench: ',
    log,
    // Pre-bundle TF.js up front: a dependency discovered while the page runs
    // makes Vite reload it, which would kill the run.
    optimizeDeps: { entries: ['bench/index.html'], include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-core/dist/register_all_gradients', '@tensorflow/tfjs-backend-webgpu'] },
    // Long enough for the opt-in flows-peer section (minutes of training, the D = 32, B = 4,096 exact-trace solves).
    protocolTimeout: 3_600_000,
  });
  let failed = false;
  const results = { date: new Date().toISOString(), sections: {} };
  try {
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
    // Opt-in sections (flows, latent) run only when named.
    const optIn = await page.evaluate(() => window.bench.optIn);
    const order = wanted.length ? all.filter((s) => s === 'limits' || wanted.includes(s)) : all.filter((s) => !optIn.includes(s));
    for (const w of wanted) if (!all.includes(w)) throw new Error(`unknown section ${w}; sections: ${all.join(', ')}`);
    for (const name of order) {
      log(`section ${name} …`);
      const ask = await page.evaluate((n, env) => window.bench.peerRequest(n, env), name, { flowsIterations: Number(process.env.WEBODE_FLOWS_ITERATIONS) || undefined });
      let answer;
      if (ask) {
        const t0 = performance.now();
        log(`section ${name}: running ${ask.peer} …`);
        answer = await hostPeers[ask.peer](ask.request, log);
        log(`section ${name}: ${ask.peer} ${answer.available ? 'answered' : `unavailable: ${answer.reason}`} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      const reply = await page.evaluate((n, a) => window.bench.run(n, a), name, answer);
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
      for (const t of reply.result?.tables ?? []) print(`${renderTable(t, `${t.id}. ${t.title}`)}\n`);
    }
  } finally {
    await close();
  }
  results.totalSeconds = (performance.now() - started) / 1000;
  results.loadAverage = { before: loadBefore, after: os.loadavg() };
  const out = resolve(here, wanted.length ? 'results.partial.json' : 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const precision = results.sections.precision?.result?.data;
  if (precision) {
    const a = results.adapter ?? {};
    const adapter = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
    const svg = resolve(here, 'work-precision.svg');
    const load = `load average ${results.loadAverage.before[0].toFixed(1)} before, ${results.loadAverage.after[0].toFixed(1)} after`;
    const machine = `${results.machine?.cpuModel ?? 'unknown CPU'} × ${results.machine?.cpuCount ?? '?'}`;
    writeFileSync(svg, workPrecisionSvg(precision, `${results.date}; ${adapter}; ${machine}; ${load}`));
    print(`work-precision figure: ${svg}\n`);
  }
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
