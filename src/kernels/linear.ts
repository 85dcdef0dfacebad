/**
 * The Linear readout kernels (linear.wgsl): forward y = W x + b and
 * the vector–Jacobian products for dL/dx and dL/dθ. The compile-time spec is
 * the pair of widths; batch and buffer offsets are uniforms.
 */
import linearSource from './linear.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';
import { thetaBindingWgsl } from '../mlp/mlp';

/** Invocations per workgroup of every linear entry point. */
export const LINEAR_WORKGROUP = 64;

export type LinearEntry = 'forward' | 'backward_input' | 'backward_params';

/** The compile-time spec of a Linear layer. */
export interface LinearSpec {
  readonly inFeatures: number;
  readonly outFeatures: number;
}

export const LINEAR_PARAMS = new StructLayout('LinearParams', [
  ['batch', 'u32'],
  /** First element of the input rows in x. */
  ['x_offset', 'u32'],
  /** First element of dL/dx in gx. */
  ['gx_offset', 'u32'],
] as const);
export type LinearParamsValues = Parameters<typeof LINEAR_PARAMS.pack>[0];

/** Bindings: params, θ, x, y, dL/dy, dL/dx, dL/dθ. */
const LINEAR_BINDINGS: readonly GPUBufferBindingType[] = [
  'uniform',
  'read-only-storage',
  'read-only-storage',
  'storage',
  'read-only-storage',
  'storage',
  'storage',
];

export function linearLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'linear', LINEAR_BINDINGS);
}

/** Parameters of a Linear layer: weight [out][in] then bias [out]. */
export function linearParameterCount(spec: LinearSpec): number {
  return spec.outFeatures * spec.inFeatures + spec.outFeatures;
}

export function linearKey(spec: LinearSpec, entry: LinearEntry): string {
  return `linear|${spec.inFeatures}x${spec.outFeatures}|wg${LINEAR_WORKGROUP}|${entry}`;
}

export function linearWgsl(spec: LinearSpec): string {
  return fillTemplate(linearSource, {
    PARAMS_STRUCT: LINEAR_PARAMS.wgsl(),
    IN: spec.inFeatures,
    OUT: spec.outFeatures,
    THETA_BINDING: thetaBindingWgsl(linearParameterCount(spec)),
    WG: LINEAR_WORKGROUP,
  });
}

/** Workgroups of an entry point for a batch. */
export function linearWorkgroups(spec: LinearSpec, entry: LinearEntry, batch: number): number {
  const items =
    entry === 'forward'
      ? batch * spec.outFeatures
      : entry === 'backward_input'
        ? batch * spec.inFeatures
        : linearParameterCount(spec);
  return Math.ceil(items / LINEAR_WORKGROUP);
}
