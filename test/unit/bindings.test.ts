/**
 * Node-side checks of two bindings: every kernel that reads the parameters θ
 * binds them as an array of exactly the MLP's (or Linear layer's) P floats
 * (`thetaBindingWgsl`: constant indices checked when the shader compiles,
 * none clamped at run time), and the seed kernel, which starts a reverse
 * solve from the forward solve's per-sample state, fills its template and
 * packs its uniform as the WGSL struct declares it.
 */
import { describe, expect, it } from 'vitest';
import { getTableau } from '../../src/methods/tableau';
import { ADJOINT_PARAMS, adjointWgsl } from '../../src/kernels/adjoint';
import { adjointLanesWgsl } from '../../src/kernels/adjoint-lanes';
import { adjointWorkgroupWgsl } from '../../src/kernels/adjoint-workgroup';
import { backpropWgsl } from '../../src/kernels/backprop';
import { forwardWgsl } from '../../src/kernels/mlp-forward';
import { integrateWgsl } from '../../src/kernels/integrate';
import { linearParameterCount, linearWgsl } from '../../src/kernels/linear';
import { type MlpSpec, mlpOffsets, thetaBindingWgsl } from '../../src/mlp/mlp';
import { SEED_PARAMS, seedKernel } from '../../src/kernels/seed';
import { kernelWgsl } from '../../src/wgsl/kernel';
import { timeGradientWgsl } from '../../src/kernels/time-gradient';

describe('the parameters binding', () => {
  it('is an array of exactly P floats in every kernel that reads θ', () => {
    const mlp: MlpSpec = { layers: [3, 16, 2], activation: 'tanh', timeInput: true };
    const P = mlpOffsets(mlp.layers).count;
    const spec = { mlp, tableau: getTableau('dopri5') };
    const binding = thetaBindingWgsl(P);
    expect(binding).toBe(`@group(0) @binding(1) var<storage, read> theta: array<f32, ${P}>;`);
    const modules: [string, string][] = [
      ['integrate', integrateWgsl(spec)],
      ['forward (lanes)', forwardWgsl(mlp)],
      ['forward (one sample)', forwardWgsl(mlp, { lanes: 1, workgroupSize: 64 })],
      ['adjoint', adjointWgsl(spec)],
      ['adjoint lanes', adjointLanesWgsl(spec, ADJOINT_PARAMS.wgsl())],
      ['adjoint workgroup', adjointWorkgroupWgsl(spec, ADJOINT_PARAMS.wgsl())],
      ['backprop', backpropWgsl(spec)],
      ['time gradient', timeGradientWgsl(mlp)],
    ];
    for (const [name, code] of modules) {
      expect(code, name).toContain(binding);
      expect(code, name).not.toMatch(/theta: array<f32>;/);
    }
    const linear = { inFeatures: 3, outFeatures: 2 };
    expect(linearWgsl(linear)).toContain(thetaBindingWgsl(linearParameterCount(linear)));
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
