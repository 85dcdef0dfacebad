/**
 * How forward solves fail: numerical failures carried as data from the GPU
 * (non-finite values, maxSteps exhausted) and raised as OdeSolveError naming
 * each failing sample, its kind and the time it reached, with the finished
 * samples' outputs intact; and bad arguments, rejected with an ArgumentError
 * naming the argument before any GPU work (no submit, no map, no dispatch, no
 * pipeline, no buffer left behind).
 *
 * Tolerances: outputs that must be valid are compared with the exact solution
 * of a linear field or with `solveFixed`, with the same justified bounds as
 * solve-methods.test.ts (FIXED_TOL: float32 round-off of ≤ 100 steps;
 * ADAPTIVE_UNITS: global error in units of the sample's own tolerance).
 * Times reached are float32 numbers: compared with 2 float32 ulps.
 */
import { describe, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { TABLEAUX } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { at, makeProblem, relError, sampleY0 } from './problems';
import { allSamples, gather, linearExact, linearProblem, maxAbs, runSolve, useHarness } from './solve-helpers';
import { decode, encodeF64 } from './wire';

const harness = useHarness();

/** round-off of ≤ 100 fixed steps (see solve-methods.test.ts: ≈ 1e-7 per 10 steps measured). */
const FIXED_TOL = 1e-5;
/** Adaptive global error bound, in units of atol + rtol·max|y| (see solve-properties.test.ts). */
const ADAPTIVE_UNITS = 100;
/** Two float32 ulps of a time of size ≤ 2. */
const TIME_TOL = 2 * 2 ** -22;

describe('non-finite values', () => {
  const t = [0, 0.5, 1];
  const B = 5;
  const p = makeProblem({ layers: [2, 50, 2], B, seed: 6 });
  // Layout [2, 50, 2]: W1 [50×2] at 0, b1 [50] at 100, W2 [2×50] at 150, b2 [2] at 250.
  /** Solves with one parameter set to NaN and checks that every sample fails 'nonfinite' at t0. */
  async function expectNonfinite(q: ReturnType<typeof makeProblem>, index: number, options: OdeintOptions): Promise<void> {
    const params = q.params.slice();
    params[index] = NaN;
    const r = await runSolve(harness(), q, t, options, { params });
    expect(r.gpuErrors).toEqual([]);
    const yEnd = r.y ? Array.from(decode(r.y).slice(2 * q.B * q.D, 2 * q.B * q.D + 2)) : [];
    expect(r.error, `the solve succeeded; sample 0 at t = 1: [${yEnd.join(', ')}]`).not.toBeNull();
    expect(r.error!.name).toBe('OdeSolveError');
    expect(r.error!.failures).toEqual(allSamples(q.B).map((sample) => ({ sample, kind: 'nonfinite', t: 0 })));
    expect(r.error!.message).toContain('sample 0: nonfinite at t = 0');
    expect(r.stats!.status).toEqual(new Array(q.B).fill('nonfinite'));
    // Only y0 (row 0) was written, and it is y0.
    expect(r.stats!.outputsWritten).toEqual(new Array(q.B).fill(1));
    expect(Array.from(decode(r.y!).slice(0, q.B * q.D))).toEqual(Array.from(q.y0));
  }

  for (const place of [
    { name: 'the output bias b2[1]', index: 251 },
    { name: 'an output weight W2[0][7]', index: 157 },
  ]) {
    for (const method of ['dopri5', 'rk4'] as const) {
      it(`NaN in ${place.name}, ${method}: every sample fails 'nonfinite' at t0`, async () => {
        await expectNonfinite(p, place.index, method === 'rk4' ? { method, stepSize: 0.1 } : { method });
      });
    }
  }

  /*
   * A NaN before an activation must survive it. WGSL leaves min/max/clamp of a
   * NaN implementation-defined, and GPUs (SwiftShader here) return the other
   * operand, so an activation written with clamp or max can turn NaN into a
   * finite number and the solve "succeeds" on parameters that are not numbers.
   */
  for (const activation of ['tanh', 'relu', 'sigmoid', 'softplus', 'silu', 'identity'] as const) {
    it(`NaN in a hidden bias b1[3] before ${activation}, dopri5: every sample fails 'nonfinite' at t0`, async () => {
      const q = makeProblem({ layers: [2, 50, 2], B, seed: 6, activation });
      await expectNonfinite(q, 103, { method: 'dopri5' });
    });
  }
  it("NaN in a first-layer weight W1[4][1] before tanh, rk4: every sample fails 'nonfinite' at t0", async () => {
    await expectNonfinite(p, 9, { method: 'rk4', stepSize: 0.1 });
  });

  it('NaN in y0 of samples 1 and 4: only they fail, the others finish correctly', async () => {
    const q = makeProblem({ layers: [2, 50, 2], B: 6, seed: 6 });
    const y0 = q.y0.slice();
    y0[1 * 2 + 1] = NaN;
    y0[4 * 2] = NaN;
    const r = await runSolve(harness(), q, t, { method: 'dopri5' }, { y0 });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('OdeSolveError');
    expect(r.error!.failures).toEqual([
      { sample: 1, kind: 'nonfinite', t: 0 },
      { sample: 4, kind: 'nonfinite', t: 0 },
    ]);
    expect(r.error!.message).toMatch(/solve failed for 2 of 6 samples/);
    expect(r.stats!.status).toEqual(['done', 'nonfinite', 'done', 'done', 'nonfinite', 'done']);
    const ok = [0, 2, 3, 5];
    const { got, want } = gather(q, decode(r.y!), t, ok, (z0) => solveAccurate(q.rhs, z0, t));
    expect(relError(got, want)).toBeLessThan(5e-5); // the adaptive bound of solve-methods.test.ts
  });

  /*
   * f(z) = 60 z: |z(t)| = |z0|·e^(60 t) passes float32's 3.4e38 at
   * t = ln(3.4e38 / |z0|) / 60 ≈ 1.479 for |z0| = 1, and f = 60 z itself
   * overflows at |z| ≈ 5.7e36, t ≈ 1.41 (where rk4, whose stage coefficients
   * are ≤ 1, stops). The generated stage code forms Σ_j a_ij K_j before
   * multiplying by h, and dopri5's rows have Σ_j |a_ij| up to ≈ 25 (tsit5 27),
   * so an adaptive solve can already overflow there once |f| ≳ 3.4e38 / 27,
   * i.e. |z| ≳ 2e35, t ≳ 1.355. So sample 0 must fail between 1.35 and 1.479,
   * with its outputs at 0.5 and 1 still valid, while sample 1 (z0 = 0) and
   * sample 2 (|z0| = 1e-20, reaching 1.3e32 at t = 2) finish.
   * dopri5 runs with atol = 1e-30: with the default 1e-7 sample 2 would be
   * held to an absolute 1e-7 only and may take steps with 60·h ≫ 1 whose
   * local error is below 1e-7 but which the flow then amplifies by up to e^120
   * (correct behaviour of a local error control, but nothing to test against).
   * For z' = 60 z the flow scales the solution and earlier errors alike, so
   * relative local errors add up: the error bound is (accepted steps) units
   * of atol + rtol·max|z|.
   */
  const GROW = [
    [60, 0],
    [0, 60],
  ];
  for (const method of ['dopri5', 'rk4'] as const) {
    it(`${method}: a sample that overflows mid-solve fails there; the others finish`, async () => {
      const q = linearProblem(GROW, [
        [1, -0.5],
        [0, 0],
        [1e-20, 0],
      ]);
      const tg = [0, 0.5, 1, 2];
      const options: OdeintOptions = method === 'rk4' ? { method, stepSize: 0.01 } : { method, rtol: 1e-6, atol: 1e-30 };
      const r = await runSolve(harness(), q, tg, options);
      expect(r.gpuErrors).toEqual([]);
      console.log(`[measure] overflow ${method}: ${r.error?.message}; stats ${JSON.stringify({ status: r.stats?.status, tReached: r.stats?.tReached })}`);
      expect(r.error?.name).toBe('OdeSolveError');
      const f = r.error!.failures!;
      expect(f.map((x) => x.sample)).toEqual([0]);
      // Fixed steps cannot shrink, so a non-finite stage ends the sample at once; an adaptive
      // solve shrinks its step until it underflows, on a non-finite or a finite attempt.
      expect(method === 'rk4' ? ['nonfinite'] : ['nonfinite', 'step-underflow']).toContain(f[0].kind);
      expect(f[0].t).toBeGreaterThan(method === 'rk4' ? 1.4 : 1.35);
      expect(f[0].t).toBeLessThan(1.479);
      expect(f[0].t).toBe(r.stats!.tReached[0]);
      expect(r.stats!.status).toEqual([f[0].kind, 'done', 'done']);
      expect(r.stats!.outputsWritten).toEqual([3, 4, 4]);
      // Outputs against the exact solution (dopri5, ADAPTIVE_UNITS) or against solveFixed on the
      // same grid (rk4: at 60·h = 0.6 rk4 is 4% off the exact solution by t = 1, by design).
      const y = decode(r.y!);
      const reference = (z0: number[]): number[][] =>
        method === 'rk4' ? solveFixed(q.rhs, TABLEAUX.rk4, z0, tg, 0.01) : linearExact(q.W32, z0, tg);
      for (const b of [0, 1, 2]) {
        const rows = r.stats!.outputsWritten[b];
        const ref = reference(sampleY0(q, b));
        const got = Array.from({ length: rows }, (_, i) => at(y, q.B, q.D, i, b)).flat();
        const want = ref.slice(0, rows).flat();
        const diff = maxAbs(got.map((x, i) => x - want[i]));
        if (method === 'rk4') expect(diff, `sample ${b}`).toBeLessThanOrEqual(FIXED_TOL * maxAbs(want));
        else expect(diff, `sample ${b}`).toBeLessThanOrEqual(r.stats!.accepted[b] * (1e-30 + 1e-6 * maxAbs(want)));
        console.log(`[measure] overflow ${method} sample ${b}: max rel err of the ${rows} outputs written ${(diff / Math.max(maxAbs(want), 1e-300)).toExponential(2)}`);
      }
    });
  }
});

describe('maxSteps', () => {
  // The spiral of solve-properties.test.ts: samples with |z0| = 1e-4 need ≈ 18 steps, |z0| ≥ 1 ≈ 66.
  const SPIRAL = [
    [0.5, 6],
    [-6, 0.5],
  ];
  const radii = [1e-4, 1, 2e-4, 3, 1e-4, 10];
  const q = linearProblem(
    SPIRAL,
    radii.map((r, b) => [r * Math.cos(0.9 * b + 0.3), r * Math.sin(0.9 * b + 0.3)]),
  );

  it("adaptive: the hard samples fail 'max-steps' where they stopped, the easy ones finish", async () => {
    const t = [0, 0.5, 1, 2];
    const maxSteps = 40;
    const r = await runSolve(harness(), q, t, { method: 'dopri5', maxSteps });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('OdeSolveError');
    const s = r.stats!;
    console.log(`[measure] maxSteps ${maxSteps}: ${r.error!.message}; accepted ${s.accepted.join(', ')}`);
    const hard = [1, 3, 5];
    const easy = [0, 2, 4];
    expect(r.error!.failures!.map((f) => f.sample)).toEqual(hard);
    for (const f of r.error!.failures!) {
      expect(f.kind).toBe('max-steps');
      expect(f.t).toBeGreaterThan(0);
      expect(f.t).toBeLessThan(2);
      expect(f.t).toBe(s.tReached[f.sample]);
      expect(s.accepted[f.sample] + s.rejected[f.sample]).toBe(maxSteps);
    }
    for (const b of easy) {
      expect(s.status[b]).toBe('done');
      expect(s.outputsWritten[b]).toBe(t.length);
      expect(s.accepted[b] + s.rejected[b]).toBeLessThan(maxSteps);
    }
    // Every output written is valid: all rows of the easy samples, the rows a hard sample passed.
    const y = decode(r.y!);
    for (const b of allSamples(q.B)) {
      const rows = s.outputsWritten[b];
      if (hard.includes(b)) expect(t[rows - 1]).toBeLessThanOrEqual(s.tReached[b]);
      if (hard.includes(b) && rows < t.length) expect(t[rows]).toBeGreaterThan(s.tReached[b]);
      const exact = linearExact(q.W32, sampleY0(q, b), t);
      const got = Array.from({ length: rows }, (_, i) => at(y, q.B, q.D, i, b)).flat();
      const want = exact.slice(0, rows).flat();
      const units = maxAbs(got.map((x, i) => x - want[i])) / (1e-7 + 1e-6 * maxAbs(want));
      expect(units, `sample ${b}`).toBeLessThan(ADAPTIVE_UNITS);
    }
  });

  for (const dir of [
    { name: 'forward', t: [0, 0.25, 0.75, 1], maxSteps: 50, tReached: 0.5, rows: 2 },
    { name: 'backward', t: [1, 0.2, 0], maxSteps: 30, tReached: 0.7, rows: 1 },
  ]) {
    it(`rk4 ${dir.name}, h = 0.01, maxSteps ${dir.maxSteps}: every sample stops at t = ${dir.tReached}`, async () => {
      const p = makeProblem({ layers: [2, 50, 2], B: 4, seed: 8 });
      const r = await runSolve(harness(), p, dir.t, { method: 'rk4', stepSize: 0.01, maxSteps: dir.maxSteps });
      expect(r.gpuErrors).toEqual([]);
      expect(r.error?.name).toBe('OdeSolveError');
      const f = r.error!.failures!;
      expect(f.map((x) => [x.sample, x.kind])).toEqual(allSamples(p.B).map((b) => [b, 'max-steps']));
      for (const x of f) expect(Math.abs(x.t - dir.tReached)).toBeLessThanOrEqual(TIME_TOL);
      expect(r.stats!.accepted).toEqual(new Array(p.B).fill(dir.maxSteps));
      expect(r.stats!.outputsWritten).toEqual(new Array(p.B).fill(dir.rows));
      const y = decode(r.y!);
      const ref = allSamples(p.B).map((b) => solveFixed(p.rhs, TABLEAUX.rk4, sampleY0(p, b), dir.t, 0.01));
      const got = allSamples(p.B).flatMap((b) => Array.from({ length: dir.rows }, (_, i) => at(y, p.B, p.D, i, b)).flat());
      const want = allSamples(p.B).flatMap((b) => ref[b].slice(0, dir.rows).flat());
      expect(relError(got, want)).toBeLessThan(FIXED_TOL);
    });
  }

  it('rk4: maxSteps equal to the number of grid steps is enough (10 steps of 0.1 on [0, 1])', async () => {
    const p = makeProblem({ layers: [2, 50, 2], B: 4, seed: 8 });
    const t = [0, 0.45, 1];
    const r = await runSolve(harness(), p, t, { method: 'rk4', stepSize: 0.1, maxSteps: 10 });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error).toBeNull();
    expect(r.stats!.status).toEqual(new Array(p.B).fill('done'));
    expect(r.stats!.accepted).toEqual(new Array(p.B).fill(10));
    const { got, want } = gather(p, decode(r.y!), t, allSamples(p.B), (z0) => solveFixed(p.rhs, TABLEAUX.rk4, z0, t, 0.1));
    expect(relError(got, want)).toBeLessThan(FIXED_TOL);
  });
});

