/**
 * The MLP kernel against the float64 CPU reference, for every activation,
 * with and without the time input, on a few shapes.
 *
 * Tolerance: 2e-5 relative (norm-wise). The kernel runs in float32 on the same
 * float32 parameters; a dot product of n terms of size ~1 accumulates about
 * sqrt(n)·6e-8 of round-off per layer, and tanh/exp/log of WGSL are specified
 * to a few ulp, so 2e-5 leaves a wide margin while any wrong weight, offset or
 * activation shows up at 1e-2 or more.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACTIVATIONS } from '../../src/kernels/mlp';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError } from './problems';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const SHAPES: { layers: number[]; timeInput: boolean }[] = [
  { layers: [2, 16, 2], timeInput: false },
  { layers: [3, 16, 2], timeInput: true },
  { layers: [4, 24, 12, 3], timeInput: true },
  { layers: [5, 5], timeInput: false },
];

for (const activation of ACTIVATIONS) {
  it(`${activation}: forward kernel matches the float64 reference`, async () => {
    for (const { layers, timeInput } of SHAPES) {
      // Scale y0 to reach the saturating and negative ranges of every activation.
      const p = makeProblem({ layers, activation, timeInput, B: 37, y0Scale: 3, seed: layers.length * 7 + 1 });
      const t = 0.75;
      const r = await h.call('forward', { mlp: p.mlp, params: encodeF32(p.params), z: encodeF32(p.y0), t });
      expect(r.gpuErrors).toEqual([]);
      const got = decode(r.y);
      const want: number[] = [];
      for (let b = 0; b < p.B; b++) want.push(...p.rhs(t, Array.from(p.y0.subarray(b * p.D, (b + 1) * p.D))));
      expect(relError(got, want), `${activation} ${layers} timeInput=${timeInput}`).toBeLessThan(2e-5);
    }
  });
}
