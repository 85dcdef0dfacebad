/**
 * The adjoint's three kernels (`BackwardOptions.kernel`): four samples per
 * invocation in lockstep lanes, one sample per invocation, and one sample per
 * workgroup whose invocations share each MLP evaluation.
 *
 * A batch built to make the lanes of one invocation disagree: B = 7 (the last
 * invocation has three lanes), a time-dependent softplus field, and states and
 * cotangents of 1e-4 next to ones of order 1 in every group of four, with a
 * first step of 1 forward and 0.25 in reverse (parameters scaled by 3 for livelier dynamics). With atol
 * 1e-7 the small samples tolerate about 1e-3 relative error and accept steps
 * the large ones reject, so attempts where some lanes accept and others reject
 * occur (their θ products are recomputed for the accepting lanes alone). All
 * kernels must take the same step decisions up to float32 rounding (the same
 * rejections, accepted totals within 2%) and give gradients that
 * match central finite differences of the float64 reference solve to
 * GRAD_TOL = 1e-3 relative (norm-wise; the criterion; measured ~1e-6
 * and below), and each other to KERNEL_TOL = 1e-5 (the same arithmetic sample
 * by sample, with sums taken in other orders).
 *
 * The workgroup kernel is also run on an MLP wider than its workgroup
 * ([3, 130, 70, 2], tanh, time input: layers split over several chunks of
 * invocations, parameter slices of several segments), against finite
 * differences and the one-sample kernel.
 */
import { expect, it } from 'vitest';
import { batchLoss, cotangents, dot, fdDirectional, fdGradY0, gradientArgs, layerDirections, logError } from './adjoint-helpers';
import { makeProblem, relError } from './problems';
import { allSamples, useHarness } from './solve-helpers';
import { decode } from './wire';

const GRAD_TOL = 1e-3;
const KERNEL_TOL = 1e-5;

const harness = useHarness();

it('four lanes with disagreeing step decisions: the same decisions and gradients as one sample per invocation and per workgroup, all matching finite differences', async () => {
  const layers = [3, 16, 2]; // the state and t in, the state's derivative out
  const base = makeProblem({ layers, activation: 'softplus', timeInput: true, B: 7, seed: 61, paramScale: 3 });
  const t = [0, 1, 2];
  const small = (b: number) => b % 2 === 0; // samples 0, 2, 4, 6
  const y0 = Float32Array.from(base.y0, (v, i) => (small(Math.floor(i / base.D)) ? v * 1e-4 : 2 * v));
  const c = cotangents(t.length, base.B, base.D, 62);
  for (let i = 0; i < c.length; i++) if (small(Math.floor(i / base.D) % base.B)) c[i] *= 1e-4;
  const p = { ...base, y0 };
  const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7, firstStep: 1 } as const;
  const r = await harness().call('backwardRuns', {
    ...gradientArgs(p, t, options, c, y0),
    runs: [{ kernel: 'lanes', firstStep: 0.25 }, { kernel: 'invocation', firstStep: 0.25 }, { kernel: 'workgroup', firstStep: 0.25 }],
  });
  for (const run of r.runs) expect(run.error).toBeNull();
  const [lanes, single, group] = r.runs.map((run) => ({ gy0: decode(run.gy0!), gth: decode(run.gth!), summary: run.summary! }));
  console.log(`lanes ${JSON.stringify(lanes.summary)}; one sample ${JSON.stringify(single.summary)}; workgroup ${JSON.stringify(group.summary)}`);
  // Every lane makes its first attempt (h = 0.25) in the kernel's first iteration; some but not all
  // samples reject it (3 rejections in all when written), so at least one attempt had accepting
  // and rejecting lanes side by side.
  for (const g of [lanes, single, group]) {
    expect(g.summary.rejected).toBeGreaterThan(0);
    expect(g.summary.rejected).toBeLessThan(p.B);
  }
  // The same decisions up to float32 rounding (a last step of a segment may split differently).
  for (const g of [lanes, group]) {
    expect(Math.abs(g.summary.accepted - single.summary.accepted)).toBeLessThanOrEqual(0.02 * single.summary.accepted);
    expect(g.summary.rejected).toBe(single.summary.rejected);
  }

  const fdY0 = fdGradY0(p, y0, t, c, allSamples(p.B));
  const dirs = layerDirections(layers, 63);
  const fdDirs = dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, y0, t, c), p.params, v));
  for (const [name, g] of [['lanes', lanes], ['one sample', single], ['workgroup', group]] as const) {
    const e = { gy0: relError(g.gy0, fdY0), gthDirectional: relError(dirs.map(({ v }) => dot(g.gth, v)), fdDirs) };
    logError(`${name}, B = 7 mixed scales`, e);
    expect(e.gy0).toBeLessThan(GRAD_TOL);
    expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
  }
  for (const [name, g] of [['lanes', lanes], ['workgroup', group]] as const) {
    const between = { gy0: relError(g.gy0, single.gy0), gth: relError(g.gth, single.gth) };
    logError(`${name} vs one sample`, between);
    expect(between.gy0).toBeLessThan(KERNEL_TOL);
    expect(between.gth).toBeLessThan(KERNEL_TOL);
  }
});

it('one sample per workgroup on an MLP wider than the workgroup: gradients match finite differences and the one-sample kernel', async () => {
  const layers = [3, 130, 70, 2];
  const p = makeProblem({ layers, activation: 'tanh', timeInput: true, B: 3, seed: 64 });
  const t = [0, 0.5, 1];
  const c = cotangents(t.length, p.B, p.D, 65);
  const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;
  const r = await harness().call('backwardRuns', { ...gradientArgs(p, t, options, c), runs: [{ kernel: 'workgroup' }, { kernel: 'invocation' }] });
  for (const run of r.runs) expect(run.error).toBeNull();
  const [group, single] = r.runs.map((run) => ({ gy0: decode(run.gy0!), gth: decode(run.gth!), summary: run.summary! }));
  console.log(`workgroup ${JSON.stringify(group.summary)}; one sample ${JSON.stringify(single.summary)}`);
  const fdY0 = fdGradY0(p, p.y0, t, c, allSamples(p.B));
  const dirs = layerDirections(layers, 66);
  const fdDirs = dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, p.y0, t, c), p.params, v));
  const e = { gy0: relError(group.gy0, fdY0), gthDirectional: relError(dirs.map(({ v }) => dot(group.gth, v)), fdDirs) };
  logError('workgroup, [3, 130, 70, 2]', e);
  expect(e.gy0).toBeLessThan(GRAD_TOL);
  expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
  const between = { gy0: relError(group.gy0, single.gy0), gth: relError(group.gth, single.gth) };
  logError('workgroup vs one sample, [3, 130, 70, 2]', between);
  expect(between.gy0).toBeLessThan(KERNEL_TOL);
  expect(between.gth).toBeLessThan(KERNEL_TOL);
});
