/**
 * Deferred solves (`deferred: true`): a forward solve and its adjoint gradient
 * solve recorded without a single host wait, checked afterwards.
 *
 * - They issue no mapAsync (the WebGPU prototype is counted) until `check()`.
 * - Their outputs and gradients equal those of the waiting solves bit for bit
 *   (same kernels, same per-sample steps), and the gradients match central
 *   finite differences of the float64 reference solve (1e-3, norm-wise).
 * - A budget too small for the solve, and a non-finite sample, are reported
 *   by `check()` with the sample, its kind and time; `failing` counts them.
 * A deferred gradient solve's check covers its own solve only; its failure
 * report (first failing sample) is exercised through the trainer's tests.
 */
import { expect, it } from 'vitest';
import { cotangents, fdGradTheta, fdGradY0, gradientArgs } from './adjoint-helpers';
import { makeProblem, relError } from './problems';
import { allSamples, useHarness } from './solve-helpers';
import { decode } from './wire';

const harness = useHarness();

const opts = { method: 'dopri5' as const, rtol: 1e-6, atol: 1e-7 };

it('a deferred forward + adjoint solve issues no host wait and equals the waiting one', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 5, seed: 3 });
  const t = [0, 0.3, 0.8];
  const c = cotangents(t.length, p.B, p.D, 11);
  const r = await harness().call('deferred', gradientArgs(p, t, opts, c));
  console.log(
    `[measure] deferred pair: ${r.counted.mapAsync} mapAsync, ${r.counted.submit} submits, ` +
      `${r.deferred.forward.dispatches} + ${r.deferred.backward.dispatches} dispatches recorded ` +
      `(waiting: ${r.waiting!.forward.dispatches} + ${r.waiting!.backward.dispatches}, ${r.waiting!.forward.hostWaits} + ${r.waiting!.backward.hostWaits} host waits)`,
  );
  expect(r.counted.mapAsync).toBe(0);
  expect(r.hostWaits).toBe(0);
  expect(r.before.deferred).toEqual([true, true]);
  // Counts are unknown (NaN, null once serialised) until check().
  expect(r.before.forward.nfe ?? NaN).toBeNaN();
  expect(r.before.backward.maxNfe ?? NaN).toBeNaN();
  expect(r.checks).toEqual({ forward: null, backward: null, failing: [] });

  const w = r.waiting!;
  expect(Array.from(decode(r.deferred.y))).toEqual(Array.from(decode(w.y)));
  expect(Array.from(decode(r.deferred.gy0))).toEqual(Array.from(decode(w.gy0)));
  expect(Array.from(decode(r.deferred.gth))).toEqual(Array.from(decode(w.gth)));
  for (const k of ['nfe', 'maxNfe', 'accepted', 'rejected'] as const) {
    expect(r.deferred.forward[k]).toBe(w.forward[k]);
    expect(r.deferred.backward[k]).toBe(w.backward[k]);
  }

  // Independent reference: central differences of the float64 solve.
  const e1 = relError(decode(r.deferred.gy0), fdGradY0(p, p.y0, t, c, allSamples(p.B)));
  const e2 = relError(decode(r.deferred.gth), fdGradTheta(p, p.y0, t, c));
  console.log(`[measure] deferred gradients vs finite differences: dL/dy0 ${e1.toExponential(2)}, dL/dθ ${e2.toExponential(2)}`);
  expect(e1).toBeLessThan(1e-3);
  expect(e2).toBeLessThan(1e-3);
});

it('a dispatch budget too small is reported as unfinished samples, with the time reached', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 4, seed: 5 });
  const t = [0, 2];
  const r = await harness().call('deferred', {
    ...gradientArgs(p, t, { ...opts, stepsPerDispatch: 1 }, cotangents(t.length, p.B, p.D, 2)),
    // Two dispatches of one attempt each: no sample can cross [0, 2] at rtol 1e-6.
    deferredForward: { dispatchBudget: 2 },
    skipWaiting: true,
  });
  expect(r.counted.mapAsync).toBe(0);
  const fwd = r.checks.forward!;
  expect(fwd.name).toBe('OdeSolveError');
  expect(fwd.failures!.length).toBe(p.B);
  for (const f of fwd.failures!) {
    expect(f.kind).toBe('unfinished');
    expect(f.t).toBeGreaterThan(0);
    expect(f.t).toBeLessThan(2);
  }
  expect(fwd.message).toMatch(/unfinished at t = /);
  expect(r.deferred.forward.nfe).toBeGreaterThan(0);
});

