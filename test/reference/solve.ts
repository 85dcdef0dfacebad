/**
 * Float64 CPU reference solvers, written independently of the GPU code, for checking GPU results:
 *  - `solveFixed`: fixed-grid explicit Runge–Kutta for any tableau, outputs between grid points
 *    by the tableau's dense output;
 *  - `solveAccurate`: adaptive dopri5 at tight tolerances, the "true" solution in tests;
 *  - `expm`: matrix exponential for analytic solutions of linear systems.
 * Only the coefficients come from src/methods/tableau.ts (they are proven by the order-condition tests).
 */

import { TABLEAUX, type Tableau } from '../../src/methods/tableau';

/** The right-hand side dy/dt = f(t, y). */
export type Rhs = (t: number, y: readonly number[]) => number[];

/** y + h Σ_i w_i K_i (weights beyond K.length, or missing entries, are skipped). */
function combine(y: readonly number[], h: number, w: readonly number[], K: readonly (readonly number[])[]): number[] {
  const out = [...y];
  K.forEach((k, i) => {
    const wi = w[i] ?? 0;
    if (wi === 0) return;
    for (let d = 0; d < out.length; d++) out[d] = (out[d] ?? NaN) + h * wi * (k[d] ?? NaN);
  });
  return out;
}

export interface RkStepResult {
  /** y_{n+1}. */
  readonly y1: number[];
  /** The s stages K_0 … K_{s-1}. */
  readonly K: number[][];
  /** Local error estimate h Σ bErr_i K_i (zeros for fixed-step methods). */
  readonly err: number[];
}

/** One explicit Runge–Kutta step from (t, y) with step h (h may be negative). */
export function rkStep(f: Rhs, tab: Tableau, t: number, y: readonly number[], h: number): RkStepResult {
  const K: number[][] = [];
  for (let i = 0; i < tab.stages; i++) {
    const yi = combine(y, h, tab.a[i] ?? [], K);
    K.push(f(t + (tab.c[i] ?? NaN) * h, yi));
  }
  const y1 = combine(y, h, tab.b, K);
  const err = combine(new Array<number>(y.length).fill(0), h, tab.bErr, K);
  return { y1, K, err };
}

/**
 * Dense output y(t + θh) = y_n + h Σ_i w_i(θ) K_i. `Kext` holds the s stages, plus
 * K_s = f(t+h, y_{n+1}) when the tableau is not FSAL.
 */
export function denseEval(tab: Tableau, y: readonly number[], h: number, Kext: readonly (readonly number[])[], theta: number): number[] {
  if (Kext.length !== tab.dense.length) {
    throw new RangeError(`dense output of ${tab.name} needs ${tab.dense.length} K entries, got ${Kext.length}`);
  }
  const w = tab.dense.map((row) => {
    let acc = 0;
    for (let m = row.length - 1; m >= 0; m--) acc = acc * theta + (row[m] ?? NaN);
    return acc * theta;
  });
  return combine(y, h, w, Kext);
}

/** Direction of ts (+1 or −1; +1 when all equal); throws if ts is empty or not monotone. */
function direction(ts: readonly number[]): number {
  if (ts.length === 0) throw new RangeError('ts must hold at least one time');
  if (!ts.every(Number.isFinite)) throw new RangeError('ts must be finite');
  const dir = Math.sign((ts[ts.length - 1] ?? 0) - (ts[0] ?? 0)) || 1;
  for (let j = 1; j < ts.length; j++) {
    if (((ts[j] ?? NaN) - (ts[j - 1] ?? NaN)) * dir < 0) throw new RangeError('ts must be monotone');
  }
  return dir;
}

/**
 * Fixed-grid RK on t_k = t0 + k·h (computed, not accumulated; h takes the direction of ts). The
 * last step ends exactly at t_end = ts[last]: when t0 + k·h is within 1e-4·|h| of t_end or beyond
 * it, that step ends at t_end. Outputs between grid points use the tableau's dense output.
 * Returns the state at every ts (the first is y0).
 */
export function solveFixed(f: Rhs, tab: Tableau, y0: readonly number[], ts: readonly number[], h: number): number[][] {
  const dir = direction(ts);
  if (!(Number.isFinite(h) && h !== 0)) throw new RangeError(`h must be finite and nonzero, got ${h}`);
  const habs = Math.abs(h);
  const hs = dir * habs;
  const t0 = ts[0] ?? NaN;
  const tEnd = ts[ts.length - 1] ?? NaN;

  const out: number[][] = [];
  let j = 0;
  while (j < ts.length && ts[j] === t0) {
    out.push([...y0]);
    j++;
  }
  let t = t0;
  let y = [...y0];
  for (let k = 0; j < ts.length; k++) {
    let tNext = t0 + (k + 1) * hs;
    if ((tNext - tEnd) * dir >= -1e-4 * habs) tNext = tEnd;
    const hk = tNext - t;
    const { y1, K } = rkStep(f, tab, t, y, hk);
    let Kext: number[][] | undefined;
    while (j < ts.length && ((ts[j] ?? NaN) - tNext) * dir <= 0) {
      const tj = ts[j] ?? NaN;
      if (tj === tNext) {
        out.push([...y1]);
      } else {
        Kext ??= tab.fsal ? K : [...K, f(tNext, y1)];
        out.push(denseEval(tab, y, hk, Kext, (tj - t) / hk));
      }
      j++;
    }
    t = tNext;
    y = y1;
  }
  return out;
}

