/**
 * What every per-sample gradient kernel (the adjoint, the discrete backprop)
 * shares with the host runner in src/gradients/runner.ts: the uniform fields
 * that describe a chunk of the batch and its solver, and the bindings, in
 * order: uniform, θ, y [T][B][D], t, dL/dy [T][B][D], per-sample state, the
 * kernel's own per-sample buffers, parameter rows, dL/dy0.
 */
import type { StructLayout } from '../wgsl/layout';
import { type Binding, storage, uniform } from '../wgsl/kernel';
import { SAMPLE, SOLVER_FIELDS } from '../wgsl/rk';

/** Uniform fields of every gradient kernel: the RK core's, then the chunk's (each kernel appends its own, then the controller's). */
export const GRADIENT_FIELDS = [
  ...SOLVER_FIELDS,
  ['batch', 'u32'],
  ['offset', 'u32'],
  ['total', 'u32'],
  ['n_params', 'u32'],
] as const;

/** The bindings every gradient kernel has besides its own per-sample buffers. */
export type GradientBinding = 'P' | 'theta' | 'ysol' | 'tout' | 'cot' | 'samples' | 'acc' | 'gy0';

/**
 * The bindings of a gradient kernel whose uniform is `params`, whose MLP has
 * `thetaLength` parameters and whose own per-sample buffers are `scratch`
 * (bound, in their record's order, between the solver state and the
 * parameter rows). The one place the gradient kernels' binding order is written.
 */
export function gradientBindings<S extends string>(
  params: StructLayout<string>,
  thetaLength: number,
  scratch: Readonly<Record<S, Binding>>,
): Readonly<Record<GradientBinding | S, Binding>> {
  return {
    P: uniform(params),
    theta: storage('read', 'f32', thetaLength),
    /** The forward solve's outputs, [T][total][D] (row 0 is y0). */
    ysol: storage('read'),
    /** Output times [T]. */
    tout: storage('read'),
    /** Loss cotangents dL/dy, [T][total][D]. */
    cot: storage('read'),
    /** Per-sample solver state of the chunk. */
    samples: storage('read_write', SAMPLE),
    ...scratch,
    /** Per sample (or per invocation of several samples): its parameter row, P floats. */
    acc: storage('read_write'),
    /** dL/dy0, [total][D]. */
    gy0: storage('read_write'),
  };
}