it('a non-finite sample is reported by the forward check; the other samples are untouched', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 4, seed: 9 });
  const y0 = Float32Array.from(p.y0);
  y0[2 * p.D] = NaN; // sample 2
  const t = [0, 0.5];
  const c = cotangents(t.length, p.B, p.D, 4);
  const r = await harness().call('deferred', {
    ...gradientArgs(p, t, opts, c, y0),
    skipWaiting: true,
  });
  expect(r.counted.mapAsync).toBe(0);
  expect(r.checks.forward?.name).toBe('OdeSolveError');
  expect(r.checks.forward?.failures).toEqual([{ sample: 2, kind: 'nonfinite', t: 0 }]);
  // The deferred gradient solve cannot see the forward's failure (its check covers its own
  // solve only): sample 2's gradient is meaningless, which sol.check() has reported.
  expect(r.checks.backward).toBeNull();
  expect(r.checks.failing).toEqual([1]);
  // The finite samples' gradients still match finite differences.
  const ok = [0, 1, 3];
  const gy0 = decode(r.deferred.gy0);
  const fd = fdGradY0(p, p.y0, t, c, ok);
  const got = ok.flatMap((b) => Array.from(gy0.subarray(b * p.D, (b + 1) * p.D)));
  expect(relError(got, fd)).toBeLessThan(1e-3);
});

it('a non-finite cotangent is reported by the gradient check: first failing sample and the count', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 6, seed: 13 });
  const t = [0, 0.4, 1];
  const c = cotangents(t.length, p.B, p.D, 8);
  // dL/dy at t = 0.4 for samples 3 and 5 (the tensor path skips the array checks, as a GPU loss would).
  for (const b of [3, 5]) c[(1 * p.B + b) * p.D] = NaN;
  const r = await harness().call('deferred', {
    ...gradientArgs(p, t, opts, c),
    skipWaiting: true,
  });
  expect(r.counted.mapAsync).toBe(0);
  expect(r.checks.forward).toBeNull();
  const bwd = r.checks.backward!;
  expect(bwd.name).toBe('OdeSolveError');
  expect(bwd.failures).toEqual([{ sample: 3, kind: 'nonfinite', t: expect.closeTo(0.4, 6) }]);
  expect(r.checks.failing).toEqual([2]);
  expect(bwd.message).toMatch(/failed for 2 of 6 samples: sample 3: nonfinite at t = 0\.4.*1 more/);
});

for (const [name, options] of [
  ['batch-shared step control', { ...opts, stepControl: 'batch' as const }],
  ['fixed-step rk4 (budget from the grid)', { method: 'rk4' as const, stepSize: 0.05 }],
] as const) {
  it(`deferred ${name}: no host wait, the same outputs and gradients as waiting`, async () => {
    const p = makeProblem({ layers: [2, 16, 2], B: 5, seed: 17 });
    const t = [0, 0.35, 1.2];
    const r = await harness().call('deferred', gradientArgs(p, t, options, cotangents(t.length, p.B, p.D, 3)));
    expect(r.counted.mapAsync).toBe(0);
    expect(r.checks).toEqual({ forward: null, backward: null, failing: [] });
    const w = r.waiting!;
    for (const k of ['y', 'gy0', 'gth', 'gt'] as const) expect(Array.from(decode(r.deferred[k])), k).toEqual(Array.from(decode(w[k])));
    expect(r.deferred.forward.accepted).toBe(w.forward.accepted);
    expect(r.deferred.backward.nfe).toBe(w.backward.nfe);
  });
}