/**
 * High-accuracy adaptive solve (dopri5, elementary controller h ← h·clamp(0.9·err^(−1/5), 0.2, 5),
 * RMS error norm with scale atol + rtol·max(|y_n|, |y_{n+1}|)), stepping exactly onto every output
 * time so no interpolation is involved. Serves as the "true" solution in tests.
 */
export function solveAccurate(
  f: Rhs,
  y0: readonly number[],
  ts: readonly number[],
  rtol = 1e-12,
  atol = 1e-12,
  maxSteps = 1_000_000,
): number[][] {
  const tab = TABLEAUX.dopri5;
  const expo = 1 / tab.errorOrder;
  const dir = direction(ts);
  const t0 = ts[0] ?? NaN;
  const norm = (v: readonly number[], ya: readonly number[], yb: readonly number[]): number => {
    let acc = 0;
    v.forEach((x, d) => {
      const scale = atol + rtol * Math.max(Math.abs(ya[d] ?? NaN), Math.abs(yb[d] ?? NaN));
      acc += (x / scale) ** 2;
    });
    return Math.sqrt(acc / Math.max(1, v.length));
  };

  // Initial step: h = 0.01·‖y0‖/‖f(t0, y0)‖ in the scaled norm (Hairer, Nørsett & Wanner, §II.4), capped by the span.
  const span = Math.abs((ts[ts.length - 1] ?? NaN) - t0);
  const d0 = norm(y0, y0, y0);
  const d1 = norm(f(t0, y0), y0, y0);
  let h = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * (d0 / d1);
  h = Math.min(h, span > 0 ? span : h);

  const out: number[][] = [];
  let t = t0;
  let y = [...y0];
  let steps = 0;
  for (const target of ts) {
    while (t !== target) {
      if (++steps > maxSteps) throw new Error(`solveAccurate: more than ${maxSteps} steps`);
      const remaining = Math.abs(target - t);
      const truncated = h >= remaining;
      const hStep = dir * (truncated ? remaining : h);
      if (Math.abs(hStep) <= 1e-15 * Math.max(1, Math.abs(t))) throw new Error(`solveAccurate: step underflow at t = ${t}`);
      const { y1, err } = rkStep(f, tab, t, y, hStep);
      const e = norm(err, y, y1);
      if (!Number.isFinite(e)) throw new Error(`solveAccurate: non-finite state at t = ${t}`);
      const factor = e === 0 ? 5 : Math.min(5, Math.max(0.2, 0.9 * e ** -expo));
      if (e <= 1) {
        t = truncated ? target : t + hStep;
        y = y1;
        // A step shortened to hit an output time says little about the next step size.
        h = truncated ? Math.max(h, Math.abs(hStep) * factor) : Math.abs(hStep) * factor;
      } else {
        h = Math.abs(hStep) * Math.min(1, factor);
      }
    }
    out.push([...y]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Matrix exponential.

function matMul(A: readonly (readonly number[])[], B: readonly (readonly number[])[]): number[][] {
  const m = B[0]?.length ?? 0;
  return A.map((row) =>
    Array.from({ length: m }, (_, j) => {
      let acc = 0;
      for (let k = 0; k < row.length; k++) acc += (row[k] ?? NaN) * (B[k]?.[j] ?? NaN);
      return acc;
    }),
  );
}

const norm1 = (A: readonly (readonly number[])[]): number =>
  Math.max(0, ...(A[0] ?? []).map((_, j) => A.reduce((acc, row) => acc + Math.abs(row[j] ?? NaN), 0)));

/**
 * e^A by scaling and squaring: A/2^s with ‖A/2^s‖₁ ≤ 1/2, Taylor series summed until the terms
 * fall below double round-off (at most 30 terms: 0.5^30/30! ≈ 4e-42), then s squarings.
 */
export function expm(A: readonly (readonly number[])[]): number[][] {
  const n = A.length;
  if (!A.every((row) => row.length === n)) throw new RangeError('expm needs a square matrix');
  const nrm = norm1(A);
  if (!Number.isFinite(nrm)) throw new RangeError('expm needs a finite matrix');
  const s = nrm > 0.5 ? Math.ceil(Math.log2(nrm / 0.5)) : 0;
  const scale = 2 ** -s;
  const As = A.map((row) => row.map((x) => x * scale));
  const eye = (): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  let E = eye();
  let term = eye();
  for (let k = 1; k <= 30; k++) {
    term = matMul(term, As).map((row) => row.map((x) => x / k));
    E = E.map((row, i) => row.map((x, j) => x + (term[i]?.[j] ?? NaN)));
    if (norm1(term) <= 1e-18 * norm1(E)) break;
  }
  for (let i = 0; i < s; i++) E = matMul(E, E);
  return E;
}
