/**
 * Work WebGPU rejects is reported, not returned as a result: a buffer
 * destroyed with `GPUBuffer.destroy()` behind webode's back makes every
 * submit using it fail validation, so the solve's dispatches never run. Each
 * kind of solve must then reject with `GPUWorkError` where it would have
 * returned (a solve that waits) or been checked (a deferred one) — before
 * this check they returned zeros with zero evaluations; a wait-free
 * training loop, at its next read. The runtime stays usable: a later solve
 * matches the float64 reference.
 */
import { dawnGpu } from './setup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, GPUWorkError, Loss, MLP, NeuralODE, type Runtime, Tensor, Trainer, createRuntime, odeint } from '../../src/index';
import { mlpForward } from '../reference/mlp';
import { solveAccurate } from '../reference/solve';

const LAYERS = [2, 16, 2];
const T = [0, 0.5, 1];
const Y0 = [1, 0, 0, 1, -0.5, 0.5];
const B = Y0.length / 2;
let rt: Runtime;
let f: MLP;
const reported: string[] = [];

beforeAll(async () => {
  rt = await createRuntime({ gpu: dawnGpu(), onUncapturedError: (e) => reported.push(e.message) });
  f = new MLP(rt, { layers: LAYERS, activation: 'tanh', seed: 3 });
});
afterAll(() => rt?.destroy());

/** A tensor of webode's whose GPU buffer was destroyed directly, as user code holding `tensor.buffer` could. */
function destroyedBehind(values: number[], shape: number[], label: string): Tensor {
  const x = Tensor.fromArray(rt, Float32Array.from(values), shape, label);
  x.buffer.destroy();
  return x;
}

async function rejection(p: Promise<unknown>): Promise<GPUWorkError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(GPUWorkError);
  return e as GPUWorkError;
}

describe('GPUWorkError', () => {
  it('a waiting solve, per-sample and batch-shared, rejects instead of returning zeros, and frees what it made', async () => {
    for (const stepControl of ['per-sample', 'batch'] as const) {
      const y0 = destroyedBehind(Y0, [B, 2], 'y0');
      const live = rt.counters.liveBytes;
      const e = await rejection(odeint(f, y0, T, { stepControl }));
      expect(e.what).toMatch(/odeint/);
      expect(e.message).toMatch(/did not run/);
      expect(rt.counters.liveBytes).toBe(live);
      y0.destroy();
    }
    // The device said why, by now or soon after; the error carries what had arrived.
    await rt.readBuffer(f.params.buffer, 0, 4);
    expect(reported.length).toBeGreaterThan(0);
  });

  it('a batch-shared solve whose buffer is destroyed after its first chunks were submitted rejects (no stale summary read again)', async () => {
    // Long enough for more than the two chunks submitted at the start (8 + 16 shared attempts).
    const t = [0, 40];
    const opts = { stepControl: 'batch', rtol: 1e-7, atol: 1e-8 } as const;
    const full = await odeint(f, Float32Array.from(Y0), t, opts);
    expect(full.summary.accepted + full.summary.rejected).toBeGreaterThan(3 * (8 + 16));
    full.destroy();
    const y0 = Tensor.fromArray(rt, Float32Array.from(Y0), [B, 2], 'y0');
    const submits = rt.counters.submits;
    const solve = odeint(f, y0, t, opts).then(
      (sol) => {
        sol.destroy();
        return null;
      },
      (err: unknown) => err,
    );
    // Once both opening chunks are submitted (they run), later chunks are rejected.
    while (rt.counters.submits < submits + 2) await new Promise((r) => setTimeout(r, 0));
    y0.buffer.destroy();
    const e = await solve;
    expect(e).toBeInstanceOf(GPUWorkError);
    expect((e as GPUWorkError).what).toMatch(/odeint/);
    y0.destroy();
  });

  it('a deferred solve: check() rejects', async () => {
    const sol = await odeint(f, destroyedBehind(Y0, [B, 2], 'y0'), T, { deferred: true });
    const e = await rejection(sol.check());
    expect(e.what).toBe('Solution');
    sol.destroy();
  });

  it('a backward solve, waiting and deferred, whose cotangent buffer is gone', async () => {
    const sol = await odeint(f, Float32Array.from(Y0), T);
    const cot = () => destroyedBehind(new Array(T.length * B * 2).fill(0.1), [T.length, B, 2], 'dLdy');
    await rejection(sol.backward(cot()));
    const g = await sol.backward(cot(), { deferred: true });
    const e = await rejection(g.check());
    expect(e.what).toBe('Gradients');
    g.destroy();
    sol.destroy();
  });

  it('a wait-free training loop: no update from a solve that did not run; the next read rejects, once; the read after it is clean', async () => {
    const g = new MLP(rt, { layers: LAYERS, activation: 'tanh', seed: 5 });
    const model = new NeuralODE(g, { solver: { rtol: 1e-5, atol: 1e-6 } });
    const target = Tensor.fromArray(rt, new Float32Array(T.length * B * 2).fill(0.5), [T.length, B, 2], 'target');
    const good = { y0: Tensor.fromArray(rt, Y0, [B, 2], 'y0'), target, t: Float64Array.from(T) };
    const trainer = new Trainer(model, new Adam(model.parameters, { lr: 1e-2 }), new Loss(rt, 'mse'));
    expect(trainer.waitFree).toBe(true);
    const first = await trainer.step(good, { readLoss: true });
    expect(Number.isFinite(first.loss)).toBe(true);
    const before = await g.readParameters();
    const steps = trainer.optimizer.steps;
    const bad = { ...good, y0: destroyedBehind(Y0, [B, 2], 'y0') };
    await trainer.step(bad);
    await trainer.step(bad);
    const e = await rejection(trainer.step(good, { readLoss: true }));
    expect(e.what).toMatch(/^Trainer/);
    // The gate made no update from a forward solve that never ran, nor after it until the read.
    expect(Array.from(await g.readParameters())).toEqual(Array.from(before));
    expect(trainer.optimizer.steps).toBe(steps);
    const after = await trainer.step(good, { readLoss: true });
    expect(Number.isFinite(after.loss)).toBe(true);
    trainer.destroy();
    good.y0.destroy();
    target.destroy();
  });

  it('the runtime stays usable: a later solve matches the float64 reference', async () => {
    const params = await f.readParameters();
    const sol = await odeint(f, Float32Array.from(Y0), T, { rtol: 1e-6, atol: 1e-7 });
    const y = await sol.y.read();
    let worst = 0;
    for (let b = 0; b < B; b++) {
      const ref = solveAccurate((t, z) => Array.from(mlpForward(LAYERS, 'tanh', false, params, t, z)), [Y0[2 * b], Y0[2 * b + 1]], T);
      ref.forEach((r, k) => {
        for (let d = 0; d < 2; d++) worst = Math.max(worst, Math.abs(y[(k * B + b) * 2 + d] - r[d]));
      });
    }
    // dopri5 at rtol 1e-6, atol 1e-7 in float32 on |y| ≲ 1.5: a few 1e-6.
    expect(worst).toBeLessThan(2e-5);
    expect(sol.summary.nfe).toBeGreaterThan(0);
    sol.destroy();
  });
});
