/**
 * Node-side checks of the lane integration kernel's selection
 * (`integrateKernelKind`): the default by batch size and fit, the option, and
 * the MLPs it refuses. Its numbers are tested in the browser
 * (test/gpu/solve-lanes.test.ts, bit for bit against the one-sample kernel).
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { TABLEAUX } from '../../src/methods/tableau';
import { INTEGRATE_LANES_MIN_BATCH, INTEGRATE_LANES_MIN_BATCH_GPU, LANE_SMALL_BATCH, integrateLanesFit, laneWorkgroup } from '../../src/kernels/integrate-lanes';
import { type AdapterKind, adapterKind } from '../../src/runtime/runtime';
import { integrateKernelKind } from '../../src/solver/odeint';
import { type OdeintOptions, resolveOptions } from '../../src/solver/options';
import type { MlpSpec } from '../../src/mlp/mlp';

const SPIRAL: MlpSpec = { layers: [2, 50, 2], activation: 'tanh', timeInput: false };
/** A hidden layer that is kept (not streamed) and too wide for four lanes: 4·(2·4 + 600 + 1) floats > 2,048. */
const WIDE: MlpSpec = { layers: [4, 600, 600, 4], activation: 'tanh', timeInput: false };

function kind(spec: MlpSpec, batch: number, options: OdeintOptions = {}, adapter: AdapterKind = 'cpu') {
  const { tableau, ...opts } = resolveOptions(options, { batch, flopsPerEvaluation: 200, adapter });
  return integrateKernelKind(spec, tableau, batch, opts, adapter);
}

describe('integration kernel choice', () => {
  it(`default on a CPU adapter: 'lanes' from ${INTEGRATE_LANES_MIN_BATCH} samples where the MLP fits, 'invocation' otherwise`, () => {
    expect(kind(SPIRAL, INTEGRATE_LANES_MIN_BATCH - 1)).toBe('invocation');
    expect(kind(SPIRAL, INTEGRATE_LANES_MIN_BATCH)).toBe('lanes');
    expect(kind(SPIRAL, 16_384, { method: 'rk4', stepSize: 0.1 })).toBe('lanes');
    expect(kind(SPIRAL, 16_384, { stepControl: 'batch' })).toBe('invocation');
    expect(integrateLanesFit(WIDE, TABLEAUX.dopri5)).toBe(false);
    expect(kind(WIDE, 16_384)).toBe('invocation');
    expect(integrateLanesFit({ layers: [2, 512, 2], activation: 'silu', timeInput: false }, TABLEAUX.dopri5)).toBe(true);
    expect(integrateLanesFit({ layers: [4, 256, 256, 4], activation: 'tanh', timeInput: false }, TABLEAUX.dopri5)).toBe(true);
  });

  it(`default on a GPU adapter: 'lanes' from ${INTEGRATE_LANES_MIN_BATCH_GPU} samples (B/4 invocations still fill a GPU)`, () => {
    expect(INTEGRATE_LANES_MIN_BATCH_GPU).toBe(65_536);
    expect(kind(SPIRAL, 1_024, {}, 'gpu')).toBe('invocation');
    expect(kind(SPIRAL, INTEGRATE_LANES_MIN_BATCH_GPU - 1, {}, 'gpu')).toBe('invocation');
    expect(kind(SPIRAL, INTEGRATE_LANES_MIN_BATCH_GPU, {}, 'gpu')).toBe('lanes');
    expect(kind(WIDE, INTEGRATE_LANES_MIN_BATCH_GPU, {}, 'gpu')).toBe('invocation');
    expect(kind(SPIRAL, 1_024, { kernel: 'lanes' }, 'gpu')).toBe('lanes');
  });

  it('the adapter kind: SwiftShader and fallback adapters compute on the CPU; anything else, or nothing known, is a GPU', () => {
    const info = (fields: Record<string, unknown>) => ({ vendor: '', architecture: '', device: '', description: '', ...fields }) as unknown as GPUAdapterInfo;
    expect(adapterKind(info({ vendor: 'google', architecture: 'swiftshader' }))).toBe('cpu');
    expect(adapterKind(info({ isFallbackAdapter: true }))).toBe('cpu');
    expect(adapterKind(info({ vendor: 'nvidia', architecture: 'ampere' }))).toBe('gpu');
    expect(adapterKind(info({ vendor: 'apple', architecture: 'metal-3', isFallbackAdapter: false }))).toBe('gpu');
    expect(adapterKind(null)).toBe('gpu');
  });

  it('the lane kernels\' workgroups: 4 invocations for a small batch on a CPU adapter (so it spreads over the cores), 64 otherwise', () => {
    expect(LANE_SMALL_BATCH).toBe(2_048);
    expect([1, 64, 256, LANE_SMALL_BATCH - 1].map((B) => laneWorkgroup('cpu', B))).toEqual([4, 4, 4, 4]);
    expect([LANE_SMALL_BATCH, 65_536].map((B) => laneWorkgroup('cpu', B))).toEqual([64, 64]);
    expect([1, 256, 65_536].map((B) => laneWorkgroup('gpu', B))).toEqual([64, 64, 64]);
  });

  it('the option wins; lanes on an MLP that does not fit is an ArgumentError', () => {
    expect(kind(SPIRAL, 1, { kernel: 'lanes' })).toBe('lanes');
    expect(kind(SPIRAL, 16_384, { kernel: 'invocation' })).toBe('invocation');
    expect(() => kind(WIDE, 8, { kernel: 'lanes' })).toThrow(ArgumentError);
  });
});
