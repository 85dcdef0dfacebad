/**
 * Node-side checks of the training kernels' generators and host helpers:
 * every WGSL module fills its template completely and declares its entry
 * points; specs (the cache keys' spec part) differ whenever the generated code differs; uniform
 * structs pack and unpack consistently; the host copy of the sampler's PCG
 * hash is deterministic, in range and seed-dependent; the demo's data
 * generators produce the documented data; and the float64 optimizer
 * references behave as PyTorch documents on their first step.
 */
import { describe, expect, it } from 'vitest';
import { CIRCLES, SPIRAL, circlesData, spiralData, spiralField } from '../../demo/experiments';
import type { StructLayout } from '../../src/wgsl/layout';
import { LINEAR_PARAMS, linearKernel } from '../../src/kernels/linear';
import { LOSS_KINDS, LOSS_PARAMS, LOSS_WORKGROUP, MASKED_LOSS_KINDS, MASKED_LOSS_PARAMS, UNMASKED_LOSS_KINDS, lossKernel, maskedLossKernel } from '../../src/kernels/loss';
import { ADAM_PARAMS, SGD_PARAMS, optimKernel } from '../../src/kernels/optim';
import { MINIBATCH_PARAMS, minibatchKernel, pcgHash, sampleIndex } from '../../src/kernels/minibatch';
import { kernelWgsl, specKey } from '../../src/wgsl/kernel';
import { adamRef, sgdRef } from '../gpu/train-reference';

/** Field i holds 0.5 + i (f32) or 3 + i (u32) at byte 4·i, as the WGSL struct of 4-byte scalars lays it out. */
function roundTrip<K extends string>(layout: StructLayout<K>): void {
  const bytes = new DataView(new ArrayBuffer(layout.byteSize));
  layout.fields.forEach(([, t], i) => (t === 'f32' ? bytes.setFloat32(4 * i, 0.5 + i, true) : bytes.setUint32(4 * i, 3 + i, true)));
  const values = layout.unpack(bytes);
  layout.fields.forEach(([k, t], i) => expect(values[k]).toBe(t === 'f32' ? 0.5 + i : 3 + i));
  expect(new Uint8Array(layout.pack(values))).toEqual(new Uint8Array(bytes.buffer));
  expect(layout.byteSize % 16).toBe(0);
  expect(layout.wgsl()).toContain(`struct ${layout.name}`);
}

describe('generated WGSL', () => {
  it('fills every template marker and declares the entry points', () => {
    const modules: [string, string, string[]][] = [
      ...UNMASKED_LOSS_KINDS.map((k): [string, string, string[]] => [`loss ${k}`, kernelWgsl(lossKernel, k), ['items', 'total']]),
      ...MASKED_LOSS_KINDS.map((k): [string, string, string[]] => [`masked loss ${k}`, kernelWgsl(maskedLossKernel, k), ['items', 'total']]),
      ['sgd', kernelWgsl(optimKernel, 'sgd'), ['optimize']],
      ['adam', kernelWgsl(optimKernel, 'adam'), ['optimize']],
      ['linear', kernelWgsl(linearKernel, { inFeatures: 3, outFeatures: 2 }), ['forward', 'backward_input', 'backward_params']],
      ['minibatch', kernelWgsl(minibatchKernel, null), ['windows', 'points']],
    ];
    for (const [key, code, entries] of modules) {
      expect(code, key).not.toContain('${');
      for (const e of entries) expect(code, key).toMatch(new RegExp(`fn ${e}\\(`));
    }
    expect(kernelWgsl(lossKernel, 'mse')).toContain(`@workgroup_size(${LOSS_WORKGROUP})`);
  });

  it('gives distinct cache keys to distinct code', () => {
    const keys = new Set([...LOSS_KINDS.map(specKey), specKey('sgd'), specKey('adam')]);
    expect(keys.size).toBe(LOSS_KINDS.length + 2);
    const codes = new Set([
      ...UNMASKED_LOSS_KINDS.map((k) => kernelWgsl(lossKernel, k)),
      ...MASKED_LOSS_KINDS.map((k) => kernelWgsl(maskedLossKernel, k)),
    ]);
    expect(codes.size).toBe(LOSS_KINDS.length);
    expect(kernelWgsl(optimKernel, 'sgd')).not.toBe(kernelWgsl(optimKernel, 'adam'));
    expect(specKey({ inFeatures: 3, outFeatures: 2 })).not.toBe(specKey({ inFeatures: 2, outFeatures: 3 }));
    expect(kernelWgsl(linearKernel, { inFeatures: 3, outFeatures: 2 })).not.toBe(kernelWgsl(linearKernel, { inFeatures: 2, outFeatures: 3 }));
  });

  it('packs uniforms as the WGSL structs declare them', () => {
    roundTrip(LOSS_PARAMS);
    roundTrip(MASKED_LOSS_PARAMS);
    roundTrip(SGD_PARAMS);
    roundTrip(ADAM_PARAMS);
    roundTrip(LINEAR_PARAMS);
    roundTrip(MINIBATCH_PARAMS);
  });
});

