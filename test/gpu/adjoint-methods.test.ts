/**
 * Gradients of whole solves, method by method: dL/dy0 and dL/dθ of
 * L = Σ_i Σ_b c_ib · y_b(t_i) (random cotangents at every one of 4 output
 * times) through an MLP [2, 50, 2] (tanh), for every adaptive method (bosh3,
 * dopri5, tsit5), forward and reverse time, B = 1 and B = 1,000, against
 * central finite differences of the float64 reference solve; then the
 * fixed-step rk4 backward against the same references.
 *
 * B = 1: every entry of dL/dy0 and dL/dθ (252 parameters) by finite
 * differences. B = 1,000: dL/dy0 on 8 seeded samples, and dL/dθ through 3
 * directional derivatives (L(θ+εv) − L(θ−εv))/2ε vs gθ·v, with v a unit
 * direction on layer 0, on layer 1, and on all parameters
 * (adjoint-helpers.ts). The references do not depend on the method, so each
 * is computed once per time direction.
 *
 * Tolerance GRAD_TOL = 1e-3 relative (norm-wise, `relError`; for the
 * directional derivatives, over the vector of the 3): the acceptance
 * criterion at rtol 1e-6. Expected error: the forward outputs are good to
 * ~5e-5 (solve-methods.test.ts), the backward solve (≈ 10–40 steps, local
 * error ≤ ~1e-6·|[z, a]|) adds ~1e-5–1e-4, float32 round-off ~1e-6, the finite
 * differences ~1e-6. Measured errors are printed ("[adjoint error]").
 *
 * rk4: the continuous adjoint, discretised on the forward solve's grid, is
 * not the derivative of the discrete forward map; both differ from the true
 * gradient by O(h⁴). Problem: parameters ×3, y0 in [−2, 2], t ∈ [0, 1.6],
 * h = 0.2 and 0.1, so the O(h⁴) term stands above float32 round-off. For this
 * very problem the exact gradient of the discrete rk4 map (finite differences
 * of `solveFixed` in float64) is off the true one by 3.5e-4 at h = 0.2 and
 * 1.7e-5 at h = 0.1: that is the size the discretisation error of a gradient
 * takes here, and the adjoint's is of the same order. Tolerances RK4_TOL =
 * 1e-3 (h = 0.2) and 1e-4 (h = 0.1), about 3× and 6× those; and halving h
 * must cut the error by ≥ 8 (order ≥ 3; 16 expected for order 4, less once
 * float32 round-off ~1e-6 matters), i.e. the backward solve converges to the
 * true gradient.
 */
import { describe, expect, it } from 'vitest';
import type { MethodName } from '../../src/methods/tableau';
import {
  batchLoss,
  cotangents,
  dot,
  fdDirectional,
  fdGradTheta,
  fdGradY0,
  gradientOk,
  layerDirections,
  logError,
  rows,
} from './adjoint-helpers';
import { makeProblem, relError } from './problems';
import { allSamples, someSamples, useHarness } from './solve-helpers';

const GRAD_TOL = 1e-3;
const RK4_STEPS = [0.2, 0.1];
const RK4_TOL = [1e-3, 1e-4];
const RTOL = 1e-6;
const ATOL = 1e-7;
const LAYERS = [2, 50, 2];
const ADAPTIVE: MethodName[] = ['bosh3', 'dopri5', 'tsit5'];
const DIRECTIONS = [
  { name: 'forward', t: [0, 0.35, 0.8, 1.2] },
  { name: 'reverse', t: [1, 0.6, 0.15, -0.3] },
];

const harness = useHarness();

/** Lazily computed values, kept for the file (the references are shared by the methods). */
function lazy<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

