/**
 * The seed kernel (seed.wgsl): sets the forward solve's last step
 * size as the first step of each new (zeroed) sample of a reverse solve.
 */
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { SAMPLE, statusWgsl } from '../wgsl/rk';
import seedSource from './seed.wgsl?raw';

export const SEED_WORKGROUP = 64;

export const SEED_PARAMS = new StructLayout('SeedParams', [
  /** Samples of the chunk. */
  ['count', 'u32'],
  /** Global index of the chunk's first sample in the forward solve. */
  ['offset', 'u32'],
] as const);

export const seedKernel = defineKernel({
  name: 'seed',
  bindings: () => ({
    P: uniform(SEED_PARAMS),
    forward: storage('read', SAMPLE),
    samples: storage('read_write', SAMPLE),
  }),
  entryPoints: ['seed'],
  wgsl: (_spec: null, decls) => fillTemplate(seedSource, { BINDINGS: decls, STATUS_CONSTS: statusWgsl(), WG: SEED_WORKGROUP }),
});

export function seedWorkgroups(count: number): number {
  return Math.ceil(count / SEED_WORKGROUP);
}
