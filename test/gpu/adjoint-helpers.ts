/**
 * Shared pieces of the adjoint GPU tests (adjoint-*.test.ts): seeded
 * cotangents, the loss L = Σ_i Σ_b c_ib · y_b(t_i) evaluated by the float64
 * reference solver, its central finite differences (per entry of y0, per
 * parameter, or along a direction in parameter space), seeded per-layer
 * directions, and one call that runs a forward solve plus `backward` on the
 * GPU and asserts that it raised no error.
 *
 * Finite differences: `solveAccurate` at rtol = atol = 1e-12 and a central
 * quotient with step ε. Truncation error ε²·|L'''|/6 ≈ 1e-10 (ε = 1e-5,
 * |L'''| = O(1)); the reference's own error enters as ~1e-12·|L|/ε ≈ 1e-7 at
 * worst (it is mostly the same in both solves, since a small perturbation
 * keeps the same accepted steps). So the references are good to ~1e-6
 * relative, far below the 1e-3 the GPU gradients are held to.
 */
import { expect } from 'vitest';
import type { BackwardOptions, OdeintOptions } from '../../src/index';
import { makeRng } from '../reference/mlp';
import { type Rhs, solveAccurate } from '../reference/solve';
import type { Harness, OpResult } from './browser';
import type { MlpProblem, Problem } from './problems';
import { decode, encodeF32 } from './wire';

/** Tolerance of the float64 reference solves behind every finite difference. */
export const REF_TOL = 1e-12;

/** Seeded cotangents uniform in [−1, 1), one per output value, [T][B][D] (float32 values). */
export function cotangents(T: number, B: number, D: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: T * B * D }, () => 2 * rng() - 1);
}

/** The cotangents of sample b, one row per output time. */
export function sampleCotangents(c: ArrayLike<number>, T: number, B: number, D: number, b: number): number[][] {
  return Array.from({ length: T }, (_, i) => Array.from({ length: D }, (_, d) => c[(i * B + b) * D + d]));
}

/** L_b = Σ_i c_i · y(t_i) for one sample, by the float64 reference. */
export function sampleLoss(rhs: Rhs, y0: readonly number[], t: readonly number[], cb: readonly (readonly number[])[]): number {
  const ys = solveAccurate(rhs, y0, t, REF_TOL, REF_TOL);
  let L = 0;
  ys.forEach((y, i) => y.forEach((v, d) => (L += cb[i][d] * v)));
  return L;
}

/** y0 of sample b as float64 numbers. */
export function y0Of(y0: ArrayLike<number>, D: number, b: number): number[] {
  return Array.from({ length: D }, (_, d) => y0[b * D + d]);
}

/**
 * Central differences of L with respect to y0 of the given samples: one row
 * of D values per sample, in order (L depends on y0_b only through L_b).
 */
export function fdGradY0(
  p: Problem,
  y0: ArrayLike<number>,
  t: readonly number[],
  c: ArrayLike<number>,
  samples: readonly number[],
  eps = 1e-5,
): number[] {
  const out: number[] = [];
  for (const b of samples) {
    const cb = sampleCotangents(c, t.length, p.B, p.D, b);
    const base = y0Of(y0, p.D, b);
    for (let d = 0; d < p.D; d++) {
      const plus = [...base];
      const minus = [...base];
      plus[d] += eps;
      minus[d] -= eps;
      out.push((sampleLoss(p.rhs, plus, t, cb) - sampleLoss(p.rhs, minus, t, cb)) / (2 * eps));
    }
  }
  return out;
}

/** L(θ) over all samples of the batch, by the float64 reference. */
export function batchLoss(p: MlpProblem, params: ArrayLike<number>, y0: ArrayLike<number>, t: readonly number[], c: ArrayLike<number>): number {
  const rhs = p.rhsWith(params);
  let L = 0;
  for (let b = 0; b < p.B; b++) L += sampleLoss(rhs, y0Of(y0, p.D, b), t, sampleCotangents(c, t.length, p.B, p.D, b));
  return L;
}

