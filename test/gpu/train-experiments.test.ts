/**
 * The demo's experiments, trained in headless Chrome exactly as the page
 * trains them (demo/experiments.ts), and the host waits of an iteration.
 *
 * - Spiral: the full trajectory (all 1,000 points from y0 over [0, 25])
 *   reaches a mean squared error below 1e-2 within 2,000 iterations
 *   (evaluated every 100 iterations; training stops at the first evaluation
 *   below). The trajectory error is very sensitive to the learned field's
 *   direction — its radial part is only 5% of |f| — so the value moves from
 *   one evaluation to the next; the test asserts the first crossing.
 * - Circles: the augmented Neural ODE beats the plain one after the same
 *   number of iterations, in accuracy on the data set and in function
 *   evaluations (forward, and forward plus backward, per training solve, and
 *   of the final forward solve over the data set). The reverse solves start
 *   from the forward's last step and take about as many evaluations for both
 *   models (24.2 against 24.1 per iteration in one run), so the backward's
 *   count is compared within the total.
 * - Host waits: counted on GPUBuffer.mapAsync itself. A wait-free iteration
 *   (the default) issues none, and exactly one when the loss value is read;
 *   with `waitFree: false` it costs exactly the waits its two solves report
 *   (one each here), plus one for the loss.
 */
import { expect, it } from 'vitest';
import { useHarness } from './solve-helpers';

const harness = useHarness();

it('spiral: the full-trajectory MSE falls below 1e-2 within 2,000 iterations', async () => {
  const h = harness();
  const r = await h.call('trainSpiral', { config: {}, iterations: 2000, evalEvery: 100, stopBelow: 1e-2 });
  expect(r.gpuErrors).toEqual([]);
  for (const e of r.evals) console.log(`iteration ${e.iteration}: trajectory MSE ${e.mse.toExponential(3)} (${(e.ms / 1000).toFixed(1)} s)`);
  console.log(
    `spiral: ${r.iterations} iterations in ${(r.ms / 1000).toFixed(1)} s (${((1000 * r.iterations) / r.ms).toFixed(1)} it/s); ` +
      `NFE per solve (max over the batch): forward ${r.meanForwardNfe.toFixed(1)}, backward ${r.meanBackwardNfe.toFixed(1)}; host waits per iteration ${r.meanWaits}`,
  );
  for (const d of r.diag) console.log(`  t ∈ [${d.range}): field rel. error ${d.fieldRel.toFixed(3)}, trajectory MSE ${d.trajMse.toExponential(2)}`);
  const last = r.evals[r.evals.length - 1];
  expect(last.mse).toBeLessThan(1e-2);
  expect(last.iteration).toBeLessThanOrEqual(2000);
  // The windows' training loss fell by orders of magnitude.
  const first = r.firstLosses.reduce((a, b) => a + b, 0) / r.firstLosses.length;
  const end = r.lastLosses.reduce((a, b) => a + b, 0) / r.lastLosses.length;
  expect(end).toBeLessThan(first / 30);
}, 400_000);

it('circles: the augmented Neural ODE beats the plain one in accuracy and in function evaluations', async () => {
  const h = harness();
  const iterations = 250;
  const r = await h.call('trainCircles', { configs: [{ augment: 0 }, { augment: 1 }], iterations, evalEvery: 125 });
  expect(r.gpuErrors).toEqual([]);
  const [plain, aug] = r.runs;
  for (const [name, run] of [['plain', plain], ['augmented', aug]] as const) {
    const e = run.evals[run.evals.length - 1];
    console.log(
      `${name}: accuracy ${(100 * e.accuracy).toFixed(1)}%, final solve NFE max ${e.maxNfe} mean ${e.meanNfe.toFixed(1)}; ` +
        `training NFE per iteration forward ${(run.trainForwardNfe / iterations).toFixed(1)}, backward ${(run.trainBackwardNfe / iterations).toFixed(1)}; ` +
        `loss ${run.losses.slice(-20).reduce((a, b) => a + b, 0) / 20}; ${(run.ms / 1000).toFixed(1)} s`,
    );
  }
  const ep = plain.evals[plain.evals.length - 1];
  const ea = aug.evals[aug.evals.length - 1];
  expect(ea.accuracy).toBeGreaterThan(ep.accuracy);
  expect(ea.accuracy).toBeGreaterThan(0.98);
  expect(aug.trainForwardNfe).toBeLessThan(plain.trainForwardNfe);
  expect(aug.trainForwardNfe + aug.trainBackwardNfe).toBeLessThan(plain.trainForwardNfe + plain.trainBackwardNfe);
  expect(ea.maxNfe).toBeLessThanOrEqual(ep.maxNfe);
}, 400_000);

it('a training iteration issues no host wait unless the loss is read (one then)', async () => {
  const h = harness();
  for (const circles of [false, true]) {
    const r = await h.call('trainWaits', { iterations: 12, readLossEvery: 4, circles, waitFree: true });
    console.log(circles ? 'circles' : 'spiral', 'wait-free', JSON.stringify(r.rows.slice(0, 4)));
    for (const row of r.rows) {
      expect(row.maps).toBe(row.readLoss ? 1 : 0);
      expect(row.reported).toBe(row.maps);
    }
    expect(r.rows.filter((row) => !row.readLoss).length).toBe(9);
  }
}, 200_000);

it('waiting iterations (waitFree: false) wait only for their two solves, plus one when the loss is read', async () => {
  const h = harness();
  for (const circles of [false, true]) {
    const r = await h.call('trainWaits', { iterations: 12, readLossEvery: 4, circles, waitFree: false });
    expect(r.gpuErrors).toEqual([]);
    console.log(circles ? 'circles' : 'spiral', JSON.stringify(r.rows.slice(0, 4)));
    for (const row of r.rows) {
      expect(row.maps).toBe(row.solveWaits + (row.readLoss ? 1 : 0));
      expect(row.reported).toBe(row.maps);
    }
    // With these problem sizes each solve finishes within its first round: one wait each.
    expect(r.rows.filter((row) => !row.readLoss).every((row) => row.maps === 2)).toBe(true);
  }
}, 200_000);

it('batch-shared step control makes a wait-free trainer wait for its solves (a deferred budget would be one batch attempt per unit)', async () => {
  const r = await harness().call('trainWaits', { iterations: 4, readLossEvery: 0, circles: false, waitFree: true, batchShared: true });
  for (const row of r.rows) {
    expect(row.maps).toBeGreaterThanOrEqual(2);
    expect(row.maps).toBe(row.solveWaits);
  }
}, 200_000);