describe('adaptive methods against finite differences of the float64 reference', () => {
  const p1 = makeProblem({ layers: LAYERS, B: 1, seed: 31 });
  const pK = makeProblem({ layers: LAYERS, B: 1000, seed: 32 });
  const checked = someSamples(pK.B, 8, 33);
  const dirs = layerDirections(LAYERS, 34);

  for (const dir of DIRECTIONS) {
    const T = dir.t.length;
    const c1 = cotangents(T, 1, 2, 35);
    const cK = cotangents(T, pK.B, 2, 36);
    const ref1 = lazy(() => ({ gy0: fdGradY0(p1, p1.y0, dir.t, c1, [0]), gth: fdGradTheta(p1, p1.y0, dir.t, c1) }));
    const refK = lazy(() => ({
      gy0: fdGradY0(pK, pK.y0, dir.t, cK, checked),
      dirs: dirs.map(({ v }) => fdDirectional((q) => batchLoss(pK, q, pK.y0, dir.t, cK), pK.params, v)),
    }));

    for (const method of ADAPTIVE) {
      const options = { method, rtol: RTOL, atol: ATOL };
      it(`${method}, ${dir.name} time, B = 1: every entry of dL/dy0 and dL/dθ`, async () => {
        const { gy0, gth, r } = await gradientOk(harness(), p1, dir.t, options, c1);
        const ref = ref1();
        const e = { gy0: relError(gy0, ref.gy0), gth: relError(gth, ref.gth) };
        logError(`${method} ${dir.name} B=1 (nfe fwd ${r.forward.nfe}, bwd ${r.summary!.nfe})`, e);
        expect(e.gy0).toBeLessThan(GRAD_TOL);
        expect(e.gth).toBeLessThan(GRAD_TOL);
      });

      it(`${method}, ${dir.name} time, B = 1,000: dL/dy0 of 8 samples, dL/dθ along 3 directions`, async () => {
        const { gy0, gth, r } = await gradientOk(harness(), pK, dir.t, options, cK);
        const ref = refK();
        const gpuDirs = dirs.map(({ v }) => dot(gth, v));
        const e = { gy0: relError(rows(gy0, 2, checked), ref.gy0), gthDirectional: relError(gpuDirs, ref.dirs) };
        logError(`${method} ${dir.name} B=1000 (nfe fwd ${r.forward.nfe}, bwd ${r.summary!.nfe}, bwd ms ${Math.round(r.ms)})`, e);
        expect(e.gy0).toBeLessThan(GRAD_TOL);
        expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
      });
    }
  }
});

describe('fixed-step rk4 backward', () => {
  // Parameters ×3 and y0 in [−2, 2]: dynamics strong enough that the O(h⁴)
  // error stands well above float32 round-off at these step sizes.
  const p = makeProblem({ layers: LAYERS, B: 2, seed: 37, paramScale: 3, y0Scale: 2 });
  const t = [0, 0.8, 1.6];
  const c = cotangents(t.length, p.B, 2, 38);
  const dirs = layerDirections(LAYERS, 39);

  it('converges to the finite-difference gradient as O(h^4)', async () => {
    const ref = {
      gy0: fdGradY0(p, p.y0, t, c, allSamples(p.B)),
      dirs: dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, p.y0, t, c), p.params, v)),
    };
    const errors: { h: number; gy0: number; gth: number }[] = [];
    for (const h of RK4_STEPS) {
      const { gy0, gth } = await gradientOk(harness(), p, t, { method: 'rk4', stepSize: h }, c);
      const e = { h, gy0: relError(gy0, ref.gy0), gth: relError(dirs.map(({ v }) => dot(gth, v)), ref.dirs) };
      logError(`rk4 h = ${h}`, { gy0: e.gy0, gthDirectional: e.gth });
      errors.push(e);
    }
    errors.forEach((e, k) => {
      expect(e.gy0).toBeLessThan(RK4_TOL[k]);
      expect(e.gth).toBeLessThan(RK4_TOL[k]);
    });
    const [coarse, fine] = errors;
    expect(coarse.gy0 / fine.gy0).toBeGreaterThan(8);
    expect(coarse.gth / fine.gth).toBeGreaterThan(8);
  });
});
