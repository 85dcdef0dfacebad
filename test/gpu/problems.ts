/**
 * Test problems for the GPU tests: MLP vector fields with seeded parameters
 * (rounded to float32, so the GPU and the float64 reference evaluate the same
 * function), seeded initial states, and comparisons with stated tolerances.
 */
import type { Activation, MLPOptions } from '../../src/index';
import { initParams, makeRng, mlpForward } from '../reference/mlp';
import type { Rhs } from '../reference/solve';

export interface Problem {
  mlp: MLPOptions;
  D: number;
  B: number;
  params: Float32Array;
  y0: Float32Array;
  /** f(t, y) of one sample in float64, on the float32 parameters. */
  rhs: Rhs;
}

/** A problem whose parameters can be perturbed (for finite differences). */
export interface MlpProblem extends Problem {
  /** f(t, y) in float64 with other parameters (same architecture). */
  rhsWith(params: ArrayLike<number>): Rhs;
}

export function makeProblem(o: {
  layers: number[];
  activation?: Activation;
  timeInput?: boolean;
  B: number;
  seed?: number;
  y0Scale?: number;
  paramScale?: number;
}): MlpProblem {
  const activation = o.activation ?? 'tanh';
  const timeInput = o.timeInput ?? false;
  const D = o.layers[o.layers.length - 1];
  // The reference names the state width D as its first width and appends t itself.
  const refLayers = [D, ...o.layers.slice(1)];
  const seed = o.seed ?? 1;
  const p64 = initParams(refLayers, timeInput, seed);
  const params = Float32Array.from(p64, (v) => v * (o.paramScale ?? 1));
  const rng = makeRng(seed + 1000);
  const y0 = new Float32Array(o.B * D);
  for (let i = 0; i < y0.length; i++) y0[i] = (2 * rng() - 1) * (o.y0Scale ?? 1);
  const rhsWith = (q: ArrayLike<number>): Rhs => {
    const qq = Array.from(q);
    return (t, y) => Array.from(mlpForward(refLayers, activation, timeInput, qq, t, y));
  };
  return { mlp: { layers: o.layers, activation, timeInput }, D, B: o.B, params, y0, rhs: rhsWith(params), rhsWith };
}

export function sampleY0(p: Problem, b: number): number[] {
  return Array.from(p.y0.subarray(b * p.D, (b + 1) * p.D));
}

/** Output row i, sample b of a [T][B][D] array. */
export function at(y: ArrayLike<number>, B: number, D: number, i: number, b: number): number[] {
  const o = (i * B + b) * D;
  return Array.from({ length: D }, (_, d) => y[o + d]);
}

/**
 * Relative error of `got` against `want` over all outputs: max |Δ| divided by
 * max(max |want|, floor). A norm-wise relative error, so components near zero
 * do not blow it up.
 */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-3): number {
  let num = 0;
  let den = floor;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  if (got.length !== want.length) return Infinity;
  for (let i = 0; i < got.length; i++) if (!Number.isFinite(got[i])) return Infinity;
  return num / den;
}
