/**
 * The adjoint on the seed example f(z) = W z (one Linear layer [2, 2],
 * identity activation, zero bias), whose gradients are known in closed form,
 * plus the properties of the backward solve that need a long or fine solve
 * and are cheapest to check on it: no host wait per step, GPU memory
 * independent of the number of steps, and the argument check of dLdy.
 *
 * With z(t) = e^{W(t−t0)} z0 and L = Σ_i Σ_b c_ib · z_b(t_i):
 *   dL/dz0_b = Σ_i e^{Wᵀ(t_i−t0)} c_ib,
 *   dL/dW    = Σ_b Σ_i ∫_{t0}^{t_i} a_ib(s) z_b(s)ᵀ ds,   a_ib(s) = e^{Wᵀ(t_i−s)} c_ib,
 *   dL/db    = Σ_b Σ_i ∫_{t0}^{t_i} a_ib(s) ds
 * (oriented integrals, so the same formulas hold in reverse time). The
 * matrix exponentials come from `expm` (float64) and the integrals from
 * composite 8-point Gauss–Legendre quadrature (entire integrands, panels of
 * length ≤ 0.1 with ‖W‖ ≤ 3: error ~(0.3)^16/16! relative, far below 1e-12).
 *
 * Tolerance LINEAR_TOL = 1e-4 relative (norm-wise) at rtol 1e-6, atol 1e-7:
 * the backward dopri5 solve takes ≈ 25 steps or fewer over these spans, each with
 * local error ≤ ~1e-6·|[z, a]|, and ‖e^{±W s}‖ ≤ 3 over these spans, so the
 * global error of a is ≲ 25·1e-6·3 ≈ 8e-5; the θ quadrature inherits it;
 * float32 round-off adds ~25·6e-8. Measured errors are ~2e-7 (printed).
 */
import { describe, expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { TABLEAUX } from '../../src/methods/tableau';
import { expm, rkStep } from '../reference/solve';
import { cotangents, gradientArgs, logError, sampleCotangents } from './adjoint-helpers';
import { relError } from './problems';
import { linearProblem, useHarness } from './solve-helpers';
import { type WireArray, decode } from './wire';

const LINEAR_TOL = 1e-4;
const OPTIONS = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;

const harness = useHarness();

type Mat = number[][];
const transpose = (A: Mat): Mat => A[0].map((_, j) => A.map((row) => row[j]));
const scale = (A: Mat, s: number): Mat => A.map((row) => row.map((x) => x * s));
const mv = (A: Mat, v: readonly number[]): number[] => A.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));

