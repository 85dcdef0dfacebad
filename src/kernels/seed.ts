/**
 * The seed kernel (seed.wgsl): sets the forward solve's last step
 * size as the first step of each new (zeroed) sample of a reverse solve.
 */
import seedSource from './seed.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';
import { SAMPLE, statusWgsl } from '../wgsl/rk';

export const SEED_WORKGROUP = 64;

export const SEED_PARAMS = new StructLayout('SeedParams', [
  /** Samples of the chunk. */
  ['count', 'u32'],
  /** Global index of the chunk's first sample in the forward solve. */
  ['offset', 'u32'],
] as const);

/** Bindings: params, the forward solve's samples, the chunk's samples. */
export function seedLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'seed', ['uniform', 'read-only-storage', 'storage']);
}

export function seedKey(): string {
  return `seed|wg${SEED_WORKGROUP}`;
}

export function seedWgsl(): string {
  return fillTemplate(seedSource, {
    PARAMS_STRUCT: SEED_PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    WG: SEED_WORKGROUP,
  });
}

export function seedWorkgroups(count: number): number {
  return Math.ceil(count / SEED_WORKGROUP);
}
