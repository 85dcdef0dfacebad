/**
 * The training kernels against float64 CPU references (test/gpu/train-reference.ts):
 *
 * - losses: gradient and value of MSE, L1 and cross-entropy, with offsets.
 *   Tolerance 1e-5 norm-wise relative: every gradient element is one or two
 *   float32 operations (≤ a few ulp, ~2e-7) and the value a fixed-order sum
 *   of n ≤ 2,000 terms (error ≲ log2(n)·6e-8 relative per level of the
 *   tree, ~1e-6), so 1e-5 leaves a margin while a wrong scale, sign or
 *   index shows up at 1e-2 or more;
 * - optimizers: SGD (plain, momentum + dampening + weight decay, Nesterov)
 *   and Adam (default, and betas/eps/weight decay/changing lr) over 6 steps
 *   on two tensors against PyTorch's update formulas in float64. Tolerance
 *   5e-6 absolute on parameters of size ≤ 1: each step rounds θ once
 *   (≤ 6e-8) and Adam's m/sqrt(v) carries ~1e-6 relative, times lr ≤ 0.1;
 * - Linear: forward and both VJPs against the float64 formulas (1e-5,
 *   dot products of ≤ 7 terms);
 * - samplers: the indices are the PCG-hash formula of src/kernels/minibatch.ts
 *   recomputed on the host, the same seed gives the same batches, another
 *   seed others, and the rows are the dataset's rows.
 */
import { expect, it } from 'vitest';
import { sampleIndex } from '../../src/kernels/minibatch';
import { makeRng } from '../reference/mlp';
import { useHarness } from './solve-helpers';
import { adamRef, crossEntropyRef, l1Ref, linearBackwardRef, linearRef, mseRef, relErr, sgdRef } from './train-reference';
import { decode, encodeF32 } from './wire';

const harness = useHarness();

function uniform(n: number, seed: number, scale = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale);
}

it('MSE and L1: gradient and value match the float64 reference, also from offsets', async () => {
  const h = harness();
  const n = 1000;
  const pred = uniform(3 * n, 1, 2);
  const target = uniform(n, 2, 2);
  // Exact ties, where L1's gradient is 0 (PyTorch's sign(0) = 0).
  for (let i = 0; i < 10; i++) target[i] = pred[2 * n + i];
  for (const kind of ['mse', 'l1'] as const) {
    const r = await h.call('trainLoss', { kind, pred: encodeF32(pred), target: encodeF32(target), count: n, predOffset: 2 * n, gradOffset: 5, gradSize: n + 10 });
    expect(r.gpuErrors).toEqual([]);
    expect(r.mapsBeforeRead).toBe(0);
    const ref = (kind === 'mse' ? mseRef : l1Ref)(pred.subarray(2 * n), target);
    const g = decode(r.grad);
    expect(Array.from(g.subarray(0, 5))).toEqual([-7, -7, -7, -7, -7]);
    expect(Array.from(g.subarray(n + 5))).toEqual([-7, -7, -7, -7, -7]);
    const err = relErr(g.subarray(5, n + 5), ref.grad);
    console.log(kind, 'grad rel err', err, 'value', r.value, ref.value);
    expect(err).toBeLessThan(1e-5);
    expect(Math.abs(r.value - ref.value) / ref.value).toBeLessThan(1e-5);
    if (kind === 'l1') for (let i = 0; i < 10; i++) expect(g[5 + i]).toBe(0);
  }
});

