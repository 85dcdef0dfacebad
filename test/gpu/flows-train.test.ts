/**
 * FlowTrainer (src/flows/trainer.ts) on the GPU: a few wait-free iterations
 * on a small flow raise the held-out log-likelihood and issue no host wait;
 * one trainer step equals the step done by hand (logProb → backward with
 * dL/dlogp = −1/B → Adam) and the Adam update computed in float64 from that
 * gradient; its loss is −mean log p of the same points; bad arguments throw
 * ArgumentError before any GPU work.
 */
import { expect, it } from 'vitest';
import { useHarness } from './solve-helpers';

const harness = useHarness();

it('a few wait-free iterations raise the held-out log-likelihood, with no host wait per iteration', async () => {
  const r = await harness().call('flowTrainLowers', { iterations: 8, batch: 32, lr: 3e-2 });
  console.log(
    `held-out mean log p ${r.before.toFixed(4)} → ${r.after.toFixed(4)}; NLL ${r.losses.map((v) => v.toFixed(3)).join(' ')}; ` +
      `nfe forward ${r.forwardNfe.join(' ')}, backward ${r.backwardNfe.join(' ')}`,
  );
  expect(r.gpuErrors).toEqual([]);
  expect(r.waits).toEqual(r.waits.map(() => 0));
  expect(r.counters).toEqual(r.counters.map(() => 0));
  expect(r.losses.length).toBe(8);
  expect(r.after).toBeGreaterThan(r.before + 0.05);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(r.losses.slice(-3))).toBeLessThan(mean(r.losses.slice(0, 3)));
  for (const n of [...r.forwardNfe, ...r.backwardNfe]) expect(n).toBeGreaterThan(0);
});

for (const waitFree of [true, false]) {
  it(`one step (${waitFree ? 'wait-free' : 'waiting'}) equals logProb → backward → Adam by hand and Adam's first update in float64`, async () => {
    const lr = 1e-2;
    const B = 32;
    const r = await harness().call('flowTrainStep', { batch: B, lr, waitFree });
    expect(r.gpuErrors).toEqual([]);
    // The loss is −mean log p of the same points (float64 mean of the manual solve's log p).
    const nll = -r.logp.reduce((a, b) => a + b, 0) / B;
    console.log(`loss ${r.loss} vs −mean log p ${nll}; host waits ${r.hostWaits}`);
    expect(Math.abs((r.loss ?? NaN) - nll)).toBeLessThanOrEqual(1e-6 * Math.abs(nll) + 1e-6);
    // The same kernels on the same inputs: the trainer's parameters equal the manual step's to float32 rounding.
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < r.theta0.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(r.thetaTrainer[i] - r.thetaManual[i]));
      // Adam's first step in float64: m̂ = g, v̂ = g², θ1 = θ0 − lr·g/(|g| + 1e-8).
      const g = r.grad[i];
      const ref = r.theta0[i] - (lr * g) / (Math.abs(g) + 1e-8);
      maxRef = Math.max(maxRef, Math.abs(r.thetaTrainer[i] - ref));
    }
    console.log(`max |θ_trainer − θ_manual| ${maxDiff.toExponential(2)}, max |θ_trainer − float64 Adam| ${maxRef.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
    // |θ| ≤ ~1 and one step of size ≤ lr: float32 rounding of θ0 + Δ is ≤ 6e-8; 1e-6 leaves room for |g| ≈ eps.
    expect(maxRef).toBeLessThanOrEqual(1e-6);
    // Wait-free, the step waits once: the loss read.
    if (waitFree) expect(r.hostWaits).toBe(1);
  });
}

it('refuses bad arguments with an ArgumentError naming the argument, before any GPU work', async () => {
  const r = await harness().call('flowTrainArgErrors');
  const expected: Record<string, string> = {
    flow: 'flow',
    optimizer: 'optimizer',
    waitFree: 'options.waitFree',
    'solver deferred': 'options.solver.deferred',
    batch: 'batch.y0',
    'evaluate chunk': 'options.chunk',
    'evaluate points': 'points',
    'loss nll in Trainer': 'loss',
    'nll target': 'target',
  };
  for (const c of r.cases) {
    expect(c.error, c.name).not.toBeNull();
    expect(c.error?.name, c.name).toBe('ArgumentError');
    expect(c.error?.argument, c.name).toBe(expected[c.name]);
  }
  expect(r.cases.length).toBe(Object.keys(expected).length);
  expect(r.dispatches).toBe(0);
  expect(r.submits).toBe(0);
});
