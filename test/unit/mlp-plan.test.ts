/**
 * The per-layer plan of an MLP (src/mlp/plan.ts), which every emitter reads:
 * offsets, vector inputs, which layers are written out or stream the output,
 * and the one count of the vectors each form of the VJP keeps.
 */
import { describe, expect, it } from 'vitest';
import { forwardLaneFloats, mlpOffsets, mlpPlan, vjpFloats } from '../../src/mlp/plan';
import type { MlpSpec } from '../../src/mlp/mlp';

const spec = (layers: number[], activation: MlpSpec['activation'] = 'tanh', timeInput = false): MlpSpec => ({ layers, activation, timeInput });

describe('mlpPlan', () => {
  it('has the nn.Linear offsets, the time input outside the vector inputs, and the streamed last hidden layer', () => {
    const p = mlpPlan(spec([3, 6, 5, 2], 'softplus', true));
    expect(p.D).toBe(2);
    expect(p.params).toBe(mlpOffsets([3, 6, 5, 2]).count);
    expect(p.layers.map((L) => [L.weight, L.bias, L.vectorInputs])).toEqual([
      [0, 18, 2],
      [24, 54, 6],
      [59, 69, 5],
    ]);
    expect(p.layers.map((L) => L.streamsOutput)).toEqual([false, true, false]);
    expect(p.layers.map((L) => L.last)).toEqual([false, false, true]);
    expect(p.forwardLayers).toBe(2);
    expect(p.keepPreActivations).toBe(true);
    expect(mlpPlan(spec([5, 5])).forwardLayers).toBe(1);
  });

  it('writes narrow layers out in the lane VJP and unrolls narrow inputs in the one-sample forward', () => {
    const p = mlpPlan(spec([2, 50, 2]));
    expect(p.layers.map((L) => L.writtenOut)).toEqual([false, true]);
    expect(mlpPlan(spec([2, 512, 2])).layers.map((L) => L.unrolledInputs)).toEqual([true, false]);
  });

  it('counts the VJP vectors once for the three forms', () => {
    // x0 + (2 or 3)·hidden + d_out; lanes add the input gradient (×4 lanes), the workgroup adds f and the input gradient.
    const tanh = mlpPlan(spec([4, 64, 64, 4]));
    expect(vjpFloats(tanh, 'scalar')).toBe(4 + 3 * 128 + 4);
    expect(vjpFloats(tanh, 'lanes')).toBe(4 * (4 + 2 * 128 + 8));
    expect(vjpFloats(tanh, 'workgroup')).toBe(4 + 2 * 128 + 12);
    const softplus = mlpPlan(spec([3, 50, 2], 'softplus', true));
    expect(vjpFloats(softplus, 'lanes')).toBe(4 * 157);
    expect(vjpFloats(softplus, 'workgroup')).toBe(3 + 3 * 50 + 6);
  });

  it('counts the K-lane forward arrays: state, output, accumulator and the hidden layers that are not streamed', () => {
    expect(forwardLaneFloats(mlpPlan(spec([2, 123, 5, 2])), 16)).toBe(2048);
    expect(forwardLaneFloats(mlpPlan(spec([2, 681, 2])), 16)).toBe(16 * 5);
  });
});
