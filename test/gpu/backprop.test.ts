/**
 * `mode: 'backprop'`: exact gradients of the forward discretisation.
 *
 * Fixed step (rk4, euler, midpoint): compared with central finite differences
 * of the float64 reference `solveFixed` on the same grid — the discrete
 * solution is a smooth function of y0 and θ, so its finite differences (ε =
 * 1e-5, error ~ε² ≈ 1e-10) are the exact discrete gradient; the GPU works in
 * float32, so we allow 2e-5 relative (a few hundred ulps accumulated over the
 * steps and stages). Against the continuous adjoint on the same coarse grid
 * the gap is the O(h^p) discretisation difference, which backprop must not
 * have.
 *
 * Adaptive (dopri5, tsit5, bosh3): the step sequence is the controller's, so
 * no independent discrete reference exists; the gradients must agree with
 * finite differences of the accurate float64 solution to the solver's
 * accuracy (1e-3 relative at rtol 1e-6), like the adjoint's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { solveAccurate, solveFixed } from '../reference/solve';
import { TABLEAUX } from '../../src/methods/tableau';
import { gradientArgs } from './adjoint-helpers';
import { type Harness, openHarness } from './browser';
import { type MlpProblem, makeProblem, relError } from './problems';
import { decode } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

type Solver = (rhs: ReturnType<MlpProblem['rhsWith']>, y0: number[], t: number[]) => number[][];

function fdGradients(p: MlpProblem, t: number[], c: Float32Array, solve: Solver) {
  const T = t.length;
  const loss = (params: ArrayLike<number>, y0: Float64Array) => {
    const rhs = p.rhsWith(params);
    let L = 0;
    for (let b = 0; b < p.B; b++) {
      const ys = solve(rhs, Array.from(y0.subarray(b * p.D, (b + 1) * p.D)), t);
      for (let i = 0; i < T; i++) for (let d = 0; d < p.D; d++) L += c[(i * p.B + b) * p.D + d] * ys[i][d];
    }
    return L;
  };
  const eps = 1e-5;
  const y0 = Float64Array.from(p.y0);
  const th = Float64Array.from(p.params);
  const central = (v: Float64Array, k: number, f: (x: Float64Array) => number) => {
    const a = Float64Array.from(v);
    const b = Float64Array.from(v);
    a[k] += eps;
    b[k] -= eps;
    return (f(a) - f(b)) / (2 * eps);
  };
  const gy0 = Array.from(y0, (_, k) => central(y0, k, (x) => loss(th, x)));
  const gth = Array.from(th, (_, k) => central(th, k, (x) => loss(x, y0)));
  return { gy0, gth };
}

for (const method of ['rk4', 'midpoint', 'euler'] as const) {
  it(`${method}: backprop equals finite differences of the same discrete solve`, async () => {
    const p = makeProblem({ layers: [3, 12, 2], timeInput: true, B: 3, seed: 5 });
    const t = [0, 0.35, 0.8, 1.3];
    const stepSize = 0.1;
    const rng = makeRng(11);
    const c = Float32Array.from({ length: t.length * p.B * p.D }, () => 2 * rng() - 1);
    const args = gradientArgs(p, t, { method, stepSize }, c);
    const bp = await h.call('gradient', { ...args, backward: { mode: 'backprop' } });
    expect(bp.gpuErrors).toEqual([]);
    expect(bp.error).toBeNull();
    const ref = fdGradients(p, t, c, (rhs, y0, ts) => solveFixed(rhs, TABLEAUX[method], y0, ts, stepSize));
    const e1 = relError(decode(bp.gy0!), ref.gy0);
    const e2 = relError(decode(bp.gth!), ref.gth);
    console.log(method, 'backprop vs discrete FD: gy0', e1, 'gθ', e2);
    expect(e1).toBeLessThan(2e-5);
    expect(e2).toBeLessThan(2e-5);
    // The continuous adjoint on the same grid carries the O(h^p) gap that
    // backprop does not; visible for the low-order methods (rk4's gap at
    // h = 0.1 is below float32 round-off here).
    if (method === 'rk4') return;
    const adj = await h.call('gradient', args);
    expect(adj.error).toBeNull();
    const gap = relError(decode(adj.gth!), ref.gth);
    console.log(method, 'adjoint vs discrete FD: gθ', gap);
    expect(gap).toBeGreaterThan(20 * e2);
  });
}

for (const method of ['dopri5', 'tsit5', 'bosh3'] as const) {
  it(`${method}: backprop agrees with finite differences of the accurate solution`, async () => {
    const p = makeProblem({ layers: [2, 16, 2], B: 2, seed: 9 });
    const t = [0, 0.5, 1.2];
    const rng = makeRng(13);
    const c = Float32Array.from({ length: t.length * p.B * p.D }, () => 2 * rng() - 1);
    const r = await h.call('gradient', {
      ...gradientArgs(p, t, { method, rtol: 1e-6, atol: 1e-7 }, c),
      backward: { mode: 'backprop' },
    });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error).toBeNull();
    const ref = fdGradients(p, t, c, (rhs, y0, ts) => solveAccurate(rhs, y0, ts));
    const e1 = relError(decode(r.gy0!), ref.gy0);
    const e2 = relError(decode(r.gth!), ref.gth);
    console.log(method, 'backprop vs accurate FD: gy0', e1, 'gθ', e2, JSON.stringify(r.summary));
    expect(e1).toBeLessThan(1e-3);
    expect(e2).toBeLessThan(1e-3);
  });
}
