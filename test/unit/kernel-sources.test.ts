/**
 * Source-text checks that every kernel goes through its definition
 * (src/wgsl/kernel.ts, src/runtime/kernel.ts). Over the TypeScript, WGSL and
 * script files of src/, bench/, demo/ and test/ (this file excepted), this
 * checks that:
 *   - no file outside src/runtime/ changes `counters.dispatches` (++, +=, -=,
 *     =): dispatches are counted by `BoundKernel` alone. Reading the counter
 *     (a solve's statistics, tests that count dispatches) is allowed;
 *   - no file outside src/runtime/ calls `.pipeline(` (the runtime's
 *     low-level pipeline cache, or a kernel's pipeline): pipelines come from
 *     `Runtime.kernel`;
 *   - no file declares a binding by hand (`@binding(`) except the generator,
 *     src/wgsl/kernel.ts, and the tests that break generated modules on
 *     purpose: binding numbers come from a definition's bindings record;
 *   - no file uses an explicit layout helper, positional bind groups or an
 *     'auto' layout (`explicitLayout`, `bindBuffers`, `getBindGroupLayout`)
 *     outside src/runtime/ and the GPU tests that drive WebGPU directly;
 *   - src/kernels/ defines no cache-key helper (`function …Key(`): keys are
 *     derived from a definition's name and spec.
 * A grep, not a parser: a match in a comment counts too (write such comments
 * without the exact call text).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const SELF = 'test/unit/kernel-sources.test.ts';

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else if (/\.(ts|mts|mjs|wgsl)$/.test(name) && path !== SELF) out.push(path);
  }
  return out;
}

const SOURCES = ['src', 'bench', 'demo', 'test'].flatMap(files).map((path) => ({
  path: relative(ROOT, join(ROOT, path)).replaceAll('\\', '/'),
  text: readFileSync(join(ROOT, path), 'utf8'),
}));

/** Files matching `pattern`, except those `allowed`. */
function offenders(pattern: RegExp, allowed: (path: string) => boolean): string[] {
  return SOURCES.filter((s) => !allowed(s.path) && pattern.test(s.text)).map((s) => s.path);
}

const inRuntime = (path: string) => path.startsWith('src/runtime/');

describe('kernel sources', () => {
  it('reads every file it means to', () => {
    const paths = SOURCES.map((s) => s.path);
    for (const p of ['src/runtime/kernel.ts', 'src/wgsl/kernel.ts', 'src/kernels/loss.wgsl', 'bench/limits.ts', 'test/unit/wgsl-modules.test.ts']) {
      expect(paths).toContain(p);
    }
  });

  it('count dispatches only in src/runtime/', () => {
    expect(offenders(/counters\.dispatches\s*(\+\+|\+=|-=|=(?!=))/, inRuntime)).toEqual([]);
  });

  it('get pipelines only from Runtime.kernel', () => {
    expect(offenders(/\.pipeline\(/, inRuntime)).toEqual([]);
  });

  it('declare no binding by hand', () => {
    const generatorOrBreakers = (p: string) => p === 'src/wgsl/kernel.ts' || p === 'test/unit/wgsl-modules.test.ts' || p === 'test/unit/bindings.test.ts';
    expect(offenders(/@binding\(/, generatorOrBreakers)).toEqual([]);
  });

  it('build no layout or bind group by position outside src/runtime/', () => {
    // test/gpu/mlp.test.ts drives WebGPU on a device of its own (no runtime) to test the generated module.
    const raw = (p: string) => inRuntime(p) || p === 'test/gpu/mlp.test.ts';
    expect(offenders(/\b(explicitLayout|bindBuffers|getBindGroupLayout)\b/, raw)).toEqual([]);
  });

  it('write no cache-key helper in src/kernels/', () => {
    expect(offenders(/function \w*Key\(/, (p) => !p.startsWith('src/kernels/'))).toEqual([]);
  });

  it('see the violations they look for', () => {
    expect(/counters\.dispatches\s*(\+\+|\+=|-=|=(?!=))/.test('rt.counters.dispatches += 2;')).toBe(true);
    expect(/counters\.dispatches\s*(\+\+|\+=|-=|=(?!=))/.test('d: rt.counters.dispatches - before.dispatches')).toBe(false);
    expect(/function \w*Key\(/.test('export function lossKey(kind: LossKind): string {')).toBe(true);
  });
});
