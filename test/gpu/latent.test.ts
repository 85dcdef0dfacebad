/**
 * The latent ODE's pieces on the GPU against float64 references
 * (test/reference/latent.ts):
 *
 * - masked losses (masked MSE, Gaussian NLL with σ = 0.1): gradient and value
 *   with a random mask (about 40% missing), NaN predictions at missing
 *   entries, offsets. Tolerance 1e-5 norm-wise relative: each gradient
 *   element is a few float32 operations (≤ ~4e-7 relative, the Gaussian's
 *   1/σ² included) and the value a fixed-order tree sum of ≤ 2,000 terms
 *   (~1e-6); a wrong scale, sign, mask or index shows at 1e-2 or more;
 * - the latent ODE's objective (Gaussian NLL, KL, nll + β·KL) with a fixed ε
 *   on padded irregular series, and the gradient of every parameter tensor
 *   (GRU encoder, head, vector field, decoder) through decoder VJP → adjoint
 *   → reparameterisation → BPTT, against the float64 model and its central
 *   differences (test/reference/latent.ts); tolerances at the test;
 * - training: no host wait in iterations that do not read the loss, one for
 *   a read; β's warm-up; the objective falls; the GPU's ε against the host
 *   formula `latentNoise`; `predict`'s draws at observed and extrapolation
 *   times against the float64 decoder of its own z0;
 * - bad input: `ArgumentError` naming the argument, before any submit.
 */
import { expect, it } from 'vitest';
import { periodicSeries } from '../../src/series/datasets';
import { latentNoise } from '../../src/kernels/latent';
import { initParams, makeRng, mlpForward } from '../reference/mlp';
import { type LatentRefConfig, centralGradient, gaussianNllRef, latentObjectiveRef, linearRef, maskedMseRef } from '../reference/latent';
import { solveAccurate } from '../reference/solve';
import { wireSeries } from './latent-ops';
import { useHarness } from './solve-helpers';
import { relErr } from './train-reference';
import { type WireArray, decode, encodeF32 } from './wire';

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

/** A small latent ODE (D = 1, L = 2, GRU 4, field [2, 8, 2] tanh, σ = 0.1) and its float64 twin. */
const CFG: LatentRefConfig = { obsDim: 1, latentDim: 2, hidden: 4, fieldLayers: [2, 8, 2], activation: 'tanh', obsStd: 0.1 };
const MODEL = {
  obsDim: 1,
  latentDim: 2,
  encoderHidden: 4,
  fieldHidden: [8],
  activation: 'tanh' as const,
  obsStd: 0.1,
  solver: { rtol: 1e-7, atol: 1e-8 },
};

function uniformF64(n: number, seed: number, bound: number): Float64Array {
  const rng = makeRng(seed);
  return Float64Array.from({ length: n }, () => (2 * rng() - 1) * bound);
}

