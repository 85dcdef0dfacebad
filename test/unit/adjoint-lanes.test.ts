/**
 * Node-side checks of the adjoint's lane kernel generator
 * (src/kernels/adjoint-lanes.ts): which MLPs it serves, where it keeps the
 * parameter rows and how much per-sample state the host allocates, and that
 * its WGSL fills the template completely for every method and activation.
 * The kernel's numbers are tested in the browser (test/gpu/adjoint-kernels.test.ts
 * and every adjoint test, which run it by default).
 */
import { describe, expect, it } from 'vitest';
import { METHOD_NAMES, getTableau } from '../../src/methods/tableau';
import {
  ADJOINT_LANES,
  LANES_VJP_FLOATS_MAX,
  adjointLanesFit,
  adjointLanesKernel,
  laneRows,
  lanesVjpFunctionFloats,
} from '../../src/kernels/adjoint-lanes';
import { ACTIVATIONS, type MlpSpec, mlpOffsets } from '../../src/mlp/mlp';
import { kernelWgsl, specKey } from '../../src/wgsl/kernel';
import { gradFromOutput } from '../../src/mlp/activations';

const spec = (layers: number[], timeInput = false): MlpSpec => ({ layers, activation: 'tanh', timeInput });

describe('which MLPs the lane kernel serves', () => {
  it('counts the vec4 arrays of vjp4: input, two or three per hidden unit, cotangents of output and input', () => {
    // [2, 50, 2] softplus: 4 · (2 + 3·50 + 2 + 2); tanh keeps no pre-activations: 4 · (2 + 2·50 + 2 + 2)
    expect(lanesVjpFunctionFloats([2, 50, 2], false, 'softplus')).toBe(4 * 156);
    expect(lanesVjpFunctionFloats([3, 50, 2], true, 'softplus')).toBe(4 * 157);
    expect(lanesVjpFunctionFloats([2, 50, 2], false, 'tanh')).toBe(4 * 106);
    expect(lanesVjpFunctionFloats([4, 64, 64, 4], false, 'tanh')).toBe(4 * (4 + 2 * 128 + 8));
    expect(gradFromOutput('tanh') && gradFromOutput('sigmoid') && gradFromOutput('identity')).toBe(true);
    expect(gradFromOutput('softplus') || gradFromOutput('relu') || gradFromOutput('silu')).toBe(false);
  });
  it('takes the spiral, circles and [4, 64, 64, 4] tanh models, not [2, 512, 2] or [4, 64, 64, 4] with softplus', () => {
    expect(adjointLanesFit(spec([2, 50, 2]))).toBe(true);
    expect(adjointLanesFit(spec([3, 64, 3], true))).toBe(true);
    expect(adjointLanesFit(spec([4, 64, 64, 4]))).toBe(true);
    expect(adjointLanesFit({ ...spec([4, 64, 64, 4]), activation: 'softplus' })).toBe(false);
    expect(adjointLanesFit(spec([2, 512, 2]))).toBe(false);
    expect(lanesVjpFunctionFloats([2, 141, 2], false, 'tanh')).toBeLessThanOrEqual(LANES_VJP_FLOATS_MAX);
    expect(lanesVjpFunctionFloats([2, 142, 2], false, 'tanh')).toBeGreaterThan(LANES_VJP_FLOATS_MAX);
  });
});

describe('parameter rows and per-sample state', () => {
  it('keeps both rows private for P ≤ 512, the step row alone up to 1,024, neither above', () => {
    const small = laneRows(spec([2, 50, 2])); // P = 252
    expect(small).toEqual({ stepLocal: true, accLocal: true, stateFloatsPerSample: 4, stateStride: 16 });
    const mid = laneRows(spec([2, 200, 2])); // P = 1,002
    expect(mlpOffsets([2, 200, 2]).count).toBe(1002);
    expect(mid).toEqual({ stepLocal: true, accLocal: false, stateFloatsPerSample: 4, stateStride: 16 });
    const big = laneRows(spec([8, 32, 32, 8])); // P = 1,640: the step row follows the lanes' [z, a]
    const P = mlpOffsets([8, 32, 32, 8]).count;
    expect(big.stepLocal).toBe(false);
    expect(big.stateFloatsPerSample).toBe(16 + Math.ceil(P / ADJOINT_LANES));
    expect(big.stateStride).toBeGreaterThanOrEqual(ADJOINT_LANES * 16 + P);
  });
});

describe('generated WGSL', () => {
  it('fills the template for every method and activation, with one entry point', () => {
    const keys = new Set<string>();
    for (const method of METHOD_NAMES) {
      for (const activation of ACTIVATIONS) {
        const s = { mlp: { layers: [2, 8, 2], activation, timeInput: method === 'dopri5' }, tableau: getTableau(method) };
        const code = kernelWgsl(adjointLanesKernel, { ...s, workgroup: 64 });
        expect(code).not.toMatch(/\$\{/);
        expect(code.match(/@compute/g)).toHaveLength(1);
        expect(code).toContain('fn adjoint(');
        expect(code).toContain(`const S: u32 = ${s.tableau.stages}u;`);
        keys.add(specKey(s));
      }
    }
    expect(keys.size).toBe(METHOD_NAMES.length * ACTIVATIONS.length);
  });

  it('calls the VJP from two places whatever the method: the stage loop (the redo included) and the initial step', () => {
    // Each call site inlines the whole VJP: five of them made the [2, 50, 2]
    // pipeline take 4.5 s to create on SwiftShader, two take 1.7 s.
    for (const method of METHOD_NAMES) {
      const code = kernelWgsl(adjointLanesKernel, { mlp: spec([4, 64, 64, 4]), tableau: getTableau(method), workgroup: 64 }).replace(/\/\/.*$/gm, '');
      expect(code.match(/\bfn vjp4\(/g), method).toHaveLength(1);
      expect(code.match(/\bvjp4\(/g), method).toHaveLength(3);
      expect(code.match(/\battempt_stages\(/g), method).toHaveLength(2);
    }
  });
});
