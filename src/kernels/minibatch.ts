/**
 * The mini-batch sampling kernels (minibatch.wgsl): random windows of a
 * trajectory and random labelled points, drawn by a seeded PCG hash so a run
 * is reproducible. Everything but the workgroup size is a uniform.
 */
import minibatchSource from './minibatch.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { PCG_WGSL } from '../wgsl/pcg';

/** The sampler's entry points: windows of a trajectory, or labelled points. */
export type MinibatchEntry = 'windows' | 'points';

/** Invocations per workgroup (one sample each). */
export const MINIBATCH_WORKGROUP = 64;

export const MINIBATCH_PARAMS = new StructLayout('MinibatchParams', [
  ['seed', 'u32'],
  /** Which draw of the run this is (0, 1, 2, …). */
  ['draw', 'u32'],
  ['batch', 'u32'],
  /** Indices are drawn from [0, range). */
  ['range', 'u32'],
  /** Window length (windows). */
  ['length', 'u32'],
  /** Values per data row (points; windows use dim). */
  ['width', 'u32'],
  /** State dimension D of y0. */
  ['dim', 'u32'],
] as const);
export type MinibatchParamsValues = Parameters<typeof MINIBATCH_PARAMS.pack>[0];

/** The mini-batch sampler: both entry points share one bind group. */
export const minibatchKernel = defineKernel({
  name: 'minibatch',
  bindings: () => ({
    P: uniform(MINIBATCH_PARAMS),
    /** The dataset: trajectory rows (windows) or points (points). */
    data: storage('read'),
    /** Labels of the points (points only). */
    labels: storage('read'),
    y0: storage('read_write'),
    targets: storage('read_write'),
    /** The index drawn for each sample, as a float. */
    index: storage('read_write'),
  }),
  entryPoints: ['windows', 'points'] satisfies MinibatchEntry[],
  wgsl: (_spec: null, decls) => fillTemplate(minibatchSource, { BINDINGS: decls, PCG: PCG_WGSL, WG: MINIBATCH_WORKGROUP }),
});

export function minibatchWorkgroups(batch: number): number {
  return Math.ceil(batch / MINIBATCH_WORKGROUP);
}

/** The PCG hash of src/wgsl/pcg.ts, on the host (for tests and for predicting a draw). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The index sample b of draw `draw` takes (what the kernel computes). */
export function sampleIndex(seed: number, draw: number, b: number, range: number): number {
  return pcgHash((pcgHash((pcgHash(seed) + draw) >>> 0) + b) >>> 0) % range;
}
