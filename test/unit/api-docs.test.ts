/**
 * The API reference: `npm run docs` (tools/docs/run.mjs, TypeDoc from
 * tools/docs/ with its own TypeScript 5) builds docs/api/ from src/index.ts
 * with no warning at all — every export and every property, method and accessor of an
 * exported class documented, no reference to an unexported type, no broken
 * {@link}. The same configuration run on a small file with an undocumented
 * export and a broken link must fail, so the checks are known to bite.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const TIMEOUT = 300_000;

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

it('npm run docs builds the API reference without a warning', () => {
  const r = run(['tools/docs/run.mjs']);
  const warnings = r.out.split('\n').filter((l) => /\[(warning|error)\]/.test(l));
  expect(warnings).toEqual([]);
  expect(r.status).toBe(0);
  expect(r.out).toContain('html generated');
}, TIMEOUT);

it('the same checks fail on an undocumented export and a broken link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webode-docs-'));
  try {
    writeFileSync(join(dir, 'entry.ts'), '/** Documented. */\nexport const a = 1;\nexport function undocumented(): number {\n  return 2;\n}\n/** See {@link nowhere}. */\nexport const b = 3;\n');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', types: [] }, include: ['entry.ts'] }));
    writeFileSync(
      join(dir, 'typedoc.json'),
      JSON.stringify({ extends: [join(ROOT, 'tools/docs/typedoc.json')], entryPoints: ['./entry.ts'], tsconfig: './tsconfig.json', out: './out', intentionallyNotExported: [] }),
    );
    const r = run([join(ROOT, 'tools/docs/node_modules/typedoc/bin/typedoc'), '--options', join(dir, 'typedoc.json')]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/undocumented .*does not have any documentation/);
    expect(r.out).toMatch(/Failed to resolve link to "nowhere"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, TIMEOUT);
