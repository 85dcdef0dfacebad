#!/usr/bin/env node
/**
 * Condenses forward-section result files (bench/experiments/results/*.json)
 * into one markdown table: GFLOP/s (× baseline, same rounds) per variant and
 * (shape, B), with each run's FMA peak.
 *   node bench/experiments/summarize.mjs results/A.json results/B.json …
 */
import { readFileSync } from 'node:fs';

const rows = new Map();
const cols = [];
const peaks = {};
for (const f of process.argv.slice(2)) {
  const r = JSON.parse(readFileSync(f, 'utf8'));
  for (const job of r.jobs.filter((j) => j.name === 'forward')) {
    for (const d of job.data) {
      const col = `[${d.layers.join(',')}] B=${d.batch / 1024}K`;
      if (!cols.includes(col)) cols.push(col);
      peaks[col] = d.peak;
      if (!rows.has(d.id)) rows.set(d.id, {});
      rows.get(d.id)[col] = `${d.gflops.toPrecision(2)} (${d.ratio.toFixed(1)}×)`;
    }
  }
}
const out = [`| variant | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
out.push(`| FMA peak (same run) | ${cols.map((c) => peaks[c].toPrecision(3)).join(' | ')} |`);
for (const [id, r] of rows) out.push(`| ${id} | ${cols.map((c) => r[c] ?? '').join(' | ')} |`);
process.stdout.write(`${out.join('\n')}\n`);
