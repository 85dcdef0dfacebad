/**
 * Properties of the forward solve beyond "matches the reference once":
 *  - the empirical convergence order of each fixed-step method on the GPU;
 *  - no host readback per step: 1,000-step solves (fixed and adaptive) in
 *    many small dispatches wait on the GPU only a handful of times;
 *  - per-sample step control: easy and hard samples in one batch take their
 *    own numbers of steps, the same as when each is solved alone;
 *  - the statistics add up (function evaluations per step of each method,
 *    summary totals = per-sample sums).
 * Every result is checked against the float64 CPU reference or the exact
 * solution of a linear field; tolerances are stated and justified at each test.
 */
import { describe, expect, it } from 'vitest';
import { TABLEAUX, type MethodName } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { at, makeProblem, relError, sampleY0 } from './problems';
import { allSamples, gather, linearExact, linearProblem, maxAbs, runSolve, solveOk, useHarness } from './solve-helpers';

const harness = useHarness();

/** Root mean square of got − want. */
function rms(got: readonly number[], want: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < want.length; i++) s += (got[i] - want[i]) ** 2;
  return Math.sqrt(s / want.length);
}

describe('empirical convergence order of the fixed-step methods', () => {
  /*
   * A smooth tanh MLP [2, 50, 2] with weights ×2.5 (so the truncation errors are
   * large enough to measure in float32), integrated over [0, 4]; the error is
   * the RMS over 16 samples of the GPU state at t = 4 minus `solveAccurate`
   * (dopri5 at 1e-12, "exact" here). Halving h divides it by ≈ 2^p.
   *
   * The step sizes keep every error well above float32 round-off: the test
   * measures the round-off directly (GPU minus `solveFixed` in float64 on the
   * same grid; 5e-7 to 1.2e-6 RMS here, float32 tanh and 50-term sums
   * included) and requires it to be below 5% of the error, so it moves a
   * measured order by ≤ log2(1.05/0.95) ≈ 0.14. The steps cannot be much
   * smaller (rk4's error at h = 0.125 is already only ≈ 3e-5), and at them
   * the higher-order terms of the error are not negligible yet: the float64
   * `solveFixed` itself shows orders 0.99 (euler), 1.90–1.93 (midpoint),
   * 3.54–3.78 (rk4, rk38). So:
   *  - the order from the two finest steps must be within 0.35 of p (an
   *    order-(p − 1) method, e.g. a wrong stage coefficient, is ≈ 1 away);
   *  - every pair within [p − 0.6, p + 0.3];
   *  - every GPU order within 0.15 of the float64 order at the same steps
   *    (the round-off bound above, plus a little).
   */
  const B = 16;
  const T = 4;
  const p = makeProblem({ layers: [2, 50, 2], B, seed: 1, paramScale: 2.5 });
  const t = [0, T];
  const truth = allSamples(B).map((b) => solveAccurate(p.rhs, sampleY0(p, b), t));
  const STEPS: Record<string, number[]> = {
    euler: [0.1, 0.05, 0.025],
    midpoint: [0.2, 0.1, 0.05],
    rk4: [0.5, 0.25, 0.125],
    rk38: [0.5, 0.25, 0.125],
  };
  for (const [method, steps] of Object.entries(STEPS) as [MethodName, number[]][]) {
    const order = TABLEAUX[method].order;
    it(`${method} has order ${order}`, async () => {
      const errors: number[] = [];
      const roundoffs: number[] = [];
      const errors64: number[] = [];
      for (const stepSize of steps) {
        const { y, r } = await solveOk(harness(), p, t, { method, stepSize });
        expect(r.stats!.accepted).toEqual(new Array(B).fill(Math.round(T / stepSize)));
        // The states at t = T of every sample: GPU, exact (solveAccurate), float64 on the same grid.
        const gpu = allSamples(B).flatMap((b) => at(y, B, p.D, 1, b));
        const exact = allSamples(B).flatMap((b) => truth[b][1]);
        const grid64 = allSamples(B).flatMap((b) => solveFixed(p.rhs, TABLEAUX[method], sampleY0(p, b), t, stepSize)[1]);
        errors.push(rms(gpu, exact));
        roundoffs.push(rms(gpu, grid64));
        errors64.push(rms(grid64, exact));
      }
      const orders = errors.slice(1).map((e, i) => Math.log2(errors[i] / e));
      const orders64 = errors64.slice(1).map((e, i) => Math.log2(errors64[i] / e));
      console.log(
        `[measure] order ${method}: h ${steps.join(', ')} → error ${errors.map((e) => e.toExponential(2)).join(', ')}, ` +
          `round-off ${roundoffs.map((e) => e.toExponential(1)).join(', ')}, ratios ${errors
            .slice(1)
            .map((e, i) => (errors[i] / e).toFixed(2))
            .join(', ')}, orders ${orders.map((o) => o.toFixed(2)).join(', ')} (float64 solveFixed: ${orders64.map((o) => o.toFixed(2)).join(', ')})`,
      );
      roundoffs.forEach((ro, i) => expect(ro, `round-off at h = ${steps[i]}`).toBeLessThan(0.05 * errors[i]));
      expect(Math.abs(orders[orders.length - 1] - order)).toBeLessThan(0.35);
      orders.forEach((o, i) => {
        expect(o).toBeGreaterThan(order - 0.6);
        expect(o).toBeLessThan(order + 0.3);
        expect(Math.abs(o - orders64[i])).toBeLessThan(0.15);
      });
    });
  }
});

