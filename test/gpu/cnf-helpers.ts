/**
 * What the flow GPU tests share (test/gpu/cnf.test.ts, cnf-backward.test.ts):
 * the models (few specs, since each compiles its kernels once on
 * SwiftShader), parameters, data points, error measures and tolerances.
 */
import { expect } from 'vitest';
import { initParams, makeRng } from '../reference/mlp';
import type { RefMlp } from '../reference/cnf';

export const M2: RefMlp = { layers: [3, 8, 2], activation: 'tanh', timeInput: true };
export const M4: RefMlp = { layers: [4, 8, 4], activation: 'softplus', timeInput: false };
export const MH: RefMlp = { layers: [2, 8, 2], activation: 'silu', timeInput: false };
export const REG = { kinetic: 0.1, jacobian: 0.2 };

/** The stated tolerance against float64: |gpu − ref| ≤ TOL · max(1, |ref|). */
export const TOL = 1e-4;
export const SOLVE = { method: 'dopri5', rtol: 1e-6, atol: 1e-6 } as const;

export function params(m: RefMlp, seed: number, scale = 1.5): number[] {
  const D = m.layers[m.layers.length - 1];
  // initParams takes [D, hidden…, D] and the time-input flag.
  const p = initParams([D, ...m.layers.slice(1)], m.timeInput, seed);
  return Array.from(p, (v) => v * scale);
}

export function points(B: number, D: number, seed: number): number[] {
  const rng = makeRng(seed);
  return Array.from({ length: B * D }, () => 3 * rng() - 1.5);
}

export function worst(got: readonly number[], want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let w = 0;
  for (let i = 0; i < got.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return w;
}

/** ‖a − b‖ / ‖b‖. */
export function relNorm(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