it('cross-entropy: gradient and value match the float64 reference, large logits included', async () => {
  const h = harness();
  const rows = 600;
  const C = 3;
  const logits = uniform(rows * C, 3, 4);
  // Logits of ±60 overflow exp() without the max subtraction.
  for (let c = 0; c < C; c++) {
    logits[c] = 60 * (c === 0 ? 1 : -1);
    logits[C + c] = -60 + c;
  }
  const rng = makeRng(4);
  const labels = Float32Array.from({ length: rows }, () => Math.floor(rng() * C));
  const r = await h.call('trainLoss', { kind: 'cross-entropy', pred: encodeF32(logits), target: encodeF32(labels), count: rows, classes: C });
  expect(r.gpuErrors).toEqual([]);
  const ref = crossEntropyRef(logits, labels, C);
  const err = relErr(decode(r.grad), ref.grad);
  console.log('cross-entropy grad rel err', err, 'value', r.value, ref.value);
  expect(err).toBeLessThan(1e-5);
  expect(Math.abs(r.value - ref.value) / ref.value).toBeLessThan(1e-5);
});

const OPT_STEPS = 6;

async function optimizerCase(
  name: string,
  call: { sgd?: Parameters<typeof sgdRef>[2]; adam?: Parameters<typeof adamRef>[2] },
  lrs?: number[],
) {
  const h = harness();
  const sizes = [37, 5];
  const params = sizes.map((n, i) => uniform(n, 10 + i));
  const grads = Array.from({ length: OPT_STEPS }, (_, s) => sizes.map((n, i) => uniform(n, 100 + 10 * s + i, 0.5 + s)));
  // A zero gradient component: Adam must leave it (m = v = 0) and SGD with decay must still decay it.
  for (const g of grads) g[0][3] = 0;
  const r = await h.call('trainOptim', {
    sgd: call.sgd,
    adam: call.adam,
    params: params.map((p) => encodeF32(p)),
    grads: grads.map((row) => row.map((g) => encodeF32(g))),
    lrPerStep: lrs,
  });
  expect(r.gpuErrors).toEqual([]);
  expect(r.steps).toBe(OPT_STEPS);
  let worst = 0;
  sizes.forEach((_, i) => {
    const gi = grads.map((row) => row[i]);
    const ref = call.sgd ? sgdRef(params[i], gi, call.sgd, lrs) : adamRef(params[i], gi, call.adam ?? {}, lrs);
    for (let s = 0; s < OPT_STEPS; s++) {
      const got = decode(r.after[s][i]);
      for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k] - ref[s][k]));
    }
  });
  console.log(name, 'max |Δθ| over', OPT_STEPS, 'steps:', worst);
  expect(worst).toBeLessThan(5e-6);
}

it('SGD matches torch.optim.SGD formulas (plain, momentum + dampening + weight decay, Nesterov)', async () => {
  await optimizerCase('sgd plain', { sgd: { lr: 0.1 } });
  await optimizerCase('sgd momentum', { sgd: { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 } });
  await optimizerCase('sgd nesterov', { sgd: { lr: 0.05, momentum: 0.8, weightDecay: 1e-3, nesterov: true } });
});

it('Adam matches torch.optim.Adam formulas (defaults; betas, eps, weight decay, changing lr)', async () => {
  await optimizerCase('adam default', { adam: {} });
  await optimizerCase('adam custom', { adam: { lr: 1e-2, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 } }, [1e-2, 2e-2, 5e-3, 1e-2, 0.1, 1e-3]);
});

it('Linear: forward and vector-Jacobian products match the float64 formulas, with offsets', async () => {
  const h = harness();
  const I = 5;
  const O = 3;
  const B = 7;
  const params = uniform(O * I + O, 20);
  const x = uniform(3 * B * I, 21, 2);
  const gy = uniform(B * O, 22);
  const xOffset = 2 * B * I;
  const r = await h.call('trainLinear', { inFeatures: I, outFeatures: O, params: encodeF32(params), x: encodeF32(x), xOffset, batch: B, gy: encodeF32(gy), gxSize: 3 * B * I, gxOffset: xOffset });
  expect(r.gpuErrors).toEqual([]);
  const xs = x.subarray(xOffset);
  const y = linearRef(params, xs, I, O);
  const { gx, gtheta } = linearBackwardRef(params, xs, gy, I, O);
  expect(relErr(decode(r.y), y)).toBeLessThan(1e-5);
  expect(relErr(decode(r.yForward), y)).toBeLessThan(1e-5);
  const gxAll = decode(r.gx);
  expect(gxAll.subarray(0, xOffset).every((v) => v === -7)).toBe(true);
  expect(relErr(gxAll.subarray(xOffset), gx)).toBeLessThan(1e-5);
  expect(relErr(decode(r.gtheta), gtheta)).toBeLessThan(1e-5);
});

