/**
 * The deterministic reduction over the batch (reduce.wgsl): sums the
 * per-sample parameter rows of a gradient kernel into dL/dθ, and the
 * per-sample terms of dL/dt, in a fixed order.
 */
import reduceSource from './reduce.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/** Invocations per workgroup of the reduction (one parameter each). */
export const REDUCE_WORKGROUP = 64;
/** Rows (samples) each invocation of the first reduction pass adds up. */
export const REDUCE_ROWS = 256;

/** Values of the reduction: rows to add, parameters per row, number of partial rows. */
export const REDUCE_PARAMS = new StructLayout('ReduceParams', [
  ['rows', 'u32'],
  ['n_params', 'u32'],
  ['parts', 'u32'],
] as const);

/** `partial` then `total`, over one bind group. */
export const reduceKernel = defineKernel({
  name: 'reduce',
  bindings: () => ({
    R: uniform(REDUCE_PARAMS),
    /** The rows, [rows][n_params]. */
    acc: storage('read'),
    /** Partial sums, [parts][n_params]. */
    part: storage('read_write'),
    /** The sum, added to what it holds. */
    out: storage('read_write'),
  }),
  entryPoints: ['partial', 'total'],
  wgsl: (_spec: null, decls) => fillTemplate(reduceSource, { BINDINGS: decls, ROWS: REDUCE_ROWS, WG: REDUCE_WORKGROUP }),
});

/** Workgroups of the two passes over `rows` rows of `nParams` values: [x, y] of `partial`, x of `total`. */
export function reduceWorkgroups(nParams: number, rows: number): { partial: [number, number]; total: number } {
  const x = Math.ceil(nParams / REDUCE_WORKGROUP);
  return { partial: [x, Math.ceil(rows / REDUCE_ROWS)], total: x };
}
