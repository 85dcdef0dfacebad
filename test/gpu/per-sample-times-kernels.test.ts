/**
 * Gradients through per-sample output times, the other adjoint kernels and
 * the shared path: the workgroup and lane adjoint kernels against central
 * differences of each sample's float64 solve (per-sample-times-helpers.ts),
 * rows equal to a shared t against the shared path (dL/dy0 and dL/dθ bit for
 * bit, Σ_b dL/dt[b][i] against the shared dL/dt), and deferred forward and
 * backward against the waiting solve. The gradient modes and methods are in
 * per-sample-times-gradients.test.ts.
 *
 * The rows mix scales and starting times (spans 0.1 to 3, GSPANS) and the
 * MLP has the time input, so a wrong row changes every gradient.
 */
import { describe, expect, it } from 'vitest';
import { relError } from './problems';
import { useHarness } from './solve-helpers';
import { dot } from './adjoint-helpers';
import { perSampleGradientSetup } from './per-sample-times-helpers';
import { decode, encodeF32 } from './wire';

const harness = useHarness();

describe('per-sample times: adjoint kernels, shared rows, deferred', () => {
  const { q, T, gradRows, GRAD_TOL, gradient, dirs, reference, c } = perSampleGradientSetup(harness);
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
