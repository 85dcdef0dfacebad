/**
 * `g.t`: the gradient of the loss with respect to every output time, against
 * central differences of the float64 reference solve in each time
 * (L = Σ_i Σ_b c_i,b · y_i,b; 1e-3 relative, norm-wise, as the other
 * gradients). Covers forward and reverse time, a time-dependent field
 * (timeInput), the backprop mode (same continuous-time formula), a single
 * output time (dL/dt0 = 0) and a deferred gradient solve.
 */
import { expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { cotangents, gradientArgs, sampleCotangents, sampleLoss, y0Of } from './adjoint-helpers';
import { type MlpProblem, makeProblem, relError } from './problems';
import { useHarness } from './solve-helpers';
import { decode } from './wire';

const harness = useHarness();

/** dL/dt_i by central differences in t_i of the float64 reference, summed over the batch. */
function fdGradT(p: MlpProblem, t: readonly number[], c: ArrayLike<number>, eps = 1e-5): number[] {
  return t.map((_, i) => {
    let g = 0;
    for (let b = 0; b < p.B; b++) {
      const cb = sampleCotangents(c, t.length, p.B, p.D, b);
      const y0 = y0Of(p.y0, p.D, b);
      const plus = [...t];
      const minus = [...t];
      plus[i] += eps;
      minus[i] -= eps;
      g += (sampleLoss(p.rhs, y0, plus, cb) - sampleLoss(p.rhs, y0, minus, cb)) / (2 * eps);
    }
    return g;
  });
}

async function gradT(p: MlpProblem, t: number[], c: Float32Array, options: OdeintOptions, backward = {}) {
  const r = await harness().call('gradient', {
    ...gradientArgs(p, t, options, c),
    backward,
  });
  expect(r.error).toBeNull();
  return Array.from(decode(r.gt!));
}

const opts: OdeintOptions = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 };

for (const [name, timeInput, t] of [
  ['forward time', false, [0, 0.4, 0.7, 1]],
  ['reverse time, time-dependent field', true, [1, 0.5, -0.2]],
] as const) {
  it(`dL/dt matches finite differences (${name})`, async () => {
    // B = 9: three invocations of the four-lane time-gradient kernel, the last one partly past the batch.
    const p = makeProblem({ layers: timeInput ? [3, 16, 2] : [2, 16, 2], timeInput, B: timeInput ? 4 : 9, seed: 21 });
    const c = cotangents(t.length, p.B, p.D, 5);
    const got = await gradT(p, [...t], c, opts);
    const want = fdGradT(p, t, c);
    const e = relError(got, want);
    console.log(`[measure] dL/dt (${name}) rel error ${e.toExponential(2)}: ${got.map((x) => x.toPrecision(5)).join(', ')}`);
    expect(got.length).toBe(t.length);
    expect(e).toBeLessThan(1e-3);
    // Every entry, not only the norm: the first one (a shift of the whole solution) included.
    for (let i = 0; i < t.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(want[i])));
  });
}

it("dL/dt in mode 'backprop' and from a deferred gradient solve", async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 3, seed: 8 });
  const t = [0, 0.5, 1];
  const c = cotangents(t.length, p.B, p.D, 9);
  const want = fdGradT(p, t, c);
  const bp = await gradT(p, t, c, opts, { mode: 'backprop' });
  expect(relError(bp, want)).toBeLessThan(1e-3);
  const r = await harness().call('deferred', gradientArgs(p, t, opts, c));
  expect(r.counted.mapAsync).toBe(0);
  expect(Array.from(decode(r.deferred.gt))).toEqual(Array.from(decode(r.waiting!.gt)));
  expect(relError(decode(r.deferred.gt), want)).toBeLessThan(1e-3);
});

it('a single output time: dL/dt0 = 0', async () => {
  const p = makeProblem({ layers: [2, 8, 2], B: 2, seed: 4 });
  const c = cotangents(1, p.B, p.D, 3);
  expect(await gradT(p, [0.3], c, opts)).toEqual([0]);
});

it('timeGradient: false skips dL/dt: g.t throws, dL/dy0 and dL/dθ are unchanged, two submits fewer', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 5, seed: 12 });
  const t = [0, 0.5, 1];
  const c = cotangents(t.length, p.B, p.D, 4);
  const args = gradientArgs(p, t, opts, c);
  const full = await harness().call('gradient', args);
  const skip = await harness().call('gradient', { ...args, backward: { timeGradient: false } });
  expect(full.error).toBeNull();
  expect(skip.error).toBeNull();
  expect(Array.from(decode(skip.gy0!))).toEqual(Array.from(decode(full.gy0!)));
  expect(Array.from(decode(skip.gth!))).toEqual(Array.from(decode(full.gth!)));
  expect(skip.gt).toBeNull();
  expect(skip.gtError).toMatchObject({ name: 'ArgumentError', argument: 'options.timeGradient' });
  // The time-gradient kernel and its reduction are the two submits skipped.
  expect(full.counted.submit - skip.counted.submit).toBe(2);
  for (const mode of ['adjoint', 'backprop'] as const) {
    const bad = await harness().call('gradient', { ...args, backward: { mode, timeGradient: 'no' as unknown as boolean } });
    expect(bad.error).toMatchObject({ name: 'ArgumentError', argument: 'options.timeGradient' });
    expect(bad.counted.submit).toBe(0);
  }
});
