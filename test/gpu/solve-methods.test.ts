/**
 * Forward solves, method by method: every built-in method (euler, midpoint,
 * rk4, rk38 on a fixed grid; bosh3, dopri5, tsit5 adaptive) forward and
 * backward in time, with and without the time input, at output times on and
 * between grid points, against the float64 CPU reference; edge cases of the
 * time grid (one output time, the merge rule near t_end, t0 ≠ 0, one attempt
 * per dispatch); the linear field f(z) = W z against its exact solution
 * expm(W t) z0; and the dense output against solves whose last step lands
 * exactly on each output time.
 *
 * Tolerances (relative, `relError`: max |Δ| / max |reference|):
 *  - FIXED_TOL: a fixed-step GPU solve against `solveFixed` of the same method
 *    on the same grid. The two compute the same numbers, one in float32, one in
 *    float64, so they differ by round-off only: every step adds a few units of
 *    float32 round-off u = 6e-8 (the stage sums, the 50-term MLP sums, the grid
 *    times rounded to float32), ≤ 15 steps here, so ≈ 15·2u ≈ 2e-6.
 *    (Measured: ≤ 2.3e-7.)
 *  - ADAPTIVE_TOL: an adaptive GPU solve at rtol 1e-6, atol 1e-7 against
 *    `solveAccurate` (dopri5 at 1e-12). The controller keeps each step's local
 *    error below atol + rtol·|y| ≈ 1e-6 (|y| ≈ 1), the solves here take ≤ 36
 *    steps (7–32 for the MLPs, 19–36 for the linear fields) and the flows
 *    amplify earlier errors by ≤ e^(L·T) ≈ 1.4, so the global error stays
 *    below ≈ 36·1e-6·1.4 ≈ 5e-5. (Measured: ≤ 6e-7.)
 */
import { describe, expect, it } from 'vitest';
import { TABLEAUX, type MethodName } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { at, makeProblem, relError } from './problems';
import { type SolveResult, allSamples, gather, linearExact, linearProblem, solveOk, useHarness } from './solve-helpers';

const FIXED_TOL = 2e-6;
const ADAPTIVE_TOL = 5e-5;
const RTOL = 1e-6;
const ATOL = 1e-7;

const FIXED: MethodName[] = ['euler', 'midpoint', 'rk4', 'rk38'];
const ADAPTIVE: MethodName[] = ['bosh3', 'dopri5', 'tsit5'];

/**
 * Function evaluations a correct implementation spends per sample, written
 * out per method: f(t0, y0) once; adaptive methods without `firstStep` one
 * more for Hairer's initial-step probe; then per attempt the stages after the
 * first (FSAL: the last stage is f at the new point, reused as the next
 * step's first); non-FSAL methods one more per accepted step, f(t_{n+1},
 * y_{n+1}), which the Hermite dense output needs and the next step reuses.
 */
const NFE: Record<MethodName, (acc: number, rej: number) => number> = {
  euler: (acc) => 1 + 1 * acc,
  midpoint: (acc) => 1 + 2 * acc,
  rk4: (acc) => 1 + 4 * acc,
  rk38: (acc) => 1 + 4 * acc,
  bosh3: (acc, rej) => 2 + 3 * (acc + rej),
  dopri5: (acc, rej) => 2 + 6 * (acc + rej),
  tsit5: (acc, rej) => 2 + 6 * (acc + rej),
};

/** Checks the per-sample statistics every successful solve must satisfy. */
function checkStats(r: SolveResult, B: number, T: number, method: MethodName): void {
  const s = r.stats!;
  expect(s.status).toEqual(new Array(B).fill('done'));
  expect(s.outputsWritten).toEqual(new Array(B).fill(T));
  for (let b = 0; b < B; b++) expect(s.nfe[b], `nfe of sample ${b}`).toBe(NFE[method](s.accepted[b], s.rejected[b]));
  if (!TABLEAUX[method].adaptive) expect(s.rejected).toEqual(new Array(B).fill(0));
}

const harness = useHarness();

