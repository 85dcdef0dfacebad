/**
 * The Linear readout kernels (linear.wgsl): forward y = W x + b and
 * the vector–Jacobian products for dL/dx and dL/dθ. The compile-time spec is
 * the pair of widths; batch and buffer offsets are uniforms.
 */
import linearSource from './linear.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

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

/** Parameters of a Linear layer: weight [out][in] then bias [out]. */
export function linearParameterCount(spec: LinearSpec): number {
  return spec.outFeatures * spec.inFeatures + spec.outFeatures;
}

/** The Linear layer's kernels for a pair of widths: every entry point shares one bind group. */
export const linearKernel = defineKernel({
  name: 'linear',
  bindings: (spec: LinearSpec) => ({
    P: uniform(LINEAR_PARAMS),
    /** W [OUT][IN] then b [OUT]: exactly the layer's parameters (constant indices checked at compile time). */
    theta: storage('read', 'f32', linearParameterCount(spec)),
    /** Inputs [batch][IN], read from element P.x_offset on. */
    x: storage('read'),
    /** Outputs [batch][OUT] (forward). */
    y: storage('read_write'),
    /** dL/dy [batch][OUT] (backward). */
    gy: storage('read'),
    /** dL/dx [batch][IN], written from element P.gx_offset on. */
    gx: storage('read_write'),
    /** dL/dθ [OUT·IN + OUT]. */
    gtheta: storage('read_write'),
  }),
  entryPoints: ['forward', 'backward_input', 'backward_params'],
  wgsl: (spec: LinearSpec, decls) =>
    fillTemplate(linearSource, { BINDINGS: decls, IN: spec.inFeatures, OUT: spec.outFeatures, WG: LINEAR_WORKGROUP }),
});

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
