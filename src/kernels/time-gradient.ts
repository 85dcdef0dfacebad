/**
 * dL/dt at every output time (time-gradient.wgsl): per-sample terms
 * f(t_i, y_i) · (cotangent), summed over the batch by the reduction kernel.
 */
import timeGradientSource from './time-gradient.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { type MlpSpec, mlpOffsets, mlpWgsl, stateDim } from '../mlp/mlp';

export const TIME_GRADIENT_WORKGROUP = 64;

export const TIME_GRADIENT_PARAMS = new StructLayout('TimeGradientParams', [
  ['batch', 'u32'],
  ['n_out', 'u32'],
] as const);

/** Per-sample terms of dL/dt_i (entry point `time_gradient`); the spec is the MLP. */
export const timeGradientKernel = defineKernel({
  name: 'time-gradient',
  bindings: (mlp: MlpSpec) => ({
    P: uniform(TIME_GRADIENT_PARAMS),
    theta: storage('read', 'f32', mlpOffsets(mlp.layers).count),
    /** The forward solve's outputs, [n_out][batch][D]. */
    ysol: storage('read'),
    tout: storage('read'),
    /** Loss cotangents dL/dy, [n_out][batch][D]. */
    cot: storage('read'),
    /** dL/dy0 from the backward solve, [batch][D]. */
    gy0: storage('read'),
    /** Per-sample terms, [batch][n_out]. */
    terms: storage('read_write'),
  }),
  entryPoints: ['time_gradient'],
  wgsl: (mlp: MlpSpec, decls) =>
    fillTemplate(timeGradientSource, { BINDINGS: decls, D: stateDim(mlp), MLP: mlpWgsl(mlp), WG: TIME_GRADIENT_WORKGROUP }),
});