it('window sampler: reproducible PCG draws of windows of the trajectory, no host wait', async () => {
  const h = harness();
  const N = 50;
  const D = 2;
  const data = Float32Array.from({ length: N * D }, (_, k) => (k % 2 === 0 ? k / 2 : -k / 4));
  const t = Array.from({ length: N }, (_, i) => 0.5 * i);
  const args = { kind: 'windows' as const, data: encodeF32(data), t, width: D, batch: 16, length: 5, seed: 3, draws: 3 };
  const a = await h.call('trainSampler', args);
  const b = await h.call('trainSampler', args);
  const c = await h.call('trainSampler', { ...args, seed: 4 });
  expect(a.gpuErrors).toEqual([]);
  expect(a.mapsPerDraw).toBe(0);
  expect(a.t).toEqual([0, 0.5, 1, 1.5, 2]);
  const range = N - 5 + 1;
  a.draws.forEach((d, k) => {
    const index = Array.from(decode(d.index));
    expect(index).toEqual(Array.from({ length: 16 }, (_, s) => sampleIndex(3, k, s, range)));
    expect(Array.from(decode(d.y0))).toEqual(Array.from(decode(b.draws[k].y0)));
    expect(Array.from(decode(d.target))).toEqual(Array.from(decode(b.draws[k].target)));
    const y0 = decode(d.y0);
    const target = decode(d.target);
    index.forEach((s, bb) => {
      for (let dd = 0; dd < D; dd++) {
        expect(y0[bb * D + dd]).toBe(data[s * D + dd]);
        for (let i = 0; i < 5; i++) expect(target[(i * 16 + bb) * D + dd]).toBe(data[(s + i) * D + dd]);
      }
    });
  });
  // Successive draws and another seed give other windows.
  expect(decode(a.draws[0].index)).not.toEqual(decode(a.draws[1].index));
  expect(decode(a.draws[0].index)).not.toEqual(decode(c.draws[0].index));
});

it('point sampler: reproducible draws, zero-padded augmented states, labels carried along', async () => {
  const h = harness();
  const N = 300;
  const x = uniform(2 * N, 30);
  const rng = makeRng(31);
  const labels = Array.from({ length: N }, () => (rng() < 0.5 ? 0 : 1));
  const B = 4096;
  const r = await h.call('trainSampler', { kind: 'points', data: encodeF32(x), labels, width: 2, classes: 2, batch: B, stateDim: 4, seed: 9, draws: 2 });
  expect(r.gpuErrors).toEqual([]);
  expect(r.mapsPerDraw).toBe(0);
  const counts = new Array(N).fill(0);
  r.draws.forEach((d, k) => {
    const index = decode(d.index);
    const y0 = decode(d.y0);
    const target = decode(d.target);
    for (let b = 0; b < B; b++) {
      const j = index[b];
      expect(j).toBe(sampleIndex(9, k, b, N));
      counts[j]++;
      expect([y0[4 * b], y0[4 * b + 1], y0[4 * b + 2], y0[4 * b + 3]]).toEqual([x[2 * j], x[2 * j + 1], 0, 0]);
      expect(target[b]).toBe(labels[j]);
    }
  });
  // Every point is drawn about 2·4096/300 ≈ 27 times; a binomial count below 5 or above 60 has
  // probability < 1e-6 per point, so this only fails for a broken hash.
  expect(Math.min(...counts)).toBeGreaterThan(4);
  expect(Math.max(...counts)).toBeLessThan(60);
});
