/**
 * Node-side checks of two bindings: every kernel that reads the parameters θ
 * binds them as an array of exactly the MLP's (or Linear layer's) P floats
 * (`storage('read', 'f32', P)`: constant indices checked when the shader
 * compiles, none clamped at run time), and the seed kernel, which starts a
 * reverse solve from the forward solve's per-sample state, fills its template
 * and packs its uniform as the WGSL struct declares it.
 */
import { describe, expect, it } from 'vitest';
import { getTableau } from '../../src/methods/tableau';
import { adjointKernel } from '../../src/kernels/adjoint';
import { adjointLanesKernel } from '../../src/kernels/adjoint-lanes';
import { adjointWorkgroupKernel } from '../../src/kernels/adjoint-workgroup';
import { backpropKernel } from '../../src/kernels/backprop';
import { mlpForwardKernel, mlpForwardSpec } from '../../src/kernels/mlp-forward';
import { integrateKernel } from '../../src/kernels/integrate';
import { linearKernel, linearParameterCount } from '../../src/kernels/linear';
import { type MlpSpec, mlpOffsets } from '../../src/mlp/mlp';
import { SEED_PARAMS, seedKernel } from '../../src/kernels/seed';
import { kernelWgsl } from '../../src/wgsl/kernel';
import { timeGradientKernel } from '../../src/kernels/time-gradient';

describe('the parameters binding', () => {
  it('is an array of exactly P floats in every kernel that reads θ', () => {
    const mlp: MlpSpec = { layers: [3, 16, 2], activation: 'tanh', timeInput: true };
    const P = mlpOffsets(mlp.layers).count;
    const spec = { mlp, tableau: getTableau('dopri5') };
    const binding = `@group(0) @binding(1) var<storage, read> theta: array<f32, ${P}>;`;
    const modules: [string, string][] = [
      ['integrate', kernelWgsl(integrateKernel, spec)],
      ['forward (lanes)', kernelWgsl(mlpForwardKernel, mlpForwardSpec(mlp))],
      ['forward (one sample)', kernelWgsl(mlpForwardKernel, mlpForwardSpec(mlp, { lanes: 1, workgroupSize: 64 }))],
      ['adjoint', kernelWgsl(adjointKernel, spec)],
      ['adjoint lanes', kernelWgsl(adjointLanesKernel, { ...spec, workgroup: 64 })],
      ['adjoint workgroup', kernelWgsl(adjointWorkgroupKernel, spec)],
      ['backprop', kernelWgsl(backpropKernel, spec)],
      ['time gradient', kernelWgsl(timeGradientKernel, mlp)],
    ];
    for (const [name, code] of modules) {
      expect(code, name).toContain(binding);
      expect(code, name).not.toMatch(/theta: array<f32>;/);
    }
    const linear = { inFeatures: 3, outFeatures: 2 };
    expect(kernelWgsl(linearKernel, linear)).toContain(
      `@group(0) @binding(1) var<storage, read> theta: array<f32, ${linearParameterCount(linear)}>;`,
    );
  });
});

describe('the seed kernel', () => {
  it('fills its template, declares `seed` and packs its uniform in the struct order', () => {
    const code = kernelWgsl(seedKernel, null);
    expect(code).not.toContain('${');
    expect(code).toMatch(/fn seed\(/);
    expect(code).toContain('struct SeedParams');
    const bytes = new DataView(SEED_PARAMS.pack({ count: 5, offset: 7 }));
    expect([0, 4].map((o) => bytes.getUint32(o, true))).toEqual([5, 7]);
    expect(SEED_PARAMS.byteSize).toBe(16);
  });
});
