/**
 * Node-side checks of the adjoint's workgroup kernel generator
 * (src/kernels/adjoint-workgroup.ts): how the parameters are split into the
 * invocations' private slices, which MLPs it serves, which kernel a backward
 * solve chooses by default, and that its WGSL fills the template for every
 * method and activation. Its numbers are tested in the browser
 * (test/gpu/adjoint-kernels.test.ts, test/gpu/adjoint-vjp.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { adjointKernelKind } from '../../src/gradients/adjoint';
import { ArgumentError } from '../../src/errors';
import { METHOD_NAMES, getTableau } from '../../src/methods/tableau';
import {
  ADJOINT_WORKGROUP_SIZE,
  adjointWorkgroupFits,
  adjointWorkgroupKernel,
  workgroupSlices,
  workgroupVectorFloats,
} from '../../src/kernels/adjoint-workgroup';
import { ACTIVATIONS, type MlpSpec, mlpOffsets } from '../../src/mlp/mlp';
import { kernelWgsl, specKey } from '../../src/wgsl/kernel';

const spec = (layers: number[], timeInput = false): MlpSpec => ({ layers, activation: 'tanh', timeInput });

describe('parameter slices', () => {
  it('gives every parameter exactly one owner and slot: invocation p mod 64 of its segment, slot + ⌊p / 64⌋', () => {
    for (const layers of [[2, 50, 2], [4, 64, 64, 4], [3, 130, 70, 2], [2, 512, 2]]) {
      const { segments, slice } = workgroupSlices(layers);
      const params = new Set<number>();
      const owners = new Set<string>();
      for (const seg of segments.flat()) {
        for (let e = 0; e < seg.count; e++) {
          params.add(seg.base + e);
          owners.add(`${e % ADJOINT_WORKGROUP_SIZE}/${seg.slot + Math.floor(e / ADJOINT_WORKGROUP_SIZE)}`);
        }
      }
      expect(params.size).toBe(mlpOffsets(layers).count);
      expect(owners.size).toBe(mlpOffsets(layers).count);
      expect(slice).toBe(segments.flat().reduce((s, g) => s + Math.ceil(g.count / ADJOINT_WORKGROUP_SIZE), 0));
    }
    // [4, 64, 64, 4]: weights 256 / 4,096 / 256 and biases 64 / 64 / 4 → 4 + 1 + 64 + 1 + 4 + 1 slots.
    expect(workgroupSlices([4, 64, 64, 4]).slice).toBe(75);
  });
});

describe('which MLPs the workgroup kernel serves', () => {
  it('counts its workgroup vectors and bounds them and the slices', () => {
    // input, outputs and cotangents of the hidden layers (and pre-activations unless σ' comes from the output), a, f, input gradient
    expect(workgroupVectorFloats(spec([4, 64, 64, 4]))).toBe(4 + 2 * 128 + 12);
    expect(workgroupVectorFloats({ ...spec([2, 50, 2], true), activation: 'softplus' })).toBe(2 + 3 * 50 + 6);
    expect(adjointWorkgroupFits(spec([4, 64, 64, 4]))).toBe(true);
    expect(adjointWorkgroupFits(spec([2, 512, 2]))).toBe(true);
    expect(adjointWorkgroupFits(spec([2, 2048, 2]))).toBe(false); // vectors: 4,102 floats
    expect(adjointWorkgroupFits(spec([4, 256, 256, 4]))).toBe(false); // slice: 1,024 + … floats
  });
});

describe('the default kernel', () => {
  it("is 'workgroup' for 1 or 2 samples of an MLP of ≥ 1,024 parameters, 'lanes' from 8 samples where it fits, else 'invocation'", () => {
    expect(adjointKernelKind(spec([4, 64, 64, 4]), 1, undefined)).toBe('workgroup');
    expect(adjointKernelKind(spec([4, 64, 64, 4]), 2, undefined)).toBe('workgroup');
    expect(adjointKernelKind(spec([4, 64, 64, 4]), 3, undefined)).toBe('invocation');
    expect(adjointKernelKind(spec([4, 64, 64, 4]), 8, undefined)).toBe('lanes');
    expect(adjointKernelKind(spec([2, 50, 2]), 1, undefined)).toBe('invocation');
    expect(adjointKernelKind(spec([2, 512, 2]), 8, undefined)).toBe('invocation');
    expect(adjointKernelKind(spec([2, 2048, 2]), 1, undefined)).toBe('invocation');
  });
  it('takes a kernel that fits and rejects one that does not, or an unknown name, with ArgumentError', () => {
    expect(adjointKernelKind(spec([2, 50, 2]), 100, 'workgroup')).toBe('workgroup');
    expect(() => adjointKernelKind(spec([2, 2048, 2]), 1, 'workgroup')).toThrow(ArgumentError);
    expect(() => adjointKernelKind(spec([2, 512, 2]), 1, 'lanes')).toThrow(ArgumentError);
    expect(() => adjointKernelKind(spec([2, 50, 2]), 1, 'warp' as never)).toThrow(/options\.kernel/);
  });
});

describe('generated WGSL', () => {
  it('fills the template for every method and activation, with one entry point and a barrier per layer and sweep', () => {
    const keys = new Set<string>();
    for (const method of METHOD_NAMES) {
      for (const activation of ACTIVATIONS) {
        const s = { mlp: { layers: [2, 8, 8, 2], activation, timeInput: method === 'dopri5' }, tableau: getTableau(method) };
        const code = kernelWgsl(adjointWorkgroupKernel, s);
        expect(code).not.toMatch(/\$\{/);
        expect(code.match(/@compute/g)).toHaveLength(1);
        expect(code).toContain('fn adjoint(');
        expect(code.match(/workgroupBarrier\(\)/g)).toHaveLength(6);
        keys.add(specKey(s));
      }
    }
    expect(keys.size).toBe(METHOD_NAMES.length * ACTIVATIONS.length);
  });
});
