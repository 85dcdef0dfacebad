/**
 * The PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT
 * 2020) in WGSL: the one random-number source of the kernels (mini-batch
 * indices, the latent ODE's noise). Chained as pcg(pcg(pcg(seed) + draw) + i),
 * a draw is a pure function of (seed, draw number, index): no generator state
 * lives on the GPU. The host twin is `pcgHash` in src/kernels/minibatch.ts.
 */
export const PCG_WGSL = `fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}`;