it('latent ODE: NLL, KL and every parameter gradient match the float64 model and its central differences', async () => {
  const h = harness();
  const ds = periodicSeries({ batch: 3, points: 14, keep: 0.6, seed: 7 });
  const series = ds.observed;
  const { batch: B } = series;
  const L = CFG.latentDim;
  const H = CFG.hidden;
  const I = 2 * CFG.obsDim + 1;
  const sizes = { gru: 3 * H * I + 3 * H * H + 6 * H, head: H * 2 * L + 2 * L, field: 8 * 2 + 8 + 2 * 8 + 2, decoder: L + 1 };
  const params = {
    gru: uniformF64(sizes.gru, 21, 0.5),
    head: uniformF64(sizes.head, 22, 0.5),
    field: initParams(CFG.fieldLayers, false, 23),
    decoder: uniformF64(sizes.decoder, 24, 0.7),
  };
  // float32 values, so the reference starts from exactly what the GPU holds.
  for (const k of Object.keys(params) as (keyof typeof params)[]) params[k] = Float64Array.from(Float32Array.from(params[k]));
  const rng = makeRng(25);
  const eps = Array.from({ length: B }, () => Array.from({ length: L }, () => Math.fround(2 * rng() - 1)));
  const beta = 0.5;
  // Garbage where the mask is 0: it must reach neither the loss nor a gradient.
  const values = Float32Array.from(series.values, (v, k) => (series.mask[k] === 0 ? 1e3 : v));
  const r = await h.call('latentGradients', {
    model: MODEL,
    params: { gru: encodeF32(params.gru), head: encodeF32(params.head), field: encodeF32(params.field), decoder: encodeF32(params.decoder) },
    series: wireSeries({ ...series, values }),
    eps: encodeF32(eps.flat()),
    klWeight: beta,
  });
  const data = { batch: B, length: series.length, times: series.times, values: series.values, mask: series.mask };
  const ref = latentObjectiveRef(CFG, params, data, eps, beta);
  const loss = r.loss as { loss: number; nll: number; kl: number; beta: number };
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
  console.log('objective gpu', loss, 'ref', { loss: ref.loss, nll: ref.nll, kl: ref.kl }, 'counts', Array.from(series.counts));
  // Values: float32 solves at rtol 1e-7 and float32 sums of ~20 terms (measured 1.3e-7 for the NLL,
  // 5e-7 for the KL, whose terms partly cancel): 1e-5 relative.
  expect(loss.beta).toBe(beta);
  expect(rel(loss.nll, ref.nll)).toBeLessThan(1e-5);
  expect(rel(loss.kl, ref.kl)).toBeLessThan(1e-5);
  expect(rel(loss.loss, ref.loss)).toBeLessThan(1e-5);
  const order = ['gru', 'head', 'field', 'decoder'] as const;
  const flat = Float64Array.from(order.flatMap((k) => Array.from(params[k])));
  const split = (x: Float64Array) => {
    let o = 0;
    const out = {} as Record<(typeof order)[number], Float64Array>;
    for (const k of order) {
      out[k] = x.subarray(o, o + params[k].length);
      o += params[k].length;
    }
    return out;
  };
  const t0 = performance.now();
  const fd = split(centralGradient((x) => latentObjectiveRef(CFG, split(x), data, eps, beta).loss, flat, 1e-5));
  console.log('central differences', (performance.now() - t0).toFixed(0), 'ms for', flat.length, 'parameters');
  order.forEach((k, i) => {
    const g = decode(r.grads[i]);
    const err = relErr(g, fd[k]);
    console.log(k, 'gradient rel err', err, 'max |g|', Math.max(...Array.from(fd[k], Math.abs)));
    // Adjoint in float32 at rtol 1e-7 / atol 1e-8 and float32 BPTT against float64 central differences
    // (step 1e-5: truncation ~1e-10, solver noise of the rtol-1e-11 reference / step ~1e-6 at most);
    // measured 6e-8 … 2e-7 norm-wise: 2e-5. A wrong term, sign or index shows at 1e-2 or more.
    expect(err).toBeLessThan(2e-5);
  });
});

