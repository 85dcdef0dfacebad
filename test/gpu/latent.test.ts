/**
 * The latent ODE's pieces on the GPU against float64 references
 * (test/reference/latent.ts):
 *
 * - masked losses (masked MSE, Gaussian NLL with σ = 0.1): gradient and value
 *   with a random mask (about 40% missing), NaN predictions at missing
 *   entries, offsets. Tolerance 1e-5 norm-wise relative: each gradient
 *   element is a few float32 operations (≤ ~4e-7 relative, the Gaussian's
 *   1/σ² included) and the value a fixed-order tree sum of ≤ 2,000 terms
 *   (~1e-6); a wrong scale, sign, mask or index shows at 1e-2 or more.
 */
import { expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { gaussianNllRef, maskedMseRef } from '../reference/latent';
import { useHarness } from './solve-helpers';
import { relErr } from './train-reference';
import { decode, encodeF32 } from './wire';

const harness = useHarness();

function uniform(n: number, seed: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale);
}

it('masked MSE and Gaussian NLL: gradient and value match float64, missing values give nothing', async () => {
  const h = harness();
  const n = 1500;
  const pred = uniform(2 * n, 11, 2);
  const target = uniform(n, 12, 2);
  const rng = makeRng(13);
  const mask = Float32Array.from({ length: n }, () => (rng() < 0.4 ? 0 : 1));
  // Missing entries may hold anything: NaN predictions there must not leak.
  for (let i = 0; i < n; i += 7) if (mask[i] === 0) pred[n + i] = Number.NaN;
  const observed = mask.reduce((a, v) => a + v, 0);
  for (const [kind, std, scale] of [
    ['masked-mse', undefined, 1 / observed],
    ['gaussian-nll', 0.1, 1 / 30],
  ] as const) {
    const r = await h.call('maskedLoss', {
      kind, std, scale, count: n, pred: encodeF32(pred), target: encodeF32(target), mask: encodeF32(mask), predOffset: n, gradOffset: 3, gradSize: n + 6,
    });
    expect(r.mapsBeforeRead).toBe(0);
    const p = pred.subarray(n);
    const ref = kind === 'masked-mse' ? maskedMseRef(p, target, mask, scale) : gaussianNllRef(p, target, mask, std as number, scale);
    const g = decode(r.grad);
    expect(Array.from(g.subarray(0, 3))).toEqual([-7, -7, -7]);
    expect(Array.from(g.subarray(n + 3))).toEqual([-7, -7, -7]);
    const err = relErr(g.subarray(3, n + 3), ref.grad);
    const verr = Math.abs(r.value - ref.value) / Math.abs(ref.value);
    console.log(kind, 'observed', observed, 'grad rel err', err, 'value', r.value, ref.value, 'rel err', verr);
    expect(err).toBeLessThan(1e-5);
    expect(verr).toBeLessThan(1e-5);
    for (let i = 0; i < n; i++) if (mask[i] === 0) expect(g[3 + i]).toBe(0);
  }
});