describe('no host readback per step', () => {
  /*
   * The host may wait on the GPU only between rounds of dispatches, and rounds
   * double in length, so a solve of N step attempts costs O(log N) waits. With
   * stepsPerDispatch = 8 given (so never exceeded: no growth) a 1,000-step
   * solve needs ≥ 125 dispatches; the
   * harness counts every GPUBuffer.mapAsync during `odeint` (by wrapping the
   * prototype, independently of webode's counters), which must stay ≤ 12,
   * i.e. far below the 1,000 steps and the 125 dispatches.
   */
  const MAX_WAITS = 12;
  const SPD = 8;

  it('rk4, 1,000 steps of 1e-3 on [0, 1] in dispatches of 8 steps', async () => {
    const p = makeProblem({ layers: [2, 50, 2], B: 64, seed: 2 });
    const t = [0, 0.25, 0.5, 0.7503, 1];
    const { y, r } = await solveOk(harness(), p, t, { method: 'rk4', stepSize: 1e-3, stepsPerDispatch: SPD });
    const s = r.stats!;
    console.log(
      `[measure] rk4 1000 steps: mapAsync ${r.counted.mapAsync}, submits ${r.counted.submit}, dispatches ${r.summary!.dispatches}, ` +
        `host waits (webode) ${r.summary!.hostWaits}, ${r.ms.toFixed(0)} ms`,
    );
    expect(s.accepted).toEqual(new Array(p.B).fill(1000));
    expect(s.rejected).toEqual(new Array(p.B).fill(0));
    expect(s.nfe).toEqual(new Array(p.B).fill(1 + 4 * 1000));
    expect(r.counted.mapAsync).toBeLessThanOrEqual(MAX_WAITS);
    expect(r.summary!.hostWaits).toBe(r.counted.mapAsync); // webode's own count agrees with the wrapped prototype
    expect(r.summary!.dispatches).toBeGreaterThanOrEqual(1000 / SPD);
    expect(r.counted.submit).toBeLessThan(r.summary!.dispatches / 4);
    /*
     * Against solveFixed on the same grid: round-off of 1,000 steps. Each step
     * adds a few u = 6e-8 of round-off with varying sign (a random walk:
     * √1000·2u ≈ 4e-6; the worst case 1000·2u = 1.2e-4 would need every error
     * to have the same sign). 2e-5 = 5× the random-walk size.
     */
    const { got, want } = gather(p, y, t, allSamples(p.B), (y0) => solveFixed(p.rhs, TABLEAUX.rk4, y0, t, 1e-3));
    const err = relError(got, want);
    console.log(`[measure] rk4 1000 steps: rel err vs solveFixed ${err.toExponential(2)} (tol 2e-5)`);
    expect(err).toBeLessThan(2e-5);
  });

  it('dopri5, ~1,000 adaptive steps (a fast rotation over 19 turns, rtol 1e-7) in dispatches of 8 steps', async () => {
    // f(z) = W z with W a rotation at ω = 12 rad per unit time over [0, 10]: 120 rad.
    const W = [
      [0, 12],
      [-12, 0],
    ];
    const p = linearProblem(W, [
      [1, 0],
      [0.3, -0.8],
      [-0.5, 0.5],
      [0.7, 0.7],
    ]);
    const t = [0, 2.5, 5, 7.777, 10];
    const { y, r } = await solveOk(harness(), p, t, { method: 'dopri5', rtol: 1e-7, atol: 1e-8, stepsPerDispatch: SPD });
    const s = r.stats!;
    console.log(
      `[measure] dopri5 rotation: accepted ${s.accepted.join(', ')}, rejected ${s.rejected.join(', ')}, mapAsync ${r.counted.mapAsync}, ` +
        `submits ${r.counted.submit}, dispatches ${r.summary!.dispatches}, host waits (webode) ${r.summary!.hostWaits}, ${r.ms.toFixed(0)} ms`,
    );
    // ≈ 1,000 steps (the exact count is the controller's business; this only checks the premise).
    for (const a of s.accepted) {
      expect(a).toBeGreaterThanOrEqual(800);
      expect(a).toBeLessThanOrEqual(1300);
    }
    expect(r.counted.mapAsync).toBeLessThanOrEqual(MAX_WAITS);
    expect(r.summary!.hostWaits).toBe(r.counted.mapAsync);
    expect(r.summary!.dispatches).toBeGreaterThanOrEqual(Math.max(...s.accepted) / SPD);
    /*
     * Against the exact rotation. Each of the N ≈ 1,000 steps leaves a local
     * error ≤ atol + rtol·|z| ≈ 1e-7·|z|, and a rotation neither damps nor
     * amplifies them, so the global error is ≤ N·1e-7 ≈ 1e-4 relative (in
     * practice less: dopri5 steps are well inside the tolerance). The time is
     * accumulated over 1,000 float32 steps: a plain float32 sum could drift by
     * up to 1000·ulp(10)/2 ≈ 5e-4, a phase error of ω·5e-4 = 6e-3, so this
     * also bounds the drift of the kernel's (compensated) time sum.
     */
    const { got, want } = gather(p, y, t, allSamples(p.B), (y0) => linearExact(p.W32, y0, t));
    const err = relError(got, want);
    console.log(`[measure] dopri5 rotation ~1000 steps: rel err vs expm ${err.toExponential(2)} (tol 1e-4)`);
    expect(err).toBeLessThan(1e-4);
  });
});