describe('every method against the float64 reference', () => {
  const STEP = 0.1;
  // Forward: 0.5 and 1.2 are grid points (k·0.1), 0.13 and 0.77 are not.
  // Backward: 0.3 is a grid point (1 − 7·0.1), 0.63 is not, and the grid
  // overshoots −0.25 (1 − 13·0.1 = −0.3), so the last step is shortened to 0.05.
  const DIRECTIONS = [
    { name: 'forward', t: [0, 0.13, 0.5, 0.77, 1.2], gridSteps: 12 },
    { name: 'backward', t: [1, 0.63, 0.3, -0.25], gridSteps: 13 },
  ];
  const B = 16;
  for (const timeInput of [false, true]) {
    const p = makeProblem({ layers: timeInput ? [3, 50, 2] : [2, 50, 2], timeInput, B, seed: 3 });
    for (const method of [...FIXED, ...ADAPTIVE]) {
      for (const dir of DIRECTIONS) {
        const adaptive = TABLEAUX[method].adaptive;
        it(`${method}, ${dir.name}, timeInput ${timeInput}`, async () => {
          const options = adaptive ? { method, rtol: RTOL, atol: ATOL } : { method, stepSize: STEP };
          const { y, r } = await solveOk(harness(), p, dir.t, options);
          checkStats(r, B, dir.t.length, method);
          if (!adaptive) expect(r.stats!.accepted).toEqual(new Array(B).fill(dir.gridSteps));
          const { got, want } = gather(p, y, dir.t, allSamples(B), (y0) =>
            adaptive ? solveAccurate(p.rhs, y0, dir.t) : solveFixed(p.rhs, TABLEAUX[method], y0, dir.t, STEP),
          );
          const err = relError(got, want);
          console.log(`[measure] ${method} ${dir.name} timeInput=${timeInput}: rel err ${err.toExponential(2)} (tol ${adaptive ? ADAPTIVE_TOL : FIXED_TOL}), accepted ${r.stats!.total.accepted / B} per sample`);
          expect(err).toBeLessThan(adaptive ? ADAPTIVE_TOL : FIXED_TOL);
        });
      }
    }
  }
});

describe('edge cases of the time grid', () => {
  const B = 8;
  const p = makeProblem({ layers: [3, 50, 2], timeInput: true, B, seed: 9 });

  it('a single output time: y = y0, no function evaluation', async () => {
    for (const options of [{ method: 'dopri5' as const }, { method: 'rk4' as const, stepSize: 0.1 }]) {
      const { y, r } = await solveOk(harness(), p, [0.7], options);
      expect(Array.from(y)).toEqual(Array.from(p.y0));
      expect(r.stats!.status).toEqual(new Array(B).fill('done'));
      expect(r.stats!.nfe).toEqual(new Array(B).fill(0));
      expect(r.stats!.accepted).toEqual(new Array(B).fill(0));
    }
  });

  // The grid rule: steps end at t0 + k·h; a step that would end within 1e-4·h
  // of t_end is merged into the last one (so no sliver step), otherwise a
  // last short step ends exactly at t_end. t0 = 5 (not 0) and a time input, so
  // the grid's time values matter.
  for (const c of [
    { name: 'end 5e-6 past a grid point: merged', t: [5, 5.55, 6.000005], steps: 10 },
    { name: 'end 2e-4 past a grid point: one more short step', t: [5, 5.55, 6.0002], steps: 11 },
    { name: 'end 0.05 before a grid point, backward', t: [5, 4.43, 3.95], steps: 11 },
  ]) {
    it(`rk4, h = 0.1, ${c.name}`, async () => {
      const { y, r } = await solveOk(harness(), p, c.t, { method: 'rk4', stepSize: 0.1 });
      checkStats(r, B, c.t.length, 'rk4');
      expect(r.stats!.accepted).toEqual(new Array(B).fill(c.steps));
      const { got, want } = gather(p, y, c.t, allSamples(B), (y0) => solveFixed(p.rhs, TABLEAUX.rk4, y0, c.t, 0.1));
      const err = relError(got, want);
      console.log(`[measure] grid edge (${c.name}): rel err vs solveFixed ${err.toExponential(2)} (tol ${FIXED_TOL})`);
      expect(err).toBeLessThan(FIXED_TOL);
    });
  }

  it('dopri5 with one step attempt per dispatch matches the reference', async () => {
    const t = [5, 5.4, 6];
    const { y, r } = await solveOk(harness(), p, t, { method: 'dopri5', stepsPerDispatch: 1 });
    checkStats(r, B, t.length, 'dopri5');
    expect(r.summary!.dispatches).toBeGreaterThanOrEqual(Math.max(...r.stats!.accepted));
    const { got, want } = gather(p, y, t, allSamples(B), (y0) => solveAccurate(p.rhs, y0, t));
    expect(relError(got, want)).toBeLessThan(ADAPTIVE_TOL);
  });
});

