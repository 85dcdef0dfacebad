import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { fdGradTheta, fdGradY0 } from './adjoint-helpers';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError, sampleY0 } from './problems';
import { allSamples } from './solve-helpers';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

it('adjoint gradients match finite differences (smoke)', async () => {
  const p = makeProblem({ layers: [2, 16, 2], B: 3 });
  const t = [0, 0.4, 1];
  const T = t.length;
  const rng = makeRng(7);
  const c = Float32Array.from({ length: T * p.B * p.D }, () => 2 * rng() - 1);
  const r = await h.call('gradient', { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(p.y0), t, options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 }, dLdy: encodeF32(c) });
  console.log(JSON.stringify({ ...r, gy0: null, gth: null }));
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  const gy0 = decode(r.gy0!);
  const gth = decode(r.gth!);
  // L(θ, y0) = Σ_i Σ_b c[i][b]·y_i,b, in float64: central differences in every entry.
  const fdY0 = fdGradY0(p, p.y0, t, c, allSamples(p.B));
  const fdTh = fdGradTheta(p, p.y0, t, c);
  const e1 = relError(gy0, fdY0);
  const e2 = relError(gth, fdTh);
  console.log('gy0 rel', e1, 'gth rel', e2, sampleY0(p, 0));
  expect(e1).toBeLessThan(1e-3);
  expect(e2).toBeLessThan(1e-3);
});