describe('sampler hash', () => {
  it('is deterministic, in range, and depends on seed, draw and sample', () => {
    const a = Array.from({ length: 64 }, (_, b) => sampleIndex(7, 3, b, 991));
    expect(a).toEqual(Array.from({ length: 64 }, (_, b) => sampleIndex(7, 3, b, 991)));
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 991)).toBe(true);
    expect(a).not.toEqual(Array.from({ length: 64 }, (_, b) => sampleIndex(8, 3, b, 991)));
    expect(a).not.toEqual(Array.from({ length: 64 }, (_, b) => sampleIndex(7, 4, b, 991)));
    expect(new Set(a).size).toBeGreaterThan(55);
    for (const v of [0, 1, 0xffffffff, 123456789]) {
      const h = pcgHash(v);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });
});

describe('demo data', () => {
  it('spiral: the documented grid, y0 and dynamics', () => {
    const { t, y } = spiralData();
    expect(t.length).toBe(SPIRAL.points);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBeCloseTo(SPIRAL.tEnd, 12);
    expect([y[0], y[1]]).toEqual([2, 0]);
    // The derivative at y0 from the data's first step agrees with A·y0³ to the step's O(h) accuracy.
    const h = t[1] - t[0];
    const f0 = spiralField([2, 0]);
    expect(f0).toEqual([-0.8, -16]);
    expect(Math.abs((y[2] - y[0]) / h - f0[0])).toBeLessThan(2);
    expect(Math.abs((y[3] - y[1]) / h - f0[1])).toBeLessThan(2);
    // The spiral winds inwards: the radius at t = 25 is about 0.52.
    expect(Math.hypot(y[2 * 999], y[2 * 999 + 1])).toBeGreaterThan(0.45);
    expect(Math.hypot(y[2 * 999], y[2 * 999 + 1])).toBeLessThan(0.6);
  });

  it('circles: half inside r1 labelled 0, half between r2 and r3 labelled 1', () => {
    const { x, labels } = circlesData(1000, 3);
    for (let i = 0; i < 1000; i++) {
      const r = Math.hypot(x[2 * i], x[2 * i + 1]);
      if (labels[i] === 0) expect(r).toBeLessThanOrEqual(CIRCLES.r1 + 1e-6);
      else {
        expect(r).toBeGreaterThanOrEqual(CIRCLES.r2 - 1e-6);
        expect(r).toBeLessThanOrEqual(CIRCLES.r3 + 1e-6);
      }
    }
    expect(labels.reduce((a, b) => a + b, 0)).toBe(500);
  });
});

describe('float64 optimizer references', () => {
  it("Adam's first step moves every coordinate by lr against the gradient's sign (bias correction)", () => {
    const theta = [0.5, -1, 2];
    const [after] = adamRef(theta, [[3, -0.001, 1e-3]], { lr: 0.1 });
    // m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε).
    after.forEach((v, i) => expect(v).toBeCloseTo(theta[i] - 0.1 * Math.sign([3, -0.001, 1e-3][i]), 4));
  });

  it('SGD with momentum starts its buffer at the first gradient (no dampening on step 1)', () => {
    const [s1, s2] = sgdRef([1], [[1], [1]], { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    expect(s1[0]).toBeCloseTo(0.9, 12);
    // b2 = 0.9·1 + 0.5·1 = 1.4
    expect(s2[0]).toBeCloseTo(0.9 - 0.14, 12);
  });
});