describe('f(z) = W z (one Linear layer, identity activation) against expm(W t) z0', () => {
  // A damped rotation (eigenvalues −0.1 ± 2i) and a 3×3 matrix with mixed
  // real and complex eigenvalues, some with positive real part.
  const W2 = [
    [-0.1, 2],
    [-2, -0.1],
  ];
  const W3 = [
    [-0.5, 1, 0.2],
    [-1, -0.3, 0.5],
    [0.1, -0.4, 0.2],
  ];
  const y0For = (D: number, B: number): number[][] =>
    Array.from({ length: B }, (_, b) => Array.from({ length: D }, (_, d) => Math.sin(1.7 * b + 2.3 * d + 0.4)));
  const DIRECTIONS = [
    { name: 'forward', t: [0, 0.3, 1, 2.5] },
    { name: 'backward', t: [2.5, 1.7, 0.4, -0.5] },
  ];
  // rk4 with h = 0.025 on |λ| ≤ 2: global truncation error ≈ T·|λ|^5·h^4/120 ≈ 3·32·4e-7/120
  // ≈ 3e-7; round-off over 120 steps in float32 ≲ 120·2u·(growth ≤ 2) ≈ 3e-5 worst case, but it
  // adds up like a random walk (√120·2u ≈ 1.3e-6), so 1e-5 leaves room while a wrong stage
  // coefficient (an O(h) or O(h²) error ≥ 1e-3) fails.
  const RK4_STEP = 0.025;
  const RK4_TOL = 1e-5;
  for (const [name, W] of [
    ['2×2', W2],
    ['3×3', W3],
  ] as const) {
    const p = linearProblem(
      W.map((r) => [...r]),
      y0For(W.length, 8),
    );
    for (const dir of DIRECTIONS) {
      for (const method of ['dopri5', 'rk4'] as const) {
        it(`${name}, ${method}, ${dir.name}`, async () => {
          const options = method === 'dopri5' ? { method, rtol: RTOL, atol: ATOL } : { method, stepSize: RK4_STEP };
          const { y, r } = await solveOk(harness(), p, dir.t, options);
          checkStats(r, p.B, dir.t.length, method);
          const { got, want } = gather(p, y, dir.t, allSamples(p.B), (y0) => linearExact(p.W32, y0, dir.t));
          const err = relError(got, want);
          const tol = method === 'dopri5' ? ADAPTIVE_TOL : RK4_TOL;
          console.log(`[measure] linear ${name} ${method} ${dir.name}: rel err vs expm ${err.toExponential(2)} (tol ${tol}), accepted ${r.stats!.total.accepted / p.B} per sample`);
          expect(err).toBeLessThan(tol);
        });
      }
    }
  }
});