/** Nodes and weights of n-point Gauss–Legendre quadrature on [−1, 1] (Newton on P_n, float64). */
function gaussLegendre(n: number): { x: number[]; w: number[] } {
  const x: number[] = [];
  const w: number[] = [];
  for (let k = 1; k <= n; k++) {
    let r = Math.cos((Math.PI * (k - 0.25)) / (n + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = r;
      for (let m = 2; m <= n; m++) [p0, p1] = [p1, ((2 * m - 1) * r * p1 - (m - 1) * p0) / m];
      dp = (n * (r * p1 - p0)) / (r * r - 1);
      const dr = p1 / dp;
      r -= dr;
      if (Math.abs(dr) < 1e-16) break;
    }
    x.push(r);
    w.push(2 / ((1 - r * r) * dp * dp));
  }
  return { x, w };
}
const GL8 = gaussLegendre(8);

/** ∫_{a}^{b} g(s) ds (oriented) by composite 8-point Gauss–Legendre with `panels` panels; g returns a vector. */
function integrate(g: (s: number) => number[], a: number, b: number, panels: number): number[] {
  const h = (b - a) / panels;
  let acc: number[] | null = null;
  for (let k = 0; k < panels; k++) {
    const mid = a + (k + 0.5) * h;
    GL8.x.forEach((xi, j) => {
      const v = g(mid + 0.5 * h * xi);
      const wgt = 0.5 * h * GL8.w[j];
      acc = acc ? acc.map((s, d) => s + wgt * v[d]) : v.map((x) => wgt * x);
    });
  }
  return acc ?? [];
}

/** The exact dL/dz0 [B][D], dL/dW [D][D] (row-major) and dL/db [D] of L = Σ c·z for z' = W z. */
function exactGradients(W: Mat, y0: number[][], t: number[], c: ArrayLike<number>): { gy0: number[]; gW: number[]; gb: number[] } {
  const D = W.length;
  const B = y0.length;
  const Wt = transpose(W);
  const t0 = t[0];
  const gy0: number[] = [];
  const gW = new Array<number>(D * D).fill(0);
  const gb = new Array<number>(D).fill(0);
  y0.forEach((z0, b) => {
    const cb = sampleCotangents(c, t.length, B, D, b);
    const g = new Array<number>(D).fill(0);
    t.forEach((ti, i) => {
      mv(expm(scale(Wt, ti - t0)), cb[i]).forEach((x, d) => (g[d] += x));
      if (ti === t0) return;
      // Integrand [a zᵀ (row-major), a] at s.
      const integrand = (s: number) => {
        const a = mv(expm(scale(Wt, ti - s)), cb[i]);
        const z = mv(expm(scale(W, s - t0)), z0);
        return [...a.flatMap((ao) => z.map((zi) => ao * zi)), ...a];
      };
      const panels = Math.max(4, Math.ceil(Math.abs(ti - t0) / 0.1));
      const v = integrate(integrand, t0, ti, panels);
      for (let k = 0; k < D * D; k++) gW[k] += v[k];
      for (let d = 0; d < D; d++) gb[d] += v[D * D + d];
    });
    gy0.push(...g);
  });
  return { gy0, gW, gb };
}

function seededStates(B: number, D: number, seed: number): number[][] {
  const rng = makeRng(seed);
  return Array.from({ length: B }, () => Array.from({ length: D }, () => Math.fround(2 * rng() - 1)));
}

/** Runs forward + backward on the GPU (backwardRuns) and asserts no error. */
async function runLinear(W: Mat, y0: number[][], t: number[], c: Float32Array, options: object, runs: object[]) {
  const p = linearProblem(W, y0);
  const r = await harness().call('backwardRuns', {
    ...gradientArgs(p, t, options, c),
    runs,
  });
  expect(r.gpuErrors).toEqual([]);
  for (const run of r.runs) {
    expect(run.error).toBeNull();
    expect(run.summary).not.toBeNull();
  }
  return { p, r };
}

/** Checks the GPU gradients of a linear problem against the exact ones; returns the errors. */
function compareExact(p: ReturnType<typeof linearProblem>, y0: number[][], t: number[], c: Float32Array, run: { gy0: WireArray | null; gth: WireArray | null }) {
  const D = p.D;
  const gy0 = decode(run.gy0!);
  const gth = decode(run.gth!);
  const ex = exactGradients(p.W32, y0, t, c);
  return {
    gy0: relError(gy0, ex.gy0),
    gW: relError(gth.subarray(0, D * D), ex.gW),
    gb: relError(gth.subarray(D * D), ex.gb),
  };
}

describe('f = W z against the analytic gradients', () => {
  // A damped, non-normal rotation (rounded to float32 by linearProblem).
  const W = [
    [-0.3, -1.2],
    [0.9, -0.2],
  ];
  const B = 3;
  const y0 = seededStates(B, 2, 5);

  it('final-time loss, forward time: dL/dy0 = e^{Wᵀ(T−t0)} c, dL/dW and dL/db by quadrature', async () => {
    const t = [0, 1.5];
    const c = cotangents(2, B, 2, 6);
    c.fill(0, 0, B * 2); // no cotangent at t0: a final-time loss
    const { p, r } = await runLinear(W, y0, t, c, OPTIONS, [{}]);
    // The closed form of the brief, written out for this case.
    const E = expm(scale(transpose(p.W32), t[1] - t[0]));
    const want = y0.flatMap((_, b) => mv(E, sampleCotangents(c, 2, B, 2, b)[1]));
    expect(relError(decode(r.runs[0].gy0!), want)).toBeLessThan(LINEAR_TOL);
    const e = compareExact(p, y0, t, c, r.runs[0]);
    logError('linear final-time loss', e);
    expect(e.gy0).toBeLessThan(LINEAR_TOL);
    expect(e.gW).toBeLessThan(LINEAR_TOL);
    expect(e.gb).toBeLessThan(LINEAR_TOL);
  });

  it('cotangents at every output, reverse time (t decreasing)', async () => {
    const t = [1, 0.4, -0.6, -1.3];
    const c = cotangents(t.length, B, 2, 7);
    const { p, r } = await runLinear(W, y0, t, c, OPTIONS, [{}]);
    const e = compareExact(p, y0, t, c, r.runs[0]);
    logError('linear every output, reverse time', e);
    expect(e.gy0).toBeLessThan(LINEAR_TOL);
    expect(e.gW).toBeLessThan(LINEAR_TOL);
    expect(e.gb).toBeLessThan(LINEAR_TOL);
  });
});

describe('rejected attempts that overflow', () => {
  // A damped rotation at angular frequency 50 over 0.3 (2.4 turns) with
  // cotangents of size ~1e34, and a first backward step over the whole span:
  // that attempt's stages overflow float32 (checked below in float64), so the
  // sample rejects, shrinks and retries. Each attempt's θ products go to a step
  // row that reaches the accumulator only when the step is accepted: the
  // overflowing attempts must leave no trace in dL/dθ. W holds D/2 copies of
  // the rotation; the three widths cover where the kernel keeps its rows:
  // D = 2 (P = 6) both in private memory, D = 24 (P = 600) the step row only,
  // D = 32 (P = 1,056) neither.
  const ROTATION = [
    [-1, -50],
    [50, -1],
  ];
  const B = 2;
  const t = [0, 0.3];
  const SCALE = 1e34;

  it.each([2, 24, 32])('leave dL/dθ exact (D = %i)', async (D) => {
    const W = Array.from({ length: D }, (_, o) => Array.from({ length: D }, (_, i) => (o >> 1 === i >> 1 ? ROTATION[o & 1][i & 1] : 0)));
    const y0 = seededStates(B, D, 13);
    const c = Float32Array.from(cotangents(2, B, D, 14), (x) => x * SCALE);
    const options = { ...OPTIONS, firstStep: t[1] - t[0] };
    const { p, r } = await runLinear(W, y0, t, c, OPTIONS, [options]);
    // The first backward attempt of sample 0 in float64: from [z(T), a(T)]
    // with h = −0.3 on [dz/dt, da/dt] = [W z, −Wᵀ a].
    const zT = mv(expm(scale(p.W32, t[1] - t[0])), y0[0]);
    const Wt = transpose(p.W32);
    const aug = (_t: number, y: readonly number[]) => [...mv(p.W32, y.slice(0, D)), ...mv(Wt, y.slice(D)).map((x) => -x)];
    const first = rkStep(aug, TABLEAUX.dopri5, t[1], [...zT, ...sampleCotangents(c, 2, B, D, 0)[1]], t[0] - t[1]);
    const largest = Math.max(...first.K.flat().map(Math.abs), ...first.y1.map(Math.abs));
    expect(largest).toBeGreaterThan(3.5e38);
    const run = r.runs[0];
    expect(run.summary!.rejected).toBeGreaterThanOrEqual(B);
    // ≈ 80 accepted steps per sample with local errors ≤ ~1e-6 relative.
    const e = compareExact(p, y0, t, c, run);
    console.log(`overflowing first attempts, D = ${D}: largest float64 stage value ${largest.toExponential(2)}, summary ${JSON.stringify(run.summary)}`);
    logError(`linear D = ${D}, overflowing rejected attempts`, e);
    expect(e.gy0).toBeLessThan(LINEAR_TOL);
    expect(e.gW).toBeLessThan(LINEAR_TOL);
    expect(e.gb).toBeLessThan(LINEAR_TOL);
  });
});

describe('a long backward solve', () => {
  // A lightly damped rotation at angular frequency 3 over 64 time units
  // (≈ 30 turns): dopri5 at rtol 1e-6 needs ≈ 1,000 steps (≈ 470 over 30).
  const W = [
    [-0.01, -3],
    [3, -0.01],
  ];
  const B = 4;
  const y0 = seededStates(B, 2, 8);
  const t = [0, 64];

  it('≈ 1,000 backward steps with stepsPerDispatch 8: at most 12 host waits', async () => {
    const c = cotangents(2, B, 2, 9);
    const { p, r } = await runLinear(W, y0, t, c, { ...OPTIONS, stepsPerDispatch: 8 }, [{ stepsPerDispatch: 8 }]);
    const run = r.runs[0];
    const steps = run.summary!.accepted / B;
    console.log(`long backward solve: ${steps} steps per sample, mapAsync ${run.counted.mapAsync}, submits ${run.counted.submit}, summary ${JSON.stringify(run.summary)}`);
    expect(steps).toBeGreaterThan(800);
    // 1,000 steps / 8 per dispatch = 125 dispatches; chunks of 2, 4, …, 64
    // dispatches cover them in 6 chunks, one host wait each (+ one in flight).
    expect(run.counted.mapAsync).toBeLessThanOrEqual(12);
    expect(run.summary!.hostWaits).toBeLessThanOrEqual(12);
    // Over 1,000 steps the local errors (≤ ~1e-6 each) add up to ≲ 1,000·1e-6
    // = 1e-3 (a rotation does not damp them); LONG_TOL = 2e-3 leaves a factor 2
    // for the controller's estimate being an estimate. Measured: ~5e-5.
    const LONG_TOL = 2e-3;
    const e = compareExact(p, y0, t, c, run);
    logError('linear long horizon (1,000 steps)', e);
    expect(e.gy0).toBeLessThan(LONG_TOL);
    expect(e.gW).toBeLessThan(LONG_TOL);
    expect(e.gb).toBeLessThan(LONG_TOL);
  });

  it('GPU memory of a backward solve is the same for 100 and 10,000 steps', async () => {
    // rk4 on [0, 1] with h = 0.01 and h = 1e-4: same B, D, T, 100× the steps.
    const Wm = [
      [-0.1, -1],
      [1, -0.1],
    ];
    const Bm = 64;
    const y0m = seededStates(Bm, 2, 10);
    const tm = [0, 1];
    const c = cotangents(2, Bm, 2, 11);
    const memory: { peakBytes: number; peakLiveBytes: number }[] = [];
    for (const stepSize of [0.01, 1e-4]) {
      const { p, r } = await runLinear(Wm, y0m, tm, c, { method: 'rk4', stepSize }, [{}]);
      const run = r.runs[0];
      const steps = run.summary!.accepted / Bm;
      console.log(`rk4 h = ${stepSize}: ${steps} backward steps per sample, memory ${JSON.stringify(run.memory)}`);
      expect(steps).toBeCloseTo(1 / stepSize, 0);
      // The memory is only meaningful if the solve is right: rk4 at h ≤ 0.01
      // is accurate to ~1e-8, so the exact gradients hold to LINEAR_TOL.
      const e = compareExact(p, y0m, tm, c, run);
      expect(e.gy0).toBeLessThan(LINEAR_TOL);
      expect(e.gW).toBeLessThan(LINEAR_TOL);
      memory.push(run.memory);
      // Only the two gradient tensors outlive the call: B·D + P floats (P = 6),
      // plus at most 16 bytes of size rounding each.
      for (const left of [run.memory.liveBytesLeft, run.memory.bytesLeft]) {
        expect(left).toBeGreaterThanOrEqual((Bm * 2 + 6) * 4);
        expect(left).toBeLessThanOrEqual((Bm * 2 + 6) * 4 + 32);
      }
    }
    expect(memory[0].peakBytes).toBeGreaterThan(0);
    expect(memory[1].peakBytes).toBe(memory[0].peakBytes);
    expect(memory[1].peakLiveBytes).toBe(memory[0].peakLiveBytes);
  });
});

describe('bad input', () => {
  const W = [
    [-0.3, -1.2],
    [0.9, -0.2],
  ];
  const y0 = seededStates(3, 2, 12);
  const t = [0, 0.5, 1];
  const n = t.length * 3 * 2;
  const cases: { name: string; dLdy: Float32Array; argument: string }[] = [
    { name: 'one value short', dLdy: cotangents(1, 1, n - 1, 1), argument: 'dLdy' },
    { name: 'one sample too many', dLdy: cotangents(1, 1, n + t.length * 2, 1), argument: 'dLdy' },
    { name: 'NaN at index 4', dLdy: Float32Array.from(cotangents(1, 1, n, 1), (x, k) => (k === 4 ? NaN : x)), argument: 'dLdy[4]' },
  ];
  for (const cs of cases) {
    it(`dLdy ${cs.name}: ArgumentError naming ${cs.argument}, before any GPU work`, async () => {
      const p = linearProblem(W, y0);
      const r = await harness().call('gradient', gradientArgs(p, t, OPTIONS, cs.dLdy));
      expect(r.gpuErrors).toEqual([]);
      expect(r.error?.name).toBe('ArgumentError');
      expect(r.error?.argument).toBe(cs.argument);
      expect(r.summary).toBeNull();
      // Nothing submitted, mapped or allocated by the rejected call.
      expect(r.counted).toEqual({ mapAsync: 0, submit: 0 });
      expect(r.liveBytesAfterBackward).toBe(0);
    });
  }
});
