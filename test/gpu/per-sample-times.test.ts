/**
 * Per-sample output times (`odeint(f, y0, t)` with t as B rows of T times)
 * and the gradients through them: every sample against a float64 solve of
 * that sample alone on its own row, gradients (dL/dy0, dL/dθ along seeded
 * per-layer directions, dL/dt[b][i]) against central differences of those
 * solves in both gradient modes, rows identical to a shared t against the
 * shared path bit for bit, host waits and dispatches, deferred solves, and
 * the argument errors (no dispatch, no submit).
 *
 * The rows mix scales and starting times: sample b runs from t0_b over a span
 * of 0.1 to 3 (SPANS), forwards or backwards; the MLP has the time input, so
 * a wrong row (or a shared t0) changes the result.
 *
 * Tolerances of the forward outputs (relative, `relError`), as in solve-shapes.test.ts:
 *  - FIXED_TOL = 5e-6 against `solveFixed` (rk4, the same grid t0_b + k·h, float64):
 *    round-off only (≤ 60 steps of a 16-wide MLP, a few u = 6e-8 each).
 *  - ADAPTIVE_TOL = 5e-5 against `solveAccurate` (dopri5 at rtol 1e-6, atol 1e-7):
 *    the global error of ≤ 100 steps each with local error ≤ atol + rtol·|y|
 *    ≈ 1e-6, amplified by the flow over spans up to 3.
 * The gradients' tolerance is GRAD_TOL below.
 */
import { describe, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { TABLEAUX } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { at, makeProblem, relError, sampleY0 } from './problems';
import { type SolveResult, useHarness } from './solve-helpers';
import { cotangents, dot, fdDirectional, layerDirections, sampleCotangents, sampleLoss, y0Of } from './adjoint-helpers';
import { decode, encodeF32 } from './wire';

const FIXED_TOL = 5e-6;
const ADAPTIVE_TOL = 5e-5;
const STEP = 0.05;

const harness = useHarness();
const B = 6;
const p = makeProblem({ layers: [3, 16, 2], timeInput: true, B, seed: 5 });
const FRACTIONS = [0, 0.15, 0.5, 0.8, 1];
const SPANS = [0.1, 3, 0.5, 1.7, 0.1, 2.4];
/** Row b: t0_b + span_b·FRACTIONS (forward), or the same times reversed (backward). */
function rows(dir: 1 | -1): number[][] {
  return SPANS.map((span, b) => {
    const t0 = 0.3 * b - 0.5;
    const row = FRACTIONS.map((f) => t0 + span * f);
    return dir > 0 ? row : row.reverse();
  });
}

function solve(t: number[] | number[][], options: OdeintOptions): Promise<SolveResult> {
  return harness().call('solve', { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(p.y0), t, options, stats: true });
}

async function solveOk(t: number[] | number[][], options: OdeintOptions): Promise<{ y: Float32Array | Float64Array; r: SolveResult }> {
  const r = await solve(t, options);
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  const y = decode(r.y!);
  const T = Array.isArray(t[0]) ? (t[0] as number[]).length : t.length;
  expect(y.length).toBe(T * B * p.D);
  return { y, r };
}

describe('per-sample output times against a float64 solve of each sample alone', () => {
  const cases = [
    { method: 'dopri5', dir: 1, options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 }, tol: ADAPTIVE_TOL },
    { method: 'dopri5', dir: -1, options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 }, tol: ADAPTIVE_TOL },
    { method: 'rk4', dir: 1, options: { method: 'rk4', stepSize: STEP }, tol: FIXED_TOL },
    { method: 'rk4', dir: -1, options: { method: 'rk4', stepSize: STEP }, tol: FIXED_TOL },
  ] as const;
  for (const c of cases) {
    it(`${c.method}, ${c.dir > 0 ? 'forward' : 'backward'} rows, spans 0.1 to 3`, async () => {
      const t = rows(c.dir);
      const { y, r } = await solveOk(t, c.options);
      expect(r.stats!.status.every((s) => s === 'done')).toBe(true);
      expect(r.stats!.outputsWritten.every((n) => n === FRACTIONS.length)).toBe(true);
      // Each sample ends at its own last time.
      r.stats!.tReached.forEach((tr, b) => expect(tr).toBe(Math.fround(t[b][FRACTIONS.length - 1])));
      const errs = t.map((row, b) => {
        const ref = c.method === 'rk4' ? solveFixed(p.rhs, TABLEAUX.rk4, sampleY0(p, b), row, STEP) : solveAccurate(p.rhs, sampleY0(p, b), row);
        const got = row.flatMap((_, i) => at(y, B, p.D, i, b));
        return relError(got, ref.flat());
      });
      console.log(
        `[measure] per-sample times ${c.method} ${c.dir > 0 ? 'forward' : 'backward'}: rel err per sample ${errs.map((e) => e.toExponential(2)).join(' ')} (tol ${c.tol}); ` +
          `host waits ${r.summary!.hostWaits}, dispatches ${r.summary!.dispatches}, max nfe ${r.summary!.maxNfe}`,
      );
      for (const e of errs) expect(e).toBeLessThan(c.tol);
      expect(r.summary!.hostWaits).toBe(1);
    });
  }
});

