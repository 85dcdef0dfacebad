/**
 * Gradients through per-sample output times (`sol.backward` after `odeint`
 * with t as B rows of T times): dL/dy0, dL/dθ (along seeded per-layer
 * directions) and dL/dt[b][i] against central differences of each sample's
 * float64 solve on its own row (per-sample-times-helpers.ts), in both modes
 * (adjoint: dopri5 and rk4; backprop: dopri5), both time directions, with
 * one host wait forward and one backward. The other adjoint kernels, the
 * shared path and deferred solves: per-sample-times-kernels.test.ts.
 *
 * The rows mix scales and starting times (spans 0.1 to 3, GSPANS) and the
 * MLP has the time input, so a wrong row changes every gradient.
 */
import { describe, expect, it } from 'vitest';
import { relError } from './problems';
import { useHarness } from './solve-helpers';
import { dot } from './adjoint-helpers';
import { perSampleGradientSetup } from './per-sample-times-helpers';
import { decode } from './wire';

const harness = useHarness();

describe('gradients on per-sample times against central differences of each sample\'s float64 solve', () => {
  const { q, T, gradRows, GRAD_TOL, gradient, methods, dirs, reference } = perSampleGradientSetup(harness);
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
});
