/**
 * dL/dt at every output time (time-gradient.wgsl): per-sample terms
 * f(t_i, y_i) · (cotangent), four samples per invocation on the lane MLP,
 * summed over the batch by the reduction kernel.
 */
import timeGradientSource from './time-gradient.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { type MlpSpec, mlpOffsets, stateDim } from '../mlp/mlp';
import { activationWgsl } from '../mlp/activations';
import { laneRhsWgsl } from '../mlp/lanes';

/** Samples per invocation of the time-gradient kernel. */
export const TIME_GRADIENT_LANES = 4;
/** Invocations per workgroup of the time-gradient kernel. */
export const TIME_GRADIENT_WORKGROUP = 64;

/** Workgroups of the time-gradient kernel for `batch` samples. */
export function timeGradientWorkgroups(batch: number): number {
  return Math.ceil(batch / (TIME_GRADIENT_LANES * TIME_GRADIENT_WORKGROUP));
}

export const TIME_GRADIENT_PARAMS = new StructLayout('TimeGradientParams', [
  ['batch', 'u32'],
  ['n_out', 'u32'],
] as const);

/**
 * The spec of the time-gradient kernel: the MLP, and `perSampleTimes` when
 * each sample has its own output times (`tout` [batch][n_out], the terms
 * then being dL/dt[b][i] themselves); absent or false, the module is exactly
 * the one generated from the MLP alone.
 */
export type TimeGradientSpec = MlpSpec & { readonly perSampleTimes?: boolean };

/** Per-sample terms of dL/dt_i (entry point `time_gradient`). */
export const timeGradientKernel = defineKernel({
  name: 'time-gradient',
  bindings: (mlp: TimeGradientSpec) => ({
    P: uniform(TIME_GRADIENT_PARAMS),
    theta: storage('read', 'f32', mlpOffsets(mlp.layers).count),
    /** The forward solve's outputs, [n_out][batch][D]. */
    ysol: storage('read'),
    /** Output times [n_out], or [batch][n_out] with perSampleTimes. */
    tout: storage('read'),
    /** Loss cotangents dL/dy, [n_out][batch][D]. */
    cot: storage('read'),
    /** dL/dy0 from the backward solve, [batch][D]. */
    gy0: storage('read'),
    /** Per-sample terms, [batch][n_out]. */
    terms: storage('read_write'),
  }),
  entryPoints: ['time_gradient'],
  wgsl: (spec: TimeGradientSpec, decls) => {
    const { perSampleTimes, ...mlp } = spec;
    return fillTemplate(timeGradientSource, {
      BINDINGS: decls,
      D: stateDim(mlp),
      ACT: activationWgsl(mlp.activation, 4),
      MLP: laneRhsWgsl(mlp, 'rhs4'),
      WG: TIME_GRADIENT_WORKGROUP,
      TOUT_I: perSampleTimes === true ? 'b * P.n_out + i' : 'i',
    });
  },
});
