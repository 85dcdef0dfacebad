/**
 * Per-sample output times without a GPU: the validation of t given as B rows
 * (`validateSampleTimes`, the ArgumentError naming the row and index), and
 * the generated WGSL: with the `perSampleTimes` flag off, every kernel's
 * module is exactly the one generated without the flag (the shared-times
 * path is unchanged), and with it on, the integration module differs only in
 * the lines that read output times. That the per-sample module parses and
 * binds as its definition says is checked with every module in
 * wgsl-modules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { TABLEAUX } from '../../src/methods/tableau';
import type { MlpSpec } from '../../src/mlp/mlp';
import { isPerSampleTimes, validateSampleTimes } from '../../src/solver/options';
import { kernelWgsl } from '../../src/wgsl/kernel';
import { integrateKernel } from '../../src/kernels/integrate';
import { integrateLanesKernel } from '../../src/kernels/integrate-lanes';
import { adjointKernel } from '../../src/kernels/adjoint';
import { adjointLanesFit, adjointLanesKernel } from '../../src/kernels/adjoint-lanes';
import { adjointWorkgroupFits, adjointWorkgroupKernel } from '../../src/kernels/adjoint-workgroup';
import { backpropKernel } from '../../src/kernels/backprop';
import { timeGradientKernel } from '../../src/kernels/time-gradient';

function argumentError(fn: () => unknown): ArgumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    return e as ArgumentError;
  }
  throw new Error('expected an ArgumentError, nothing was thrown');
}

describe('validateSampleTimes', () => {
  const rows = [
    [0, 0.05, 0.1],
    [1, 2, 3],
    [-1, 0, 2],
  ];
  it('accepts B rows of T times in one direction, as arrays or Float32Arrays', () => {
    expect(validateSampleTimes(rows, 3).map((r) => Array.from(r))).toEqual(rows);
    expect(validateSampleTimes(rows.map((r) => Float32Array.from(r)), 3)[1][2]).toBe(3);
    expect(validateSampleTimes([[3, 2], [0.1, 0]], 2).length).toBe(2);
    expect(validateSampleTimes([[5], [7]], 2).length).toBe(2);
  });
  it('tells rows from shared times', () => {
    expect(isPerSampleTimes(rows)).toBe(true);
    expect(isPerSampleTimes([Float32Array.of(0, 1)])).toBe(true);
    expect(isPerSampleTimes([0, 1])).toBe(false);
    expect(isPerSampleTimes(Float32Array.of(0, 1))).toBe(false);
    expect(isPerSampleTimes([])).toBe(false);
  });
  it('names the row and the index of what is wrong', () => {
    let e = argumentError(() => validateSampleTimes([[0, 1], [0, 2, 1]], 2));
    expect(e.argument).toBe('t[1]');
    e = argumentError(() => validateSampleTimes([[0, 1, 2], [0, 1, 1]], 2));
    expect(e.argument).toBe('t[1]');
    expect(e.message).toContain('t[1][1] = 1, t[1][2] = 1');
    e = argumentError(() => validateSampleTimes([[0, 1], [0, Number.NaN]], 2));
    expect(e.argument).toBe('t[1][1]');
    e = argumentError(() => validateSampleTimes([[0, 1], [0, Infinity]], 2));
    expect(e.argument).toBe('t[1][1]');
    e = argumentError(() => validateSampleTimes([[0, 1, 2], [0, 1]], 2));
    expect(e.argument).toBe('t[1]');
    expect(e.expected).toContain('3 output times');
    e = argumentError(() => validateSampleTimes([[0, 1], [1, 0]], 2));
    expect(e.argument).toBe('t[1]');
    expect(e.expected).toContain('increasing');
    e = argumentError(() => validateSampleTimes([[0, 1], [0, 1]], 3));
    expect(e.argument).toBe('t');
    expect(e.expected).toContain('3 rows');
    e = argumentError(() => validateSampleTimes([[0, 1], []], 2));
    expect(e.argument).toBe('t[1]');
    // Distinct in float64 but not in float32: the kernel compares float32 times.
    e = argumentError(() => validateSampleTimes([[0, 1], [1, 1 + 1e-12]], 2));
    expect(e.argument).toBe('t[1]');
  });
});

const MLPS: MlpSpec[] = [
  { layers: [2, 8, 2], activation: 'tanh', timeInput: false },
  { layers: [3, 16, 16, 2], activation: 'softplus', timeInput: true },
];

describe('generated WGSL', () => {
  it('with perSampleTimes off, every kernel module is the one generated without the flag', () => {
    let compared = 0;
    for (const mlp of MLPS) {
      expect(kernelWgsl(timeGradientKernel, { ...mlp, perSampleTimes: false })).toBe(kernelWgsl(timeGradientKernel, mlp));
      expect(kernelWgsl(timeGradientKernel, mlp)).toContain('return tout[i];');
      for (const tableau of Object.values(TABLEAUX)) {
        const spec = { mlp, tableau };
        const off = { ...spec, perSampleTimes: false };
        expect(kernelWgsl(integrateKernel, off)).toBe(kernelWgsl(integrateKernel, spec));
        expect(kernelWgsl(integrateLanesKernel, { ...off, workgroup: 64 })).toBe(kernelWgsl(integrateLanesKernel, { ...spec, workgroup: 64 }));
        expect(kernelWgsl(adjointKernel, off)).toBe(kernelWgsl(adjointKernel, spec));
        expect(kernelWgsl(backpropKernel, off)).toBe(kernelWgsl(backpropKernel, spec));
        if (adjointLanesFit(mlp)) expect(kernelWgsl(adjointLanesKernel, { ...off, workgroup: 64 })).toBe(kernelWgsl(adjointLanesKernel, { ...spec, workgroup: 64 }));
        if (adjointWorkgroupFits(mlp)) expect(kernelWgsl(adjointWorkgroupKernel, off)).toBe(kernelWgsl(adjointWorkgroupKernel, spec));
        compared++;
        // The shared module reads the uniform's t0 and t_end and tout without a row offset.
        const shared = kernelWgsl(integrateKernel, spec);
        expect(shared).not.toMatch(/\btb\b/);
        expect(shared).toContain('try_step(P.t_end)');
        expect(shared).toContain('tout[smp.out_idx]');
        const adjointShared = kernelWgsl(adjointKernel, spec);
        expect(adjointShared).not.toMatch(/\btb\b/);
        expect(adjointShared).toContain('try_step(tout[smp.out_idx])');
      }
    }
    expect(compared).toBe(MLPS.length * Object.keys(TABLEAUX).length);
  });

  it('with perSampleTimes on, the integration, adjoint, backprop and time-gradient modules differ only where they read output times', () => {
    const differ = (shared: string, own: string, also = /$^/) => {
      const a = shared.split('\n');
      const b = own.split('\n');
      const added = b.filter((l) => !a.includes(l));
      const removed = a.filter((l) => !b.includes(l));
      expect(added.length).toBeGreaterThan(0);
      for (const l of [...added, ...removed]) {
        if (!also.test(l)) expect(l).toMatch(/tout|\btb\b|P\.t0|P\.t_end|^\/\/ Per-sample/);
      }
    };
    for (const mlp of MLPS) {
      differ(kernelWgsl(timeGradientKernel, mlp), kernelWgsl(timeGradientKernel, { ...mlp, perSampleTimes: true }));
      expect(kernelWgsl(timeGradientKernel, { ...mlp, perSampleTimes: true })).toContain('return tout[b * P.n_out + i];');
      for (const tableau of [TABLEAUX.dopri5, TABLEAUX.rk4]) {
        const own = kernelWgsl(integrateKernel, { mlp, tableau, perSampleTimes: true });
        differ(kernelWgsl(integrateKernel, { mlp, tableau }), own);
        expect(own).toContain('tout[tb + smp.out_idx]');
        expect(own).toContain('try_step(tout[tb + P.n_out - 1u])');
        const bp = kernelWgsl(backpropKernel, { mlp, tableau, perSampleTimes: true });
        differ(kernelWgsl(backpropKernel, { mlp, tableau }), bp);
        expect(bp).toContain('tb = g * P.n_out;');
        expect(bp).toContain('reset_controller(tout[tb]);');
        if (adjointLanesFit(mlp)) {
          const lanes = kernelWgsl(adjointLanesKernel, { mlp, tableau, perSampleTimes: true, workgroup: 64 });
          // The lane kernel's per-lane times: lane_times, and first_step / initial_step taking vec4 times.
          differ(kernelWgsl(adjointLanesKernel, { mlp, tableau, workgroup: 64 }), lanes, /lane_times|^ {2}var t = vec4|^ {2}return t;$|t0: (vec4<f32>|f32), t1|P\.first_step/);
          expect(lanes).toContain('first_step(lane_times(first, last), lane_times(first, last - 1u), hint, start)');
        }
        if (adjointWorkgroupFits(mlp)) {
          const wg = kernelWgsl(adjointWorkgroupKernel, { mlp, tableau, perSampleTimes: true });
          differ(kernelWgsl(adjointWorkgroupKernel, { mlp, tableau }), wg);
          expect(wg).toContain('tb = g * P.n_out;');
        }
        const adj = kernelWgsl(adjointKernel, { mlp, tableau, perSampleTimes: true });
        differ(kernelWgsl(adjointKernel, { mlp, tableau }), adj);
        expect(adj).toContain('tb = g * P.n_out;');
        expect(adj).toContain('try_step(tout[tb + smp.out_idx])');
      }
    }
  });
});
