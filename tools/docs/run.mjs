#!/usr/bin/env node
// `npm run docs`: the TypeDoc API reference of src/index.ts, written to
// docs/api/ (gitignored). TypeDoc runs from this folder's own packages
// (tools/docs/package.json: typedoc and the TypeScript 5 it supports; the
// project compiles with TypeScript 7, which TypeDoc cannot load), installed
// here with `npm ci` when missing or older than the lock file. Every warning
// is an error (typedoc.json): an undocumented export, a reference to a type
// that is not exported, a broken {@link}. Extra arguments go to TypeDoc.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const installed = join(here, 'node_modules', '.package-lock.json');
const lock = join(here, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: here, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('docs: npm ci in tools/docs failed');
    process.exit(r.status ?? 1);
  }
}
const typedoc = join(here, 'node_modules', 'typedoc', 'bin', 'typedoc');
const r = spawnSync(process.execPath, [typedoc, '--options', join(here, 'typedoc.json'), ...process.argv.slice(2)], { cwd: here, stdio: 'inherit' });
process.exit(r.status ?? 1);