/*
 * A linear spiral f(z) = W z, W = [[0.5, 6], [−6, 0.5]]: the speed |f| = √36.25·|z|
 * grows with |z|. The error norm is mixed, scale = atol + rtol·|z|: a sample
 * with |z0| ≈ 1e-4 is held to ≈ atol = 1e-7 absolute, i.e. 1e-3 relative, one
 * with |z0| ≥ 1 to 1e-6 relative, so the large samples need ≈ (1e3)^(1/5) ≈ 4×
 * more steps. The exact solution is expm(W t) z0.
 */
const SPIRAL = [
  [0.5, 6],
  [-6, 0.5],
];
const spiralY0 = (radii: number[]): number[][] => radii.map((r, b) => [r * Math.cos(0.9 * b + 0.3), r * Math.sin(0.9 * b + 0.3)]);
const EASY = [1e-4, 2e-4, 1e-4];
const HARD = [1, 3, 10];
// Interleaved so easy and hard samples share workgroups: easy at even indices.
const MIXED_RADII = [EASY[0], HARD[0], EASY[1], HARD[1], EASY[2], HARD[2]];
const isEasy = (b: number): boolean => b % 2 === 0;

/**
 * Per-sample error in units of the sample's own tolerance: max |Δ| /
 * (atol + rtol·max |z|). Each of the N ≤ 60 steps leaves a local error ≤ 1 such
 * unit and the spiral grows by e^(0.5·2) ≈ 2.7 over [0, 2], so the global
 * error is ≤ 60·2.7 ≈ 160 units; the bound used is 100 units and the measured
 * values are printed (in practice dopri5 stays well inside its tolerance).
 */
