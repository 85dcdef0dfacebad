/**
 * Gradients through per-sample output times (`sol.backward` after `odeint`
 * with t as B rows of T times): dL/dy0, dL/dθ (along seeded per-layer
 * directions) and dL/dt[b][i] against central differences of each sample's
 * float64 solve on its own row (test/gpu/adjoint-helpers.ts), in both modes
 * (adjoint: dopri5 and rk4; backprop: dopri5), both time directions, and with
 * each adjoint kernel (one sample per invocation, per workgroup, four lanes);
 * rows equal to a shared t against the shared path (dL/dy0 and dL/dθ bit for
 * bit); host waits; deferred forward and backward.
 *
 * The rows mix scales and starting times (spans 0.1 to 3, GSPANS) and the
 * MLP has the time input, so a wrong row changes every gradient.
 */
import { describe, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { makeProblem, relError } from './problems';
import { useHarness } from './solve-helpers';
import { cotangents, dot, fdDirectional, layerDirections, sampleCotangents, sampleLoss, y0Of } from './adjoint-helpers';
import { decode, encodeF32 } from './wire';

const harness = useHarness();

describe('gradients on per-sample times against central differences of each sample\'s float64 solve', () => {
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
  // Backprop on dopri5 only: its fixed-step replay reads the row the same way (the row's t0 and end), and
  // each backprop module costs seconds of SwiftShader compilation; rk4 is covered by the adjoint.
  for (const mode of ['adjoint', 'backprop'] as const) {
    for (const m of mode === 'adjoint' ? methods : methods.slice(0, 1)) {
      for (const dir of [1, -1] as const) {
        it(`${mode}, ${m.name}, ${dir > 0 ? 'forward' : 'backward'} rows: dL/dy0, dL/dθ, dL/dt[b][i]; one host wait forward, one backward`, async () => {
          const t = gradRows(dir);
          const r = await gradient(t, m.options, { mode });
          expect(r.gpuErrors).toEqual([]);
          expect(r.error).toBeNull();
          const gy0 = decode(r.gy0!);
          const gth = decode(r.gth!);
          const gt = decode(r.gt!);
          expect(gt.length).toBe(q.B * T);
          const ref = reference(dir);
          const eY0 = relError(gy0, ref.y0);
          const eT = relError(gt, ref.t);
          const eTh = relError(dirs.map(({ v }) => dot(gth, v)), ref.theta);
          console.log(
            `[measure] per-sample times gradients, ${mode} ${m.name} ${dir > 0 ? 'forward' : 'backward'}: rel err dL/dy0 ${eY0.toExponential(2)}, ` +
              `dL/dθ (${dirs.length} directions) ${eTh.toExponential(2)}, dL/dt ${eT.toExponential(2)} (tol ${GRAD_TOL}); host waits forward ${r.forward.hostWaits}, backward ${r.summary!.hostWaits}`,
          );
          expect(eY0).toBeLessThan(GRAD_TOL);
          expect(eTh).toBeLessThan(GRAD_TOL);
          expect(eT).toBeLessThan(GRAD_TOL);
          expect(r.forward.hostWaits).toBe(1);
          expect(r.summary!.hostWaits).toBe(1);
        });
      }
    }
  }

  it('the workgroup and lane adjoint kernels on per-sample rows, both directions: against the same differences', async () => {
    for (const [kernel, dir] of [['workgroup', 1], ['workgroup', -1], ['lanes', 1], ['lanes', -1]] as const) {
      const r = await gradient(gradRows(dir), { method: 'dopri5', rtol: 1e-6, atol: 1e-7 }, { kernel });
      expect(r.gpuErrors).toEqual([]);
      expect(r.error).toBeNull();
      const ref = reference(dir);
      const eY0 = relError(decode(r.gy0!), ref.y0);
      const eT = relError(decode(r.gt!), ref.t);
      const eTh = relError(
        dirs.map(({ v }) => dot(decode(r.gth!), v)),
        ref.theta,
      );
      console.log(
        `[measure] per-sample times gradients, adjoint ${kernel} kernel dopri5 ${dir > 0 ? 'forward' : 'backward'}: rel err dL/dy0 ${eY0.toExponential(2)}, dL/dθ ${eTh.toExponential(2)}, dL/dt ${eT.toExponential(2)} (tol ${GRAD_TOL}); backward host waits ${r.summary!.hostWaits}`,
      );
      expect(eY0).toBeLessThan(GRAD_TOL);
      expect(eTh).toBeLessThan(GRAD_TOL);
      expect(eT).toBeLessThan(GRAD_TOL);
      expect(r.summary!.hostWaits).toBe(1);
    }
  });

  it('rows equal to a shared t: dL/dy0 and dL/dθ bit-identical to the shared path, dL/dt[b][i] summing to its dL/dt', async () => {
    const shared = [0.1, 0.6, 1.2, 1.5];
    const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;
    const a = await gradient(shared, options, { kernel: 'invocation' });
    const b = await gradient(Array.from({ length: q.B }, () => [...shared]), options);
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(Array.from(decode(b.gy0!))).toEqual(Array.from(decode(a.gy0!)));
    expect(Array.from(decode(b.gth!))).toEqual(Array.from(decode(a.gth!)));
    const gtRows = decode(b.gt!);
    const summed = shared.map((_, i) => Array.from({ length: q.B }, (_, s) => gtRows[s * T + i]).reduce((x, y) => x + y, 0));
    const e = relError(summed, decode(a.gt!));
    console.log(`[measure] per-sample rows equal to shared t: Σ_b dL/dt[b][i] against shared dL/dt rel ${e.toExponential(2)}; backward host waits ${a.summary!.hostWaits} / ${b.summary!.hostWaits}, dispatches ${a.summary!.dispatches} / ${b.summary!.dispatches}`);
    // The same terms summed in another order (the shared path's two-pass reduction).
    expect(e).toBeLessThan(1e-6);
    expect(b.summary!.hostWaits).toBe(a.summary!.hostWaits);
  });

  it('deferred forward and backward on per-sample times: no host wait, the waiting solve\'s gradients', async () => {
    const t = gradRows(1);
    const r = await harness().call('deferred', {
      mlp: q.mlp,
      params: encodeF32(q.params),
      y0: encodeF32(q.y0),
      t,
      options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 },
      dLdy: encodeF32(c),
    });
    expect(r.counted.mapAsync).toBe(0);
    expect(r.hostWaits).toBe(0);
    expect(r.checks.forward).toBeNull();
    expect(r.checks.backward).toBeNull();
    for (const k of ['y', 'gy0', 'gth', 'gt'] as const) expect(Array.from(decode(r.deferred[k]))).toEqual(Array.from(decode(r.waiting![k])));
  });

});
