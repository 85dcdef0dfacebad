/**
 * What every per-sample gradient kernel (the adjoint, the discrete backprop)
 * shares with the host runner in src/gradients/runner.ts: the uniform fields
 * that describe a chunk of the batch and its solver, and the binding order
 * uniform, θ, y [T][B][D], t, dL/dy [T][B][D], per-sample state, the kernel's
 * own per-sample buffers, parameter rows, dL/dy0.
 */
import { SOLVER_FIELDS } from '../wgsl/rk';

/** Uniform fields of every gradient kernel: the RK core's, then the chunk's (each kernel appends its own, then the controller's). */
export const GRADIENT_FIELDS = [
  ...SOLVER_FIELDS,
  ['batch', 'u32'],
  ['offset', 'u32'],
  ['total', 'u32'],
  ['n_params', 'u32'],
] as const;

/** Binding types of a gradient kernel with `scratch` per-sample buffers of its own, in the runner's order. */
export function gradientBindings(scratch: number): readonly GPUBufferBindingType[] {
  return [
    'uniform', // the kernel's params
    'read-only-storage', // θ
    'read-only-storage', // forward outputs y
    'read-only-storage', // output times
    'read-only-storage', // cotangents dL/dy
    'storage', // per-sample solver state
    ...Array.from({ length: scratch }, (): GPUBufferBindingType => 'storage'),
    'storage', // parameter rows
    'storage', // dL/dy0
  ];
}