describe('dense output', () => {
  const B = 16;
  const p = makeProblem({ layers: [2, 50, 2], B, seed: 5 });
  // Output times none of which a step would hit by chance.
  const FORWARD = [0, 0.05, 0.11, 0.2, 0.31, 0.45, 0.5, 0.62, 0.8, 0.93, 1.07, 1.2];
  const BACKWARD = [1.2, 1.13, 0.97, 0.8, 0.64, 0.5, 0.41, 0.26, 0.1, 0.03, -0.1];
  /*
   * With firstStep = 0.02 (below the first output interval) the solve with all
   * the output times and the solve that ends at t_i take the very same steps
   * up to the step that reaches t_i: there the first interpolates, the second
   * shortens its step to land exactly on t_i. Both are then one step's local
   * error away from the true local solution, and the controller keeps a full
   * step's local error below atol + rtol·|y| ≈ 1e-6 (RMS over D = 2, so ≤
   * 1.5e-6 per component); the interpolants (order 4 for dopri5 and tsit5, the
   * cubic Hermite for bosh3) are as accurate as the step they interpolate. So
   * they differ by ≲ 2·1.5e-6 ≈ 3e-6; DENSE_TOL = 1e-5 leaves a factor 3, and a
   * wrong dense coefficient (an O(h) error ≈ 1e-2) fails.
   */
  const DENSE_TOL = 1e-5;
  const cases: { method: MethodName; t: number[] }[] = [
    { method: 'bosh3', t: FORWARD },
    { method: 'dopri5', t: FORWARD },
    { method: 'tsit5', t: FORWARD },
    { method: 'dopri5', t: BACKWARD },
  ];
  for (const { method, t } of cases) {
    const dirName = t[1] > t[0] ? 'forward' : 'backward';
    it(`${method} ${dirName}: interpolated outputs match solves that land on each output time`, async () => {
      const options = { method, rtol: RTOL, atol: ATOL, firstStep: 0.02 };
      const { y, r } = await solveOk(harness(), p, t, options);
      expect(r.stats!.status).toEqual(new Array(B).fill('done'));
      const dense: number[] = [];
      const landed: number[] = [];
      for (let i = 1; i < t.length; i++) {
        const { y: yi, r: ri } = await solveOk(harness(), p, [t[0], t[i]], options);
        expect(ri.stats!.status).toEqual(new Array(B).fill('done'));
        for (let b = 0; b < B; b++) {
          dense.push(...at(y, B, p.D, i, b));
          landed.push(...at(yi, B, p.D, 1, b));
        }
      }
      const diff = relError(dense, landed);
      // And both against the truth.
      const truth = gather(p, y, t, allSamples(B), (y0) => solveAccurate(p.rhs, y0, t));
      const errTruth = relError(truth.got, truth.want);
      console.log(`[measure] dense ${method} ${dirName}: dense vs landed ${diff.toExponential(2)} (tol ${DENSE_TOL}), dense vs truth ${errTruth.toExponential(2)} (tol ${ADAPTIVE_TOL}), accepted ${r.stats!.total.accepted / B} per sample`);
      expect(diff).toBeLessThan(DENSE_TOL);
      expect(errTruth).toBeLessThan(ADAPTIVE_TOL);
    });
  }

  // Fixed grid h = 0.1 on [0, 1], 40 outputs all strictly between grid points:
  // the cubic Hermite interpolant through (y_n, f_n) and (y_{n+1}, f_{n+1}),
  // which solveFixed evaluates in float64 from the same tableau data.
  const BETWEEN = [0, ...Array.from({ length: 40 }, (_, i) => 0.0125 + 0.025 * i), 1];
  for (const method of ['euler', 'rk4'] as const) {
    it(`${method}: Hermite outputs between grid points match solveFixed`, async () => {
      const { y, r } = await solveOk(harness(), p, BETWEEN, { method, stepSize: 0.1 });
      checkStats(r, B, BETWEEN.length, method);
      expect(r.stats!.accepted).toEqual(new Array(B).fill(10));
      const { got, want } = gather(p, y, BETWEEN, allSamples(B), (y0) => solveFixed(p.rhs, TABLEAUX[method], y0, BETWEEN, 0.1));
      const err = relError(got, want);
      console.log(`[measure] Hermite ${method}: rel err vs solveFixed ${err.toExponential(2)} (tol ${FIXED_TOL})`);
      expect(err).toBeLessThan(FIXED_TOL);
    });
  }
});
