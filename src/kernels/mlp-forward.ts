/**
 * The batched MLP evaluation kernel (mlp-forward.wgsl): f(t, z) for
 * every row of z, K samples per invocation as vec4 lanes (src/kernels/lanes.ts),
 * or one sample per invocation for widths whose lanes would not fit.
 */
import forwardSource from './mlp-forward.wgsl?raw';
import { lanesFor, lanesWgsl } from '../mlp/lanes';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { type MlpSpec, mlpOffsets, mlpWgsl, stateDim } from '../mlp/mlp';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

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

/** The compile-time spec of `MLP.forward`'s kernel: the MLP and how the kernel covers a batch. */
export interface MlpForwardSpec extends ForwardShape {
  readonly mlp: MlpSpec;
}

/** The spec of the kernel for an MLP: its own shape (`forwardShape`) unless `shape` overrides it (lanes 1: the one-sample kernel, for comparisons). */
export function mlpForwardSpec(mlp: MlpSpec, shape: ForwardShape = forwardShape(mlp)): MlpForwardSpec {
  return { mlp, lanes: shape.lanes, workgroupSize: shape.workgroupSize };
}

/** `MLP.forward`'s kernel (entry point `forward`). */
export const mlpForwardKernel = defineKernel({
  name: 'mlp-forward',
  bindings: (spec: MlpForwardSpec) => ({
    P: uniform(EVAL_PARAMS),
    theta: storage('read', 'f32', mlpOffsets(spec.mlp.layers).count),
    /** States [batch][D]. */
    z: storage('read'),
    /** f(t, z) [batch][D]. */
    out: storage('read_write'),
  }),
  entryPoints: ['forward'],
  wgsl: (spec: MlpForwardSpec, decls) =>
    fillTemplate(forwardSource, {
      BINDINGS: decls,
      D: stateDim(spec.mlp),
      LANES: spec.lanes,
      EVALUATE: spec.lanes === 1 ? `${mlpWgsl(spec.mlp)}\n\n${ONE_SAMPLE}` : lanesWgsl(spec.mlp, spec.lanes),
      WG: spec.workgroupSize,
    }),
});

/** Workgroups covering a batch of `batch` samples. */
export function forwardWorkgroups(spec: MlpForwardSpec, batch: number): number {
  return Math.ceil(batch / (spec.lanes * spec.workgroupSize));
}