describe('bad arguments: ArgumentError naming the argument, before any GPU work', () => {
  const mlp = { layers: [2, 16, 2], activation: 'tanh' as const };
  const y0 = [0.1, 0.2, 0.3, 0.4];
  const CASES: { name: string; argument: string | RegExp; y0?: number[]; t?: number[]; options?: OdeintOptions }[] = [
    { name: 'y0 length not a multiple of D', argument: 'y0', y0: [0.1, 0.2, 0.3] },
    { name: 'empty y0', argument: 'y0', y0: [] },
    { name: 'non-monotonic t', argument: 't', t: [0, 1, 0.5] },
    { name: 'repeated t', argument: 't', t: [0, 0.5, 0.5, 1] },
    { name: 't equal in float32 only', argument: 't', t: [0, 0.1, 0.1 + 1e-12] },
    { name: 'empty t', argument: 't', t: [] },
    { name: 'NaN time', argument: 't[1]', t: [0, NaN, 1] },
    { name: 'infinite time', argument: 't[2]', t: [0, 1, Infinity] },
    { name: 'fixed method without stepSize', argument: 'options.stepSize', options: { method: 'rk4' } },
    { name: 'stepSize 0', argument: 'options.stepSize', options: { method: 'euler', stepSize: 0 } },
    { name: 'stepSize with an adaptive method', argument: 'options.stepSize', options: { method: 'dopri5', stepSize: 0.1 } },
    { name: 'rtol 0', argument: 'options.rtol', options: { rtol: 0 } },
    { name: 'rtol < 0', argument: 'options.rtol', options: { rtol: -1e-6 } },
    { name: 'atol 0', argument: 'options.atol', options: { atol: 0 } },
    // getTableau names it 'method' rather than 'options.method'; both name the argument.
    { name: 'unknown method', argument: /^(options\.)?method$/, options: { method: 'rk45' as never } },
    { name: 'maxSteps 0', argument: 'options.maxSteps', options: { maxSteps: 0 } },
    { name: 'maxSteps 2.5', argument: 'options.maxSteps', options: { maxSteps: 2.5 } },
    { name: 'stepsPerDispatch 0', argument: 'options.stepsPerDispatch', options: { stepsPerDispatch: 0 } },
    { name: 'unknown kernel', argument: 'options.kernel', options: { kernel: 'warp' as never } },
    { name: "kernel 'lanes' with batch step control", argument: 'options.kernel', options: { kernel: 'lanes', stepControl: 'batch' } },
    { name: 'firstStep with a fixed method', argument: 'options.firstStep', options: { method: 'rk4', stepSize: 0.1, firstStep: 0.1 } },
  ];
  for (const c of CASES) {
    it(c.name, async () => {
      const r = await harness().call('odeintArgs', {
        mlp,
        y0: encodeF64(c.y0 ?? y0),
        t: encodeF64(c.t ?? [0, 0.5, 1]),
        options: c.options ?? {},
      });
      expect(r.gpuErrors).toEqual([]);
      expect(r.error?.name).toBe('ArgumentError');
      if (typeof c.argument === 'string') expect(r.error!.argument).toBe(c.argument);
      else expect(r.error!.argument).toMatch(c.argument);
      expect(r.counted).toEqual({ mapAsync: 0, submit: 0 });
      expect(r.counters).toEqual({ dispatches: 0, pipelinesCompiled: 0, liveBuffers: 0 });
    });
  }

  it('the same arguments, corrected, solve (the checks above are not vacuous)', async () => {
    const r = await harness().call('odeintArgs', { mlp, y0: encodeF64(y0), t: encodeF64([0, 0.5, 1]), options: { method: 'rk4', stepSize: 0.1 } });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error).toBeNull();
    expect(r.counted.submit).toBeGreaterThan(0);
    expect(r.counted.mapAsync).toBeGreaterThan(0);
    expect(r.counters.liveBuffers).toBe(0);
  });
});