function toleranceUnits(got: readonly number[], want: readonly number[], rtol: number, atol: number): number {
  let num = 0;
  for (let i = 0; i < want.length; i++) num = Math.max(num, Math.abs(got[i] - want[i]));
  return num / (atol + rtol * maxAbs(want));
}
const UNITS_TOL = 100;

describe('per-sample step control', () => {
  it('easy and hard samples in one batch take their own steps, as when solved alone', async () => {
    const p = linearProblem(SPIRAL, spiralY0(MIXED_RADII));
    const t = [0, 0.5, 1, 2];
    const options = { method: 'dopri5' as const, rtol: 1e-6, atol: 1e-7 };
    const { y, r } = await solveOk(harness(), p, t, options);
    const nfe = r.stats!.nfe;
    const easy = allSamples(p.B).filter(isEasy);
    const hard = allSamples(p.B).filter((b) => !isEasy(b));
    const units = allSamples(p.B).map((b) => {
      const { got, want } = gather(p, y, t, [b], (y0) => linearExact(p.W32, y0, t));
      return toleranceUnits(got, want, options.rtol, options.atol);
    });
    // Each sample alone (B = 1): same steps, hence the same nfe.
    const alone: number[] = [];
    for (let b = 0; b < p.B; b++) {
      const single = linearProblem(SPIRAL, [spiralY0(MIXED_RADII)[b]]);
      const { y: y1, r: r1 } = await solveOk(harness(), single, t, options);
      alone.push(r1.stats!.nfe[0]);
      const { got, want } = gather(single, y1, t, [0], (y0) => linearExact(p.W32, y0, t));
      expect(toleranceUnits(got, want, options.rtol, options.atol)).toBeLessThan(UNITS_TOL);
    }
    console.log(
      `[measure] per-sample control: |z0| ${MIXED_RADII.join(', ')} → nfe in batch ${Array.from(nfe).join(', ')}, alone ${alone.join(', ')}; ` +
        `error in tolerance units ${units.map((u) => u.toFixed(2)).join(', ')} (tol ${UNITS_TOL})`,
    );
    expect(Array.from(nfe)).toEqual(alone);
    expect(Math.min(...hard.map((b) => nfe[b]))).toBeGreaterThan(1.5 * Math.max(...easy.map((b) => nfe[b])));
    for (const u of units) expect(u).toBeLessThan(UNITS_TOL);
  });
});