/** Central differences of L with respect to every parameter. */
export function fdGradTheta(p: MlpProblem, y0: ArrayLike<number>, t: readonly number[], c: ArrayLike<number>, eps = 1e-5): number[] {
  const th = Float64Array.from(p.params);
  const out: number[] = [];
  for (let k = 0; k < th.length; k++) {
    const plus = Float64Array.from(th);
    const minus = Float64Array.from(th);
    plus[k] += eps;
    minus[k] -= eps;
    out.push((batchLoss(p, plus, y0, t, c) - batchLoss(p, minus, y0, t, c)) / (2 * eps));
  }
  return out;
}

/** (L(θ + εv) − L(θ − εv)) / 2ε for a loss L(θ). */
export function fdDirectional(loss: (params: Float64Array) => number, params: ArrayLike<number>, v: ArrayLike<number>, eps = 1e-4): number {
  const plus = Float64Array.from(params, (x, k) => x + eps * v[k]);
  const minus = Float64Array.from(params, (x, k) => x - eps * v[k]);
  return (loss(plus) - loss(minus)) / (2 * eps);
}

/** g · v. */
export function dot(g: ArrayLike<number>, v: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < v.length; k++) s += g[k] * v[k];
  return s;
}

/**
 * Seeded unit directions in parameter space: one supported on each Linear
 * layer's weights and bias (so an error confined to one layer's gradient
 * cannot hide behind a larger layer), then one over all parameters.
 * `layers` are the Linear widths of the MLP (`MLPOptions.layers`).
 */
export function layerDirections(layers: readonly number[], seed: number): { name: string; v: Float64Array }[] {
  const rng = makeRng(seed);
  const P = layers.slice(1).reduce((n, out, l) => n + layers[l] * out + out, 0);
  const unit = (lo: number, hi: number): Float64Array => {
    const v = new Float64Array(P);
    let n2 = 0;
    for (let k = lo; k < hi; k++) {
      v[k] = 2 * rng() - 1;
      n2 += v[k] * v[k];
    }
    for (let k = lo; k < hi; k++) v[k] /= Math.sqrt(n2);
    return v;
  };
  const out: { name: string; v: Float64Array }[] = [];
  let off = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const n = layers[l] * layers[l + 1] + layers[l + 1];
    out.push({ name: `layer ${l}`, v: unit(off, off + n) });
    off += n;
  }
  out.push({ name: 'all', v: unit(0, P) });
  return out;
}

export type GradientResult = OpResult<'gradient'>;

/**
 * The page's arguments for a forward solve and a gradient of it: the
 * problem's MLP and parameters, y0 (the problem's unless given), the output
 * times, the solve's options and the cotangents dL/dy.
 */
export function gradientArgs(p: Problem, t: number[], options: OdeintOptions, c: Float32Array, y0: Float32Array = p.y0) {
  return { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(y0), t, options, dLdy: encodeF32(c) };
}

/**
 * A forward solve and `backward(c)` on the GPU that must succeed without any
 * WebGPU error. Returns dL/dy0 [B][D], dL/dθ [P] and the raw result.
 */
export async function gradientOk(
  h: Harness,
  p: Problem,
  t: number[],
  options: OdeintOptions,
  c: Float32Array,
  extra: { y0?: Float32Array; backward?: BackwardOptions } = {},
): Promise<{ gy0: Float32Array; gth: Float32Array; r: GradientResult }> {
  const r = await h.call('gradient', {
    ...gradientArgs(p, t, options, c, extra.y0),
    backward: extra.backward,
  });
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  expect(r.summary).not.toBeNull();
  const gy0 = Float32Array.from(decode(r.gy0!));
  const gth = Float32Array.from(decode(r.gth!));
  expect(gy0.length).toBe(p.B * p.D);
  expect(gth.length).toBe(p.params.length);
  return { gy0, gth, r };
}

/** Rows of the given samples of a [B][D] array, flattened. */
export function rows(x: ArrayLike<number>, D: number, samples: readonly number[]): number[] {
  return samples.flatMap((b) => y0Of(x, D, b));
}

/** One line per measured error, prefixed so the numbers can be collected for the README. */
export function logError(what: string, errors: Record<string, number>): void {
  const parts = Object.entries(errors).map(([k, v]) => `${k} ${v.toExponential(2)}`);
  console.log(`[adjoint error] ${what}: ${parts.join(', ')}`);
}