describe('rows equal to a shared t', () => {
  for (const options of [{ method: 'dopri5', rtol: 1e-6, atol: 1e-7 }, { method: 'rk4', stepSize: STEP }] as const) {
    it(`${options.method}: bit-identical to the shared path, the same host waits and dispatches`, async () => {
      const shared = [0.2, 0.5, 1.1, 2];
      const a = await solveOk(shared, options);
      const b = await solveOk(Array.from({ length: B }, () => [...shared]), options);
      expect(Array.from(b.y)).toEqual(Array.from(a.y));
      expect(b.r.summary!.hostWaits).toBe(1);
      expect(a.r.summary!.hostWaits).toBe(1);
      expect(b.r.summary!.dispatches).toBe(a.r.summary!.dispatches);
      const da = await solveOk(shared, { ...options, deferred: true });
      const db = await solveOk(Array.from({ length: B }, () => [...shared]), { ...options, deferred: true });
      expect(Array.from(db.y)).toEqual(Array.from(a.y));
      expect(Array.from(da.y)).toEqual(Array.from(a.y));
      expect(db.r.summary!.hostWaits).toBe(0);
      console.log(
        `[measure] ${options.method} shared vs per-sample rows: host waits ${a.r.summary!.hostWaits} / ${b.r.summary!.hostWaits}, ` +
          `deferred ${da.r.summary!.hostWaits} / ${db.r.summary!.hostWaits}; dispatches ${a.r.summary!.dispatches} / ${b.r.summary!.dispatches}`,
      );
    });
  }

  it('deferred per-sample rows of mixed scales: no host wait, outputs as the waiting solve', async () => {
    const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;
    const w = await solveOk(rows(1), options);
    const d = await solveOk(rows(1), { ...options, deferred: true });
    expect(d.r.summary!.hostWaits).toBe(0);
    expect(Array.from(d.y)).toEqual(Array.from(w.y));
  });
});

describe('argument errors before any GPU work', () => {
  const good = rows(1);
  const bad: [string, number[][] | number[], OdeintOptions, string][] = [
    ['a row not strictly monotonic', good.map((r, b) => (b === 3 ? [r[0], r[2], r[1], r[3], r[4]] : r)), {}, 't[3]'],
    ['a non-finite time', good.map((r, b) => (b === 2 ? [r[0], r[1], Number.NaN, r[3], r[4]] : r)), {}, 't[2][2]'],
    ['a row of the wrong length', good.map((r, b) => (b === 4 ? r.slice(0, 4) : r)), {}, 't[4]'],
    ['rows in different directions', good.map((r, b) => (b === 1 ? [...r].reverse() : r)), {}, 't[1]'],
    ['fewer rows than samples', good.slice(0, B - 1), {}, 't'],
    ['batch step control', good, { stepControl: 'batch' }, 'options.stepControl'],
    ['the lane kernel', good, { kernel: 'lanes' }, 'options.kernel'],
  ];
  for (const [what, t, options, argument] of bad) {
    it(`${what}: ArgumentError naming ${argument}, no dispatch`, async () => {
      const r = await solve(t, options);
      expect(r.error?.name).toBe('ArgumentError');
      expect(r.error?.argument).toBe(argument);
      expect(r.counted.dispatches).toBe(0);
      expect(r.counted.submit).toBe(0);
    });
  }
});

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
  for (const mode of ['adjoint', 'backprop'] as const)
  for (const m of methods) {
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