describe('statistics', () => {
  /** Per-sample sums and the maximum of the stats must equal the summary the host read during the solve. */
  function checkTotals(r: Awaited<ReturnType<typeof runSolve>>): void {
    const s = r.stats!;
    const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);
    expect(r.summary!.nfe).toBe(sum(s.nfe));
    expect(r.summary!.accepted).toBe(sum(s.accepted));
    expect(r.summary!.rejected).toBe(sum(s.rejected));
    expect(r.summary!.maxNfe).toBe(Math.max(...s.nfe));
    expect(s.total).toEqual({ nfe: sum(s.nfe), accepted: sum(s.accepted), rejected: sum(s.rejected), maxNfe: Math.max(...s.nfe) });
  }

  it('dopri5 (FSAL, 7 stages): nfe = 2 + 6·(accepted + rejected), with rejected steps', async () => {
    // firstStep = 0.5 is far too long for ω = 6 on the hard samples (ωh = 3): their first attempts are rejected.
    const p = linearProblem(SPIRAL, spiralY0([1e-4, 1, 3, 10, 0.5, 2e-3, 7, 1e-2]));
    const t = [0, 0.4, 1.3, 2];
    for (const firstStep of [undefined, 0.5]) {
      const { y, r } = await solveOk(harness(), p, t, { method: 'dopri5', firstStep });
      const s = r.stats!;
      console.log(
        `[measure] dopri5 stats (firstStep ${firstStep ?? 'auto'}): accepted ${s.accepted.join(', ')}; rejected ${s.rejected.join(', ')}; nfe ${s.nfe.join(', ')}`,
      );
      // f(t0, y0), Hairer's initial-step probe unless firstStep is given, then 6 new stages per attempt.
      const start = firstStep === undefined ? 2 : 1;
      for (let b = 0; b < p.B; b++) expect(s.nfe[b], `sample ${b}`).toBe(start + 6 * (s.accepted[b] + s.rejected[b]));
      if (firstStep !== undefined) expect(s.rejected.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
      checkTotals(r);
      const { got, want } = gather(p, y, t, allSamples(p.B), (y0) => linearExact(p.W32, y0, t));
      for (let b = 0; b < p.B; b++) {
        const g = got.slice(b * t.length * 2, (b + 1) * t.length * 2);
        const w = want.slice(b * t.length * 2, (b + 1) * t.length * 2);
        expect(toleranceUnits(g, w, 1e-6, 1e-7), `sample ${b}`).toBeLessThan(UNITS_TOL);
      }
    }
  });

  it('rk4 (not FSAL): nfe = 1 + 4·accepted, no rejections; tsit5 and bosh3 totals', async () => {
    const p = makeProblem({ layers: [2, 50, 2], B: 100, seed: 4 });
    const t = [0, 0.3, 1];
    const { y, r } = await solveOk(harness(), p, t, { method: 'rk4', stepSize: 0.05 });
    const s = r.stats!;
    expect(s.accepted).toEqual(new Array(p.B).fill(20));
    expect(s.rejected).toEqual(new Array(p.B).fill(0));
    expect(s.nfe).toEqual(new Array(p.B).fill(1 + 4 * 20));
    checkTotals(r);
    const { got, want } = gather(p, y, t, allSamples(p.B), (y0) => solveFixed(p.rhs, TABLEAUX.rk4, y0, t, 0.05));
    expect(relError(got, want)).toBeLessThan(5e-6); // round-off of 20 steps (see solve-methods.test.ts)
    for (const method of ['tsit5', 'bosh3'] as const) {
      const q = makeProblem({ layers: [2, 50, 2], B: 100, seed: 4, paramScale: 2, y0Scale: 2 });
      const { y: yq, r: rq } = await solveOk(harness(), q, t, { method });
      const stagesAfterFirst = TABLEAUX[method].stages - 1;
      rq.stats!.nfe.forEach((n, b) => expect(n).toBe(2 + stagesAfterFirst * (rq.stats!.accepted[b] + rq.stats!.rejected[b])));
      console.log(`[measure] ${method} stats: total ${JSON.stringify(rq.stats!.total)}`);
      checkTotals(rq);
      const g = gather(q, yq, t, allSamples(q.B), (y0) => solveAccurate(q.rhs, y0, t));
      expect(relError(g.got, g.want)).toBeLessThan(5e-5); // adaptive bound (see solve-methods.test.ts)
    }
  });
});
