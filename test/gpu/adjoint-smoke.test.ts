import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { solveAccurate } from '../reference/solve';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError, sampleY0 } from './problems';
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
  // L(θ, y0) = Σ_i Σ_b c[i][b]·y_i,b, in float64.
  const loss = (params: ArrayLike<number>, y0: Float32Array | Float64Array) => {
    const rhs = p.rhsWith(params);
    let L = 0;
    for (let b = 0; b < p.B; b++) {
      const ys = solveAccurate(rhs, Array.from(y0.subarray(b * p.D, (b + 1) * p.D)), t);
      for (let i = 0; i < T; i++) for (let d = 0; d < p.D; d++) L += c[(i * p.B + b) * p.D + d] * ys[i][d];
    }
    return L;
  };
  const eps = 1e-5;
  const fdY0: number[] = [];
  const y064 = Float64Array.from(p.y0);
  for (let k = 0; k < y064.length; k++) {
    const a = Float64Array.from(y064);
    const b = Float64Array.from(y064);
    a[k] += eps;
    b[k] -= eps;
    fdY0.push((loss(p.params, a) - loss(p.params, b)) / (2 * eps));
  }
  const th = Float64Array.from(p.params);
  const fdTh: number[] = [];
  for (let k = 0; k < th.length; k++) {
    const a = Float64Array.from(th);
    const b = Float64Array.from(th);
    a[k] += eps;
    b[k] -= eps;
    fdTh.push((loss(a, y064) - loss(b, y064)) / (2 * eps));
  }
  const e1 = relError(gy0, fdY0);
  const e2 = relError(gth, fdTh);
  console.log('gy0 rel', e1, 'gth rel', e2, sampleY0(p, 0));
  expect(e1).toBeLessThan(1e-3);
  expect(e2).toBeLessThan(1e-3);
});
