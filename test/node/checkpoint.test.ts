/**
 * Resuming after a lost device, in Node on Dawn: a trainer checkpoints after
 * N iterations (JSON string), trains on, and its device is destroyed; the
 * next read rejects with DeviceLostError. A new runtime, the data uploaded
 * again, `Trainer.resume` from the checkpoint and M iterations give
 * parameters, Adam moments and losses bit-identical to an uninterrupted run
 * of N + M iterations (built afresh on the new runtime; the reference is
 * the same computation never stopped, compared exactly).
 */
import { dawnGpu } from './setup';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  DeviceLostError,
  Loss,
  MLP,
  NeuralODE,
  type Runtime,
  type Sampler,
  Trainer,
  type TrainerCheckpoint,
  TrajectoryDataset,
  WindowSampler,
  createRuntime,
} from '../../src/index';

const N = 5;
const M = 4;

/** A damped rotation sampled at 30 points: the data. */
function trajectory(): { t: Float64Array; y: Float64Array } {
  const t = Float64Array.from({ length: 30 }, (_, i) => i * 0.1);
  const y = new Float64Array(60);
  t.forEach((s, i) => {
    y[2 * i] = Math.exp(-0.1 * s) * Math.cos(2 * s);
    y[2 * i + 1] = -Math.exp(-0.1 * s) * Math.sin(2 * s);
  });
  return { t, y };
}

function setup(rt: Runtime) {
  const { t, y } = trajectory();
  const data = new TrajectoryDataset(rt, t, y, 2);
  const sampler = new WindowSampler(data, { batch: 8, length: 4, seed: 3 });
  const model = new NeuralODE(new MLP(rt, { layers: [2, 16, 2], seed: 2 }), { solver: { rtol: 1e-4, atol: 1e-5 } });
  const trainer = new Trainer(model, new Adam(model.parameters, { lr: 1e-2 }), new Loss(rt, 'mse'));
  return { data, sampler, trainer };
}

async function run(trainer: Trainer, sampler: Sampler, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await trainer.step(sampler.next());
}

describe('checkpoint and resume across a lost device (Dawn)', () => {
  it(`N = ${N}, checkpoint, device destroyed, resume on a new runtime, M = ${M}: bit-identical to ${N + M} uninterrupted`, async () => {
    // The interrupted one.
    const rtB = await createRuntime({ gpu: dawnGpu() });
    const b = setup(rtB);
    await run(b.trainer, b.sampler, N);
    const saved = JSON.stringify(await b.trainer.checkpoint(b.sampler));
    expect(rtB.errors).toEqual([]);
    const waits0 = rtB.counters.hostWaits;
    await run(b.trainer, b.sampler, 2); // lost below
    expect(rtB.counters.hostWaits - waits0).toBe(0);
    rtB.device.destroy();
    const lost = await b.trainer.readLoss().then(
      () => null,
      (e: unknown) => e,
    );
    expect(lost).toBeInstanceOf(DeviceLostError);
    rtB.destroy();

    const rtC = await createRuntime({ gpu: dawnGpu() });
    const { t, y } = trajectory();
    const { trainer, sampler } = Trainer.resume(rtC, saved, { dataset: new TrajectoryDataset(rtC, t, y, 2) });
    expect(trainer.iteration).toBe(N);
    expect(sampler?.draws).toBe(N);
    if (!sampler) throw new Error('no sampler');
    const waits1 = rtC.counters.hostWaits;
    await run(trainer, sampler, M);
    expect(rtC.counters.hostWaits - waits1).toBe(0);
    const got: TrainerCheckpoint = await trainer.checkpoint(sampler);
    // The uninterrupted run, on the new runtime too (its pipelines are compiled already).
    const a = setup(rtC);
    await run(a.trainer, a.sampler, N + M);
    const ref = await a.trainer.checkpoint(a.sampler);
    expect(rtC.errors).toEqual([]);
    rtC.destroy();
    expect(ref.ledger.losses).toHaveLength(N + M);
    for (const l of ref.ledger.losses) expect(l).toBeGreaterThan(0);

    expect(got.ledger.iteration).toBe(N + M);
    expect(got.ledger.losses).toEqual(ref.ledger.losses);
    expect(got.model.mlp.parameters).toEqual(ref.model.mlp.parameters);
    expect(got.optimizer.steps).toBe(N + M);
    expect(got.optimizer.state).toEqual(ref.optimizer.state);
    expect(got.sampler).toEqual(ref.sampler);
    console.log(`[checkpoint] losses ${ref.ledger.losses.map((l) => l?.toExponential(3)).join(' ')}; resumed run identical (${got.model.mlp.parameters.length} parameters, ${got.optimizer.state.length} moment arrays)`);
  });
});
