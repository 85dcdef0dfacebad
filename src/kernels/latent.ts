/**
 * The latent ODE's posterior kernel (latent.wgsl): Gaussian noise from the
 * PCG hash, the reparameterised z0 = μ + σ ε, the analytic KL term against
 * N(0, I) with the objective's value, and dL/d(μ, log σ). Everything but the
 * workgroup size is a uniform.
 */
import latentSource from './latent.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { PCG_WGSL } from '../wgsl/pcg';
import { pcgHash } from './minibatch';

/** The entry points. */
export type LatentEntry = 'noise' | 'reparam' | 'kl' | 'reparam_backward';

/** Invocations per workgroup (a power of two: `kl` reduces by a tree). */
export const LATENT_WORKGROUP = 64;

export const LATENT_PARAMS = new StructLayout('LatentParams', [
  /** Series B. */
  ['batch', 'u32'],
  /** Latent dimension L. */
  ['latent', 'u32'],
  /** z0 samples S per series. */
  ['samples', 'u32'],
  ['seed', 'u32'],
  /** The noise draw's number (the iteration). */
  ['draw', 'u32'],
  /** KL weight β (annealed). */
  ['beta', 'f32'],
  /** The objective's scale, 1/B (a per-series sum averaged over series). */
  ['scale', 'f32'],
] as const);
export type LatentParamsValues = Parameters<typeof LATENT_PARAMS.pack>[0];

/** The posterior kernel: its entry points share one bind group. */
export const latentKernel = defineKernel({
  name: 'latent',
  bindings: () => ({
    P: uniform(LATENT_PARAMS),
    /** Encoder outputs [B][2L]: μ then log σ per series. */
    head: storage('read'),
    /** ε [S·B·L] (written by `noise`, or by the host). */
    eps: storage('read_write'),
    /** z0 [S·B][L]. */
    z0: storage('read_write'),
    /** dL/dz0 [B][L] (from the adjoint solve). */
    dz0: storage('read'),
    /** dL/dhead [B][2L]. */
    dhead: storage('read_write'),
    /** The likelihood loss's value (one float). */
    nll: storage('read'),
    /** [loss, nll, kl, β]. */
    stats: storage('read_write'),
  }),
  entryPoints: ['noise', 'reparam', 'kl', 'reparam_backward'] satisfies LatentEntry[],
  wgsl: (_spec: null, decls) => fillTemplate(latentSource, { BINDINGS: decls, PCG: PCG_WGSL, WG: LATENT_WORKGROUP }),
});

/** Workgroups covering n invocations. */
export function latentWorkgroups(n: number): number {
  return Math.ceil(n / LATENT_WORKGROUP);
}

/**
 * ε_i of draw `draw` under `seed` as the `noise` entry point computes it
 * (in float64 here; the GPU's float32 Box–Muller agrees to ~1e-6): lets a
 * peer or a test use the same noise as a training run.
 */
export function latentNoise(seed: number, draw: number, i: number): number {
  const base = pcgHash((pcgHash(seed) + draw) >>> 0);
  const unit = (h: number) => ((h >>> 8) + 0.5) / 16777216;
  const u1 = unit(pcgHash((base + 2 * i) >>> 0));
  const u2 = unit(pcgHash((base + 2 * i + 1) >>> 0));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