it('latent ODE training: no host wait per iteration, the objective falls, predict draws match the float64 decoder of their z0', async () => {
  const h = harness();
  const ds = periodicSeries({ batch: 8, points: 40, keep: 0.5, seed: 2 });
  const times = Array.from({ length: 8 }, (_, b) => [0.5, 1.5, 3.0, 4.5].map((t) => t + 0.01 * b));
  const iterations = 24;
  const r = await h.call('latentTraining', {
    model: { ...MODEL, solver: { rtol: 1e-5, atol: 1e-6 } },
    series: wireSeries(ds.observed),
    iterations,
    lr: 0.02,
    klWarmup: 10,
    samples: 4,
    times,
  });
  console.log('iterations', r.rows, 'read', r.readMaps, r.readWaits, 'last', r.last);
  for (const row of r.rows) {
    expect(row.hostWaits).toBe(0);
    expect(row.maps).toBe(0);
  }
  expect(r.readMaps).toBe(1);
  expect(r.readWaits).toBe(1);
  const hist = r.history;
  expect(hist.first).toBe(1);
  expect(hist.loss.length).toBe(iterations);
  // β rises linearly over the 10 warm-up iterations.
  hist.beta.forEach((b, i) => expect(b).toBeCloseTo(Math.min(1, (i + 1) / 10), 6));
  const head = hist.nll.slice(0, 4).reduce((a, v) => a + v, 0) / 4;
  const tail = hist.nll.slice(-4).reduce((a, v) => a + v, 0) / 4;
  console.log('nll first 4', head, 'last 4', tail, 'kl', hist.kl.slice(-4));
  expect(tail).toBeLessThan(head);
  // The last iteration's ε is the host formula latentNoise(seed 5, draw = iteration, i) up to WGSL's
  // accuracy of cos (2^-11 absolute on [−π, π]) times the radius √(−2 log u) ≤ 5.6, and of log: 3e-3.
  const eps = decode(r.eps as WireArray);
  let epsErr = 0;
  eps.forEach((v, i) => (epsErr = Math.max(epsErr, Math.abs(v - latentNoise(5, iterations, i)))));
  console.log('noise: max |GPU − host| of', eps.length, 'draws', epsErr);
  expect(eps.length).toBe(8 * 2);
  expect(epsErr).toBeLessThan(3e-3);
  // predict: the draws are the decoder of the latent solve from each drawn z0 (float64 here).
  const field = decode(r.params.field);
  const dec = decode(r.params.decoder);
  const S = r.prediction.samples;
  const z0 = decode(r.prediction.z0);
  const draws = decode(r.prediction.draws);
  const B = 8;
  let worst = 0;
  for (let s = 0; s < S; s++) {
    for (let b = 0; b < B; b++) {
      const row = s * B + b;
      const f = (_t: number, z: readonly number[]) => Array.from(mlpForward(CFG.fieldLayers, 'tanh', false, field, 0, z));
      const zs = solveAccurate(f, Array.from(z0.subarray(row * 2, row * 2 + 2)), [0, ...times[b]], 1e-10, 1e-10);
      times[b].forEach((_, i) => {
        const want = linearRef(dec, 2, 1, zs[i + 1])[0];
        worst = Math.max(worst, Math.abs(draws[i * S * B + row] - want) / Math.max(1, Math.abs(want)));
      });
    }
  }
  const mean = decode(r.prediction.mean);
  const std = decode(r.prediction.std);
  let spread = 0;
  for (let k = 0; k < mean.length; k++) spread = Math.max(spread, std[k]);
  console.log('predict draws vs float64: max rel err', worst, 'largest std', spread);
  // A float32 solve at rtol 1e-5 / atol 1e-6 over t ≤ 4.5: 1e-3.
  expect(worst).toBeLessThan(1e-3);
  expect(spread).toBeGreaterThan(0);
  expect(mean.every(Number.isFinite)).toBe(true);
});

it('latent ODE and masked losses: bad input throws ArgumentError naming it, before any GPU work', async () => {
  const h = harness();
  const ds = periodicSeries({ batch: 2, points: 10, seed: 1 });
  const r = await h.call('latentErrors', { series: wireSeries(ds.observed) });
  const out = r.out;
  console.log(out);
  const want: Record<string, string> = {
    'mask missing': 'mask',
    'std of mse': 'options.std',
    'std zero': 'options.std',
    'masked loss in Trainer': 'loss',
    odernn: 'options.encoder',
    dim: 'series.dim',
    times: 'series.times[0][1]',
    'mask value': 'series.mask[0]',
    'predict times': 'options.times[0][1]',
    eps: 'options.eps',
    optimizer: 'optimizer',
  };
  for (const [key, argument] of Object.entries(want)) expect(out[key], key).toEqual({ name: 'ArgumentError', argument });
  for (const key of Object.keys(out)) expect(key.endsWith('submitted'), key).toBe(false);
});
