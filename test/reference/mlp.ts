/**
 * Float64 CPU reference of the MLP vector field f(t, z) = L_n(act(… act(L_1(x)))), written
 * independently of the WGSL generator, for checking GPU results.
 *
 * Conventions
 *  - `layers` = [D, H_1, …, H_{n-1}, D_out]: layers[0] is the STATE dimension D. With `timeInput`
 *    the input is x = [z, t] (t appended last), so the first Linear has D + 1 inputs.
 *    (Note: src/mlp/mlp.ts's MlpSpec.layers lists Linear widths instead, i.e. its layers[0] is
 *    D + 1 with a time input; convert with `linearWidths` below.)
 *  - Parameters are flat, PyTorch nn.Linear order layer by layer: weight [out, in] row-major, then bias [out].
 *  - No activation after the last layer.
 */
import { ACTIVATION_TABLE, type Activation } from '../../src/mlp/activations';

export type ReferenceActivation = Activation;

/**
 * σ(x) in float64: the activation table's `f` (src/mlp/activations.ts), which
 * is written from the mathematics in float64, apart from the WGSL the kernels
 * emit; σ'(x) is its `df`, checked against finite differences in
 * test/unit/reference.test.ts.
 */
export function activate(act: ReferenceActivation, x: number): number {
  return ACTIVATION_TABLE[act].f(x);
}

/** σ'(x) in float64 (the table's `df`). */
export function activateGrad(act: ReferenceActivation, x: number): number {
  return ACTIVATION_TABLE[act].df(x);
}

/** Widths of the Linear layers: [D (+1 with timeInput), H_1, …, D_out]. */
export function linearWidths(layers: readonly number[], timeInput: boolean): number[] {
  if (layers.length < 2 || !layers.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new RangeError(`layers must hold at least two positive integers, got [${layers.join(', ')}]`);
  }
  return layers.map((w, i) => (i === 0 && timeInput ? w + 1 : w));
}

/** Number of parameters: Σ_l (in_l · out_l + out_l). */
export function mlpParamCount(layers: readonly number[], timeInput: boolean): number {
  const w = linearWidths(layers, timeInput);
  let n = 0;
  for (let l = 0; l + 1 < w.length; l++) n += (w[l] ?? 0) * (w[l + 1] ?? 0) + (w[l + 1] ?? 0);
  return n;
}

/** f(t, z) in float64. */
export function mlpForward(
  layers: readonly number[],
  activation: ReferenceActivation,
  timeInput: boolean,
  params: ArrayLike<number>,
  t: number,
  z: ArrayLike<number>,
): Float64Array {
  const w = linearWidths(layers, timeInput);
  const D = layers[0] ?? 0;
  if (z.length !== D) throw new RangeError(`z has length ${z.length}, expected ${D}`);
  const count = mlpParamCount(layers, timeInput);
  if (params.length !== count) throw new RangeError(`params has length ${params.length}, expected ${count}`);

  let x = new Float64Array(w[0] ?? 0);
  for (let i = 0; i < D; i++) x[i] = z[i] ?? NaN;
  if (timeInput) x[D] = t;

  let off = 0;
  for (let l = 0; l + 1 < w.length; l++) {
    const nIn = w[l] ?? 0;
    const nOut = w[l + 1] ?? 0;
    const last = l + 2 === w.length;
    const y = new Float64Array(nOut);
    const biasOff = off + nIn * nOut;
    for (let o = 0; o < nOut; o++) {
      let acc = params[biasOff + o] ?? NaN;
      for (let i = 0; i < nIn; i++) acc += (params[off + o * nIn + i] ?? NaN) * (x[i] ?? NaN);
      y[o] = last ? acc : activate(activation, acc);
    }
    off = biasOff + nOut;
    x = y;
  }
  return x;
}

/** A small seeded PRNG (mulberry32): returns uniform numbers in [0, 1). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** PyTorch nn.Linear default init: weights and biases ~ U(−1/√fan_in, 1/√fan_in), seeded. */
export function initParams(layers: readonly number[], timeInput: boolean, seed: number): Float64Array {
  const w = linearWidths(layers, timeInput);
  const rng = makeRng(seed);
  const out = new Float64Array(mlpParamCount(layers, timeInput));
  let off = 0;
  for (let l = 0; l + 1 < w.length; l++) {
    const nIn = w[l] ?? 0;
    const nOut = w[l + 1] ?? 0;
    const bound = 1 / Math.sqrt(nIn);
    const n = nIn * nOut + nOut;
    for (let k = 0; k < n; k++) out[off + k] = (2 * rng() - 1) * bound;
    off += n;
  }
  return out;
}
