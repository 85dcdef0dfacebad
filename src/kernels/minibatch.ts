/**
 * The mini-batch sampling kernels (minibatch.wgsl): random windows of a
 * trajectory and random labelled points, drawn by a seeded PCG hash so a run
 * is reproducible. Everything but the workgroup size is a uniform.
 */
import sampleSource from './minibatch.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';

export type SampleEntry = 'windows' | 'points';

/** Invocations per workgroup (one sample each). */
export const SAMPLE_WORKGROUP = 64;

export const SAMPLE_PARAMS = new StructLayout('SampleParams', [
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
export type SampleParamsValues = Parameters<typeof SAMPLE_PARAMS.pack>[0];

/** Bindings: params, data, labels, y0, target, index. */
const SAMPLE_BINDINGS: readonly GPUBufferBindingType[] = [
  'uniform',
  'read-only-storage',
  'read-only-storage',
  'storage',
  'storage',
  'storage',
];

export function sampleLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'sample', SAMPLE_BINDINGS);
}

export function sampleKey(entry: SampleEntry): string {
  return `sample|wg${SAMPLE_WORKGROUP}|${entry}`;
}

export function sampleWgsl(): string {
  return fillTemplate(sampleSource, { PARAMS_STRUCT: SAMPLE_PARAMS.wgsl(), WG: SAMPLE_WORKGROUP });
}

export function sampleWorkgroups(batch: number): number {
  return Math.ceil(batch / SAMPLE_WORKGROUP);
}

/** The PCG hash of minibatch.wgsl, on the host (for tests and for predicting a draw). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The index sample b of draw `draw` takes (what the kernel computes). */
export function sampleIndex(seed: number, draw: number, b: number, range: number): number {
  return pcgHash((pcgHash((pcgHash(seed) + draw) >>> 0) + b) >>> 0) % range;
}
