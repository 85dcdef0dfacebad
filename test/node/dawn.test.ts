/**
 * webode in Node on Dawn (the `webgpu` npm package), no browser: a forward
 * solve, adjoint gradients, training steps and argument errors, each against
 * an independent reference — the float64 MLP and a tight float64 dopri5
 * (test/reference), central finite differences of that reference, the loss
 * before training.
 */
import { dawnGpu } from './setup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Adam, ArgumentError, Loss, MLP, NeuralODE, type Runtime, Tensor, Trainer, createRuntime, odeint } from '../../src/index';
import { mlpForward } from '../reference/mlp';
import { solveAccurate } from '../reference/solve';

const LAYERS = [2, 16, 2];
const T = [0, 0.5, 1];
const Y0 = [1, 0, 0, 1, -0.5, 0.5, 0.3, -0.8, 0.9, 0.2];
const B = Y0.length / 2;
let rt: Runtime;

beforeAll(async () => {
  rt = await createRuntime({ gpu: dawnGpu() });
});
afterAll(() => rt?.destroy());

/** The float64 solution of every sample at every output time, [T][B][D]. */
function reference(params: ArrayLike<number>, y0: readonly number[]): number[] {
  const out = new Array<number>(T.length * y0.length);
  for (let b = 0; b < y0.length / 2; b++) {
    const ys = solveAccurate((t, y) => Array.from(mlpForward(LAYERS, 'tanh', false, params, t, y)), [y0[2 * b], y0[2 * b + 1]], T);
    ys.forEach((y, k) => {
      out[(k * B + b) * 2] = y[0];
      out[(k * B + b) * 2 + 1] = y[1];
    });
  }
  return out;
}

describe('Node, Dawn', () => {
  it('a runtime takes Dawn as its GPU, and rejects what is not one', async () => {
    expect(rt.device).toBeTruthy();
    // Dawn here runs on SwiftShader: a CPU adapter, whose defaults (the lane kernel from 64 samples) apply.
    expect(rt.adapterInfo?.architecture).toBe('swiftshader');
    expect(rt.adapterKind).toBe('cpu');
    await expect(createRuntime({ gpu: 5 as unknown as GPU })).rejects.toBeInstanceOf(ArgumentError);
  });

  it('odeint (dopri5, rtol 1e-6, atol 1e-7) matches a float64 reference to 2e-5', async () => {
    const f = new MLP(rt, { layers: LAYERS, activation: 'tanh', seed: 3 });
    const params = await f.readParameters();
    const sol = await odeint(f, Y0, T, { rtol: 1e-6, atol: 1e-7 });
    const y = await sol.y.read();
    const ref = reference(params, Y0);
    const err = Math.max(...ref.map((r, i) => Math.abs(r - y[i])));
    console.log(`[node] forward max abs error ${err.toExponential(2)} (nfe ${sol.summary.nfe}, host waits ${sol.summary.hostWaits})`);
    expect(err).toBeLessThan(2e-5);
    expect(sol.summary.hostWaits).toBe(1);
    sol.destroy();
    f.destroy();
  });

  it('adjoint dL/dy0 matches central finite differences of the float64 reference to 1e-4 relative', async () => {
    const f = new MLP(rt, { layers: LAYERS, activation: 'tanh', seed: 4 });
    const params = await f.readParameters();
    // L = Σ w · y over every output, w fixed.
    const w = Array.from({ length: T.length * Y0.length }, (_, i) => Math.sin(1 + i));
    const loss = (y0: number[]) => reference(params, y0).reduce((s, v, i) => s + w[i] * v, 0);
    const sol = await odeint(f, Y0, T, { rtol: 1e-6, atol: 1e-7 });
    const g = await sol.backward(Float32Array.from(w), { rtol: 1e-6, atol: 1e-7 });
    const gy0 = await g.y0.read();
    const eps = 1e-4;
    const fd = Y0.map((_, i) => {
      const up = [...Y0];
      const down = [...Y0];
      up[i] += eps;
      down[i] -= eps;
      return (loss(up) - loss(down)) / (2 * eps);
    });
    const scale = Math.max(...fd.map(Math.abs));
    const err = Math.max(...fd.map((d, i) => Math.abs(d - gy0[i]))) / scale;
    console.log(`[node] adjoint dL/dy0 relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    g.destroy();
    sol.destroy();
    f.destroy();
  });

  it('training steps (Adam, MSE) on a fixed batch lower the loss', async () => {
    const f = new MLP(rt, { layers: LAYERS, activation: 'tanh', seed: 5 });
    const model = new NeuralODE(f, { solver: { rtol: 1e-5, atol: 1e-6 } });
    // Targets: the rotation y(t) = R(t) y0 at the output times.
    const target = T.flatMap((t) => Array.from({ length: B }, (_, b) => [Y0[2 * b] * Math.cos(t) + Y0[2 * b + 1] * Math.sin(t), -Y0[2 * b] * Math.sin(t) + Y0[2 * b + 1] * Math.cos(t)]).flat());
    const batch = {
      y0: Tensor.fromArray(rt, Y0, [B, 2], 'y0'),
      target: Tensor.fromArray(rt, target, [T.length, B, 2], 'target'),
      t: Float64Array.from(T),
    };
    const trainer = new Trainer(model, new Adam(model.parameters, { lr: 1e-2 }), new Loss(rt, 'mse'));
    const first = await trainer.step(batch, { readLoss: true });
    for (let i = 0; i < 30; i++) await trainer.step(batch);
    const last = await trainer.step(batch, { readLoss: true });
    console.log(`[node] training loss ${first.loss} → ${last.loss} over 32 steps`);
    expect(last.loss).toBeLessThan(0.5 * (first.loss ?? 0));
    trainer.destroy();
    batch.y0.destroy();
    batch.target.destroy();
  });

  it('bad input is an ArgumentError before any GPU work', async () => {
    const f = new MLP(rt, { layers: LAYERS, activation: 'tanh' });
    const before = rt.counters.dispatches;
    await expect(odeint(f, [1, 2, 3], T)).rejects.toBeInstanceOf(ArgumentError);
    await expect(odeint(f, Y0, [0, 0])).rejects.toBeInstanceOf(ArgumentError);
    expect(rt.counters.dispatches).toBe(before);
    f.destroy();
  });
});
