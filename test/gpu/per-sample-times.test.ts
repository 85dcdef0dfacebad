/**
 * Per-sample output times (`odeint(f, y0, t)` with t as B rows of T times):
 * every sample against a float64 solve of that sample alone on its own row,
 * rows identical to a shared t against the shared path bit for bit, host
 * waits and dispatches, deferred solves, and the argument errors (no
 * dispatch, no submit). The gradients through per-sample times are tested in
 * per-sample-times-gradients.test.ts.
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
 */
import { describe, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { TABLEAUX } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { at, makeProblem, relError, sampleY0 } from './problems';
import { type SolveResult, useHarness } from './solve-helpers';
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

describe('times as a Tensor [B, T]', () => {
  it('the same outputs as the rows given as arrays; one host wait more (the read of the times)', async () => {
    const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;
    const a = await solveOk(rows(1), options);
    const r = await harness().call('solve', { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(p.y0), t: rows(1), tAsTensor: true, options, stats: false });
    expect(r.error).toBeNull();
    expect(Array.from(decode(r.y!))).toEqual(Array.from(a.y));
    expect(r.summary!.hostWaits).toBe(2);
    const bad = await harness().call('solve', {
      mlp: p.mlp,
      params: encodeF32(p.params),
      y0: encodeF32(p.y0),
      t: rows(1).map((row, b) => (b === 5 ? [row[0], row[0], ...row.slice(2)] : row)),
      tAsTensor: true,
      options,
    });
    expect(bad.error?.name).toBe('ArgumentError');
    expect(bad.error?.argument).toBe('t[5]');
    expect(bad.counted.dispatches).toBe(0);
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
