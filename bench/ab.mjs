#!/usr/bin/env node
/**
 * `npm run bench:ab -- REF`: the forward and backward solves of table 3a
 * timed with two builds of webode in one page, interleaved: A is the library
 * at git revision REF, B the working tree. Prints the medians and B/A. Use
 * it to show that a change leaves speed where it was (or by how much it
 * moved), on the same machine within one run.
 *
 *   node bench/ab.mjs REF [ROUNDS=7]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger, openPage, printer, renderTable, root } from './serve.mjs';

const log = logger('ab');
const [ref, roundsArg] = process.argv.slice(2);
if (!ref) {
  console.error('usage: node bench/ab.mjs REF [ROUNDS]');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 7);
const vite = join(root, 'node_modules/vite/bin/vite.js');

/** Builds the library of `dir` (its own vite.config.ts) into `out`. */
function build(dir, out) {
  execFileSync(process.execPath, [vite, 'build', '--config', 'vite.config.ts', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
const tree = mkdtempSync(join(tmpdir(), 'webode-ab-'));
try {
  log(`building A (${ref} = ${sha}) and B (working tree)`);
  execFileSync('git', ['worktree', 'add', '--detach', tree, sha], { cwd: root, stdio: 'ignore' });
  if (!existsSync(join(tree, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  build(tree, join(root, 'bench/.ab/a'));
  build(root, join(root, 'bench/.ab/b'));
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', tree], { cwd: root, stdio: 'ignore' });
  rmSync(tree, { recursive: true, force: true });
}

const { print } = printer();
const { page, close } = await openPage({ path: 'bench/ab.html', readyFlag: 'abReady', progress: 'ab: ', log, protocolTimeout: 1_800_000 });
try {
  const t = await page.evaluate((n) => window.ab.run(n), rounds);
  print(
    renderTable(
      { columns: ['MLP', 'B', 'solve', `A ms (${sha})`, 'B ms (tree)', 'B/A', 'per-round B/A', 'range'], rows: t.rows, notes: t.notes },
      `webode A/B, ${new Date().toISOString()}: A = ${ref} (${sha}), B = the working tree`,
      3,
    ),
  );
} finally {
  await close();
}
