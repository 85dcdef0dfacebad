/**
 * The batched MLP evaluation kernel (mlp-forward.wgsl): f(t, z) for
 * every row of z, K samples per invocation as vec4 lanes (src/kernels/lanes.ts),
 * or one sample per invocation for widths whose lanes would not fit.
 */
import forwardSource from './mlp-forward.wgsl?raw';
import { lanesFor, lanesWgsl } from '../mlp/lanes';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { type MlpSpec, mlpKey, mlpOffsets, mlpWgsl, stateDim, thetaBindingWgsl } from '../mlp/mlp';

export const EVAL_PARAMS = new StructLayout('EvalParams', [
  ['batch', 'u32'],
  ['t', 'f32'],
] as const);

/** How the forward kernel covers a batch. */
export interface ForwardShape {
  /** Samples per invocation (K). */
  readonly lanes: number;
  /** Invocations per workgroup. */
  readonly workgroupSize: number;
}

/**
 * K from the layer widths (lanesFor); 64 invocations of one sample, or 16
 * invocations of K samples, so a workgroup covers at most 256 samples and a
 * batch of 1,024 still spreads over several cores.
 */
export function forwardShape(spec: MlpSpec): ForwardShape {
  const lanes = lanesFor(spec.layers);
  return { lanes, workgroupSize: lanes === 1 ? 64 : 16 };
}

/** One sample per invocation: the state into `mlp_in`, `mlp_eval`, `mlp_out` out. */
const ONE_SAMPLE = `fn evaluate(first: u32) {
  for (var d = 0u; d < D; d++) { mlp_in[d] = z[first * D + d]; }
  mlp_eval(P.t);
  for (var d = 0u; d < D; d++) { out[first * D + d] = mlp_out[d]; }
}`;

/** The pipeline cache key: the MLP, K and the workgroup size. */
export function forwardKey(spec: MlpSpec): string {
  const { lanes, workgroupSize } = forwardShape(spec);
  return `forward|${mlpKey(spec)}|K${lanes}|wg${workgroupSize}`;
}

/**
 * The WGSL module of the forward kernel for this spec (entry point
 * `forward`); `shape` overrides the lane count and workgroup size (lanes 1:
 * the one-sample kernel, for comparisons).
 */
export function forwardWgsl(spec: MlpSpec, shape: ForwardShape = forwardShape(spec)): string {
  const { lanes, workgroupSize } = shape;
  return fillTemplate(forwardSource, {
    PARAMS_STRUCT: EVAL_PARAMS.wgsl(),
    D: stateDim(spec),
    LANES: lanes,
    THETA_BINDING: thetaBindingWgsl(mlpOffsets(spec.layers).count),
    EVALUATE: lanes === 1 ? `${mlpWgsl(spec)}\n\n${ONE_SAMPLE}` : lanesWgsl(spec, lanes),
    WG: workgroupSize,
  });
}

/** Workgroups covering a batch of `batch` samples. */
export function forwardWorkgroups(spec: MlpSpec, batch: number): number {
  const { lanes, workgroupSize } = forwardShape(spec);
  return Math.ceil(batch / (lanes * workgroupSize));
}
