/**
 * bench/efficiency-variants.ts: every variant of the lane solver kernels
 * (one part done twice) is made from the generated modules of the methods
 * with an embedded error estimate, parses, defines each doubled function
 * once plus its `_once` original, and a module without an anchor fails
 * loudly. (WebGPU's compiler judges the rest when bench/efficiency.ts runs.)
 */
import { describe, expect, it, vi } from 'vitest';
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { TABLEAUX } from '../../src/methods/tableau';
import type { MlpSpec } from '../../src/mlp/mlp';
import { kernelWgsl } from '../../src/wgsl/kernel';
import { integrateLanesKernel } from '../../src/kernels/integrate-lanes';
import { adjointLanesKernel } from '../../src/kernels/adjoint-lanes';
import { ADJOINT_PARTS, FORWARD_PARTS, adjointVariant, forwardVariant, replaceOnce } from '../../bench/efficiency-variants';

const MLPS: MlpSpec[] = [
  { layers: [4, 64, 64, 4], activation: 'tanh', timeInput: false },
  { layers: [2, 16, 2], activation: 'softplus', timeInput: true },
];
const METHODS = (['dopri5', 'tsit5', 'bosh3'] as const).map((m) => TABLEAUX[m]);

/** wgsl_reflect logs type mismatches of its constant evaluator (not parse errors); parse errors throw. */
function parses(code: string): void {
  const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    expect(new WgslReflect(code).functions.length).toBeGreaterThan(0);
  } finally {
    spy.mockRestore();
  }
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

/** The functions each part doubles (defined once as the wrapper, once as `_once`). */
const DOUBLED: Record<string, readonly string[]> = {
  mlp: ['rhs4'],
  sweeps: ['vjp4'],
  vjp: ['vjp4'],
  stages: ['stage_input'],
  norm: [],
  control: ['plan_step', 'decide'],
};

describe('efficiency variants of the lane solver kernels', () => {
  for (const mlp of MLPS) {
    for (const tableau of METHODS) {
      const spec = { mlp, tableau };
      const label = `[${mlp.layers.join(',')}] ${tableau.name}`;
      it(`forward ${label}: every part`, () => {
        const plain = kernelWgsl(integrateLanesKernel, { ...spec, workgroup: 64 });
        for (const part of FORWARD_PARTS) {
          const v = forwardVariant(plain, part);
          parses(v);
          expect(v).toContain('fn x2_never()');
          for (const fn of [...DOUBLED[part], ...(part === 'control' ? ['write_outputs'] : [])]) {
            expect(count(v, `fn ${fn}(`), `${part}: ${fn}`).toBe(1);
            expect(count(v, `fn ${fn}_once(`), `${part}: ${fn}_once`).toBe(1);
          }
          expect(v.length).toBeGreaterThan(plain.length);
        }
      });
      it(`adjoint ${label}: every part`, () => {
        const plain = kernelWgsl(adjointLanesKernel, { ...spec, workgroup: 64 });
        for (const part of ADJOINT_PARTS) {
          const v = adjointVariant(plain, part);
          parses(v);
          for (const fn of DOUBLED[part]) {
            expect(count(v, `fn ${fn}(`), `${part}: ${fn}`).toBe(1);
            expect(count(v, `fn ${fn}_once(`), `${part}: ${fn}_once`).toBe(1);
          }
        }
      });
    }
  }

  it('fails loudly when an anchor is missing or repeated', () => {
    const plain = kernelWgsl(integrateLanesKernel, { mlp: MLPS[0], tableau: TABLEAUX.dopri5, workgroup: 64 });
    expect(() => forwardVariant(plain.replace('fn rhs4(', 'fn rhs_four('), 'mlp')).toThrow(/anchor not found/);
    expect(() => forwardVariant(plain.replace('  return e2;\n', '  return e2 * 1.0;\n'), 'norm')).toThrow(/anchor not found/);
    expect(() => forwardVariant(plain.replace(/let he_0 = /, 'let he_zero = '), 'stages')).toThrow(/0 lines match/);
    expect(() => forwardVariant(plain.replace(/ {2}let hb_0 = [^\n]*\n/, ''), 'stages')).toThrow(/0 lines match/);
    expect(() => replaceOnce('a b a', 'a', 'c', 'test')).toThrow(/more than once/);
    // A method without an error estimate has no norm to double.
    const rk4 = kernelWgsl(integrateLanesKernel, { mlp: MLPS[0], tableau: TABLEAUX.rk4, workgroup: 64 });
    expect(() => forwardVariant(rk4, 'norm')).toThrow(/anchor not found/);
  });
});
