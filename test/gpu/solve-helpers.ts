/**
 * Shared pieces of the forward-solve GPU tests (solve-*.test.ts): one call that
 * runs a solve on the GPU and asserts it raised no WebGPU error, the gathering
 * of GPU outputs and float64 reference outputs into flat arrays for `relError`,
 * a seeded choice of samples to check, and the linear problems f(z) = W z
 * (one Linear layer, identity activation, zero bias) whose exact solution is
 * expm(W t) z0.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { makeRng } from '../reference/mlp';
import { expm } from '../reference/solve';
import { type Harness, type OpResult, openHarness } from './browser';
import { type Problem, at, sampleY0 } from './problems';
import { decode, encodeF32 } from './wire';

export type SolveResult = OpResult<'solve'>;

/**
 * Opens the harness page before the file's tests (printing the adapter first)
 * and closes it after them, failing if the page logged an error (webode logs
 * uncaught WebGPU errors there). The browser's own 404 for /favicon.ico is not
 * ours, and a module that failed to load would already have stopped the
 * harness from starting, so "Failed to load resource" lines are skipped.
 * Returns a getter for the harness.
 */
export function useHarness(): () => Harness {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await openHarness();
    console.log(JSON.stringify(await h.call('info')));
  });
  afterAll(async () => {
    const consoleErrors = (h?.consoleErrors ?? []).filter((m) => !m.startsWith('Failed to load resource'));
    await h?.close();
    expect(consoleErrors).toEqual([]);
  });
  return () => {
    if (!h) throw new Error('the harness is not open');
    return h;
  };
}

/** Runs `odeint` on the GPU and returns the raw result (no assertion). */
export async function runSolve(
  h: Harness,
  p: Problem,
  t: number[],
  options: OdeintOptions,
  extra: { y0?: Float32Array; params?: Float32Array; stats?: boolean } = {},
): Promise<SolveResult> {
  return h.call('solve', {
    mlp: p.mlp,
    params: encodeF32(extra.params ?? p.params),
    y0: encodeF32(extra.y0 ?? p.y0),
    t,
    options,
    stats: extra.stats ?? true,
  });
}

/** Runs a solve that must succeed without any WebGPU error; returns the outputs [T][B][D] and the result. */
export async function solveOk(
  h: Harness,
  p: Problem,
  t: number[],
  options: OdeintOptions,
  extra: { y0?: Float32Array; stats?: boolean } = {},
): Promise<{ y: Float32Array | Float64Array; r: SolveResult }> {
  const r = await runSolve(h, p, t, options, extra);
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  expect(r.y).not.toBeNull();
  const y = decode(r.y!);
  expect(y.length).toBe(t.length * p.B * p.D);
  return { y, r };
}

/**
 * Flattens the GPU outputs of `samples` and the reference outputs of the same
 * samples (reference(y0 of sample b) returns one row per output time).
 */
export function gather(
  p: Problem,
  y: ArrayLike<number>,
  t: readonly number[],
  samples: readonly number[],
  reference: (y0: number[], b: number) => number[][],
): { got: number[]; want: number[] } {
  const got: number[] = [];
  const want: number[] = [];
  for (const b of samples) {
    const ref = reference(sampleY0(p, b), b);
    expect(ref.length).toBe(t.length);
    t.forEach((_, i) => {
      got.push(...at(y, p.B, p.D, i, b));
      want.push(...ref[i]);
    });
  }
  return { got, want };
}

/** All sample indices 0 … B−1. */
export const allSamples = (B: number): number[] => Array.from({ length: B }, (_, b) => b);

/**
 * `n` distinct seeded sample indices of a batch of B, always including the
 * first and the last sample (the last workgroup is partly empty when B is not
 * a multiple of 64, so its edge is worth checking).
 */
export function someSamples(B: number, n: number, seed = 7): number[] {
  if (n >= B) return allSamples(B);
  const rng = makeRng(seed);
  const set = new Set<number>([0, B - 1]);
  while (set.size < n) set.add(Math.floor(rng() * B));
  return [...set].sort((a, b) => a - b);
}

/**
 * The linear vector field f(z) = W z as a webode MLP: one Linear layer
 * [D, D] with identity activation and zero bias. W is rounded to float32 once
 * and the same numbers are used by the GPU and by the exact solution.
 */
export function linearProblem(W: number[][], y0: number[][]): Problem & { W32: number[][] } {
  const D = W.length;
  const W32 = W.map((row) => row.map((x) => Math.fround(x)));
  const params = new Float32Array(D * D + D); // weight [out, in] row-major, then a zero bias
  W32.forEach((row, o) => row.forEach((x, i) => (params[o * D + i] = x)));
  const y0f = Float32Array.from(y0.flat());
  return {
    mlp: { layers: [D, D], activation: 'identity', timeInput: false },
    D,
    B: y0.length,
    params,
    y0: y0f,
    rhs: (_t, z) => W32.map((row) => row.reduce((acc, w, j) => acc + w * (z[j] ?? NaN), 0)),
    W32,
  };
}

/** Exact solution of z' = W z: expm(W (t − t0)) z0 at every t (float64). */
export function linearExact(W: readonly (readonly number[])[], z0: readonly number[], t: readonly number[]): number[][] {
  const t0 = t[0];
  return t.map((ti) => {
    const E = expm(W.map((row) => row.map((w) => w * (ti - t0))));
    return E.map((row) => row.reduce((acc, e, j) => acc + e * (z0[j] ?? NaN), 0));
  });
}

/** Max over the entries of |x|. */
export const maxAbs = (x: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
};
