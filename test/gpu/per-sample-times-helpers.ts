/**
 * The problem, rows, cotangents and float64 references shared by the GPU
 * tests of gradients through per-sample output times
 * (per-sample-times-gradients.test.ts, per-sample-times-kernels.test.ts):
 * L = Σ_b Σ_i c_ib · y_b(t[b][i]) on B = 4 rows of mixed scales (spans 0.1
 * to 3, each starting at its own time), an MLP with the time input, and
 * central differences of each sample's float64 solve on its own row
 * (test/gpu/adjoint-helpers.ts) for dL/dy0, dL/dt[b][i] and dL/dθ along
 * seeded per-layer directions.
 */
import type { OdeintOptions } from '../../src/index';
import type { Harness } from './browser';
import { makeProblem } from './problems';
import { cotangents, fdDirectional, layerDirections, sampleCotangents, sampleLoss, y0Of } from './adjoint-helpers';
import { encodeF32 } from './wire';

export function perSampleGradientSetup(harness: () => Harness) {
  // A smaller problem for the finite differences (each a float64 solve at 1e-12).
  const q = makeProblem({ layers: [3, 8, 2], timeInput: true, B: 4, seed: 21 });
  const GSPANS = [0.1, 3, 0.6, 1.5];
  const GFRACTIONS = [0, 0.4, 0.7, 1];
  const T = GFRACTIONS.length;
  const gradRows = (dir: 1 | -1) =>
    GSPANS.map((span, b) => {
      const row = GFRACTIONS.map((f) => 0.25 * b - 0.3 + span * f);
      return dir > 0 ? row : row.reverse();
    });
  const c = cotangents(T, q.B, q.D, 5);
  const cb = (b: number) => sampleCotangents(c, T, q.B, q.D, b);
  const EPS = 1e-5;
  /**
   * Tolerance of every gradient, relative and norm-wise: the float32 adjoint
   * at rtol 1e-6 (rk4 at h = 0.01: truncation ~1e-8) against float64 central
   * differences good to ~1e-6 (test/gpu/adjoint-helpers.ts); measured ≤ 7e-7.
   */
  const GRAD_TOL = 1e-4;

  function fdY0(t: number[][]): number[] {
    return t.flatMap((row, b) =>
      Array.from({ length: q.D }, (_, d) => {
        const plus = y0Of(q.y0, q.D, b);
        const minus = y0Of(q.y0, q.D, b);
        plus[d] += EPS;
        minus[d] -= EPS;
        return (sampleLoss(q.rhs, plus, row, cb(b)) - sampleLoss(q.rhs, minus, row, cb(b))) / (2 * EPS);
      }),
    );
  }
  function fdT(t: number[][]): number[] {
    return t.flatMap((row, b) =>
      row.map((_, i) => {
        const plus = [...row];
        const minus = [...row];
        plus[i] += EPS;
        minus[i] -= EPS;
        return (sampleLoss(q.rhs, y0Of(q.y0, q.D, b), plus, cb(b)) - sampleLoss(q.rhs, y0Of(q.y0, q.D, b), minus, cb(b))) / (2 * EPS);
      }),
    );
  }
  const loss = (t: number[][]) => (params: Float64Array) => t.reduce((L, row, b) => L + sampleLoss(q.rhsWith(params), y0Of(q.y0, q.D, b), row, cb(b)), 0);

  async function gradient(t: number[] | number[][], options: OdeintOptions, backward = {}) {
    return harness().call('gradient', {
      mlp: q.mlp,
      params: encodeF32(q.params),
      y0: encodeF32(q.y0),
      t,
      options,
      dLdy: encodeF32(c),
      backward,
    });
  }

  const methods = [
    { name: 'dopri5', options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } },
    { name: 'rk4', options: { method: 'rk4', stepSize: 0.01 } },
  ] as const;
  // The references depend on the rows only: computed once per direction.
  const references = new Map<number, { y0: number[]; t: number[]; theta: number[] }>();
  const dirs = layerDirections(q.mlp.layers, 3);
  const reference = (dir: 1 | -1) => {
    let ref = references.get(dir);
    if (!ref) {
      const t = gradRows(dir);
      ref = { y0: fdY0(t), t: fdT(t), theta: dirs.map(({ v }) => fdDirectional(loss(t), q.params, v)) };
      references.set(dir, ref);
    }
    return ref;
  };
  return { q, T, gradRows, GRAD_TOL, gradient, methods, dirs, reference, c };
}
