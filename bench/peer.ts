/**
 * Table 6: the peer — the same Neural ODE written the way a web developer
 * would without webode: TensorFlow.js on its WebGPU backend (its own device
 * on the same adapter, same run). The MLP as tf ops, a fixed-step RK4 loop
 * and a torchdiffeq-style dopri5 loop over tf ops. The dopri5 loop must read
 * the error norm back to the host on every step attempt to decide it — the
 * per-step round trip webode's on-GPU step control avoids, and the point of
 * the comparison. Gradients go through the solver with tf.grads (direct
 * backpropagation through a replay of the accepted steps), against webode's
 * odeint + sol.backward (adjoint and backprop) on the same loss; a spiral
 * training iteration (dopri5, tf.variableGrads, tf.train.adam) against
 * table 4's Trainer.step.
 *
 * Every TF.js result is checked against webode's for the same problem with a
 * stated tolerance. The Dormand–Prince coefficients here are typed in
 * independently of src/methods/tableau.ts, so the check tests both.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone has no gradients registered (the @tensorflow/tfjs bundle imports this).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { type MLP, type Runtime, Tensor, mulberry32 } from '../src/index';
import { SPIRAL as SPIRAL_DATA, spiralData } from '../demo/experiments';
import { mlpOffsets } from '../src/mlp/mlp';
import type { Limits } from './limits';
import { ATOL, RTOL, SPIRAL, fbData, linspace, makeModel, modelY0, timeForwardBackward, timeSolve, toleranceUnits } from './solves';
import { NOT_YET, type SectionResult, int, ms, ratio, sig } from './table';
import { type Sample, calibrate, gpuIdle, progress, repeat, timed } from './timing';
import type { TrainingRun } from './training';

// ---------------------------------------------------------------- the MLP

/** Parameters as tf tensors: W[l] is [out, in] (PyTorch layout, used with transposeB), b[l] is [out]. */
export type TfParams = tf.Tensor[];

/** Splits webode's flat PyTorch-order parameter vector into tf tensors. */
export function tfParams(layers: readonly number[], flat: Float32Array): TfParams {
  return mlpOffsets(layers).layers.flatMap((L) => [
    tf.tensor2d(flat.subarray(L.weight, L.weight + L.inWidth * L.outWidth), [L.outWidth, L.inWidth]),
    tf.tensor1d(flat.subarray(L.bias, L.bias + L.outWidth)),
  ]);
}

/** f(z) = L_n(tanh(… tanh(L_1(z)))) with tf ops; z is [B, D]. */
export function tfMlp(p: TfParams, z: tf.Tensor): tf.Tensor {
  let h = z;
  for (let l = 0; l < p.length; l += 2) {
    h = tf.add(tf.matMul(h, p[l], false, true), p[l + 1]);
    if (l + 2 < p.length) h = tf.tanh(h);
  }
  return h;
}

type Rhs = (y: tf.Tensor) => tf.Tensor;

// ---------------------------------------------------------------- RK4

/** One classic RK4 step (autonomous field). */
function rk4Step(f: Rhs, y: tf.Tensor, h: number): tf.Tensor {
  const k1 = f(y);
  const k2 = f(tf.add(y, tf.mul(k1, h / 2)));
  const k3 = f(tf.add(y, tf.mul(k2, h / 2)));
  const k4 = f(tf.add(y, tf.mul(k3, h)));
  return tf.add(y, tf.mul(tf.addN([k1, tf.mul(k2, 2), tf.mul(k3, 2), k4]), h / 6));
}

/**
 * Fixed-step RK4 through output times that lie on the step grid: no host
 * read until the end, so TF.js can queue the whole solve. Returns [T, B, D].
 */
export function tfRk4(f: Rhs, y0: tf.Tensor, t: readonly number[], h: number): tf.Tensor {
  return tf.tidy(() => {
    const outs = [y0];
    let y = y0;
    for (let i = 1; i < t.length; i++) {
      const n = Math.round((t[i] - t[i - 1]) / h);
      for (let s = 0; s < n; s++) y = rk4Step(f, y, (t[i] - t[i - 1]) / n);
      outs.push(y);
    }
    return tf.stack(outs);
  });
}

// ---------------------------------------------------------------- dopri5

/**
 * Dormand & Prince (1980), as in torchdiffeq's dopri5: stages, 5th-order
 * weights, and Shampine's 4th-order embedded weights (b̂_7 = 1/60, torchdiffeq's
 * and webode's; Hairer's DOPRI5 uses b̂_7 = 1/40).
 */
const DP_A: readonly (readonly number[])[] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const DP_B4 = [1951 / 21600, 0, 22642 / 50085, 451 / 720, -12231 / 42400, 649 / 6300, 1 / 60];
/** Error weights b5 − b4 (b5 is the last row of A, then 0: the method is FSAL). */
const DP_E = DP_B4.map((b4, i) => (DP_A[6][i] ?? 0) - b4);
/** Weights of y(t + h/2) for the 4th-order dense output (Shampine 1986, as torchdiffeq's DPS_C_MID). */
const DP_C_MID = [
  6025192743 / 30085553152 / 2,
  0,
  51252292925 / 65400821598 / 2,
  -2691868925 / 45128329728 / 2,
  187940372067 / 1594534317056 / 2,
  -1776094331 / 19743644256 / 2,
  11237099 / 235043384 / 2,
];
const SAFETY = 0.9;
const IFACTOR = 10;
const DFACTOR = 0.2;
const MAX_ATTEMPTS = 10_000;

/** y + h Σ w_i k_i over the non-zero weights. */
function combine(y: tf.Tensor, h: number, w: readonly number[], k: readonly tf.Tensor[]): tf.Tensor {
  const terms = k.flatMap((ki, i) => (w[i] ? [tf.mul(ki, h * w[i])] : []));
  return terms.length ? tf.add(y, tf.addN(terms)) : y;
}

/** The seven stages of one attempt from (y, k1 = f(y)); k[6] = f(y1) (FSAL). */
function dopriStages(f: Rhs, y: tf.Tensor, k1: tf.Tensor, h: number): { k: tf.Tensor[]; y1: tf.Tensor } {
  const k = [k1];
  let y1 = y;
  for (let i = 1; i < 7; i++) {
    const yi = combine(y, h, DP_A[i], k);
    if (i === 6) y1 = yi;
    k.push(f(yi));
  }
  return { k, y1 };
}

/** RMS over every element of the batch (torchdiffeq's default norm: one number for the whole batch). */
function rms(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.mean(tf.square(x)));
}

/** Fourth-order interpolant on the step, evaluated at fraction x (torchdiffeq's _interp_fit / _interp_evaluate). */
function interpolate(y0: tf.Tensor, y1: tf.Tensor, k: readonly tf.Tensor[], h: number, xs: readonly number[]): tf.Tensor[] {
  const f0 = k[0];
  const f1 = k[6];
  const ym = combine(y0, h, DP_C_MID, k);
  const a = tf.addN([tf.mul(tf.sub(f1, f0), 2 * h), tf.mul(tf.add(y1, y0), -8), tf.mul(ym, 16)]);
  const b = tf.addN([tf.mul(f0, 5 * h), tf.mul(f1, -3 * h), tf.mul(y0, 18), tf.mul(y1, 14), tf.mul(ym, -32)]);
  const c = tf.addN([tf.mul(f1, h), tf.mul(f0, -4 * h), tf.mul(y0, -11), tf.mul(y1, -5), tf.mul(ym, 16)]);
  const d = tf.mul(f0, h);
  return xs.map((x) => tf.addN([y0, tf.mul(d, x), tf.mul(c, x ** 2), tf.mul(b, x ** 3), tf.mul(a, x ** 4)]));
}

/** torchdiffeq's _optimal_step_size for an error ratio r (order 5). */
function nextStep(h: number, r: number): number {
  if (r === 0) return h * IFACTOR;
  const dfactor = r < 1 ? 1 : DFACTOR;
  return h * Math.min(IFACTOR, Math.max(SAFETY / r ** (1 / 5), dfactor));
}

export interface TfDopriResult {
  /** Outputs [T, B, D] (owned by the caller). */
  readonly y: tf.Tensor;
  readonly nfe: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Host reads (each one a GPU round trip TF.js must wait for). */
  readonly reads: number;
  /** The accepted steps (t, h) and which outputs fell into each, for replaying the solve under tf.grads. */
  readonly steps: readonly { t: number; h: number; outputs: number[] }[];
}

/**
 * Adaptive dopri5 over tf ops with batch-shared step control (one h for all
 * samples from the RMS error over the batch, as torchdiffeq does), Hairer's
 * initial step, and dense output at the requested times. Each attempt reads
 * the error ratio back to decide acceptance and the next step size.
 */
export async function tfDopri5(f: Rhs, y0: tf.Tensor, t: readonly number[], rtol: number, atol: number): Promise<TfDopriResult> {
  let reads = 0;
  const read = async (x: tf.Tensor): Promise<Float32Array> => {
    reads++;
    const d = (await x.data()) as Float32Array;
    x.dispose();
    return d;
  };
  const dir = t.length > 1 ? Math.sign(t[t.length - 1] - t[0]) : 1;
  let y = tf.clone(y0);
  let k1 = tf.tidy(() => f(y));
  let nfe = 1;
  // Hairer, Nørsett & Wanner's initial step (torchdiffeq _select_initial_step, order 4 + 1).
  const [d0, d1] = await read(
    tf.tidy(() => {
      const scale = tf.add(tf.mul(tf.abs(y), rtol), atol);
      return tf.stack([rms(tf.div(y, scale)), rms(tf.div(k1, scale))]);
    }),
  );
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const [d2n] = await read(
    tf.tidy(() => {
      const scale = tf.add(tf.mul(tf.abs(y), rtol), atol);
      const f1 = f(tf.add(y, tf.mul(k1, dir * h0)));
      return rms(tf.div(tf.sub(f1, k1), scale));
    }),
  );
  nfe++;
  const d2 = d2n / h0;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  let h = dir * Math.min(100 * h0, h1);

  let tc = t[0];
  const outs: tf.Tensor[] = [tf.clone(y0)];
  const steps: { t: number; h: number; outputs: number[] }[] = [];
  let next = 1;
  let accepted = 0;
  let rejected = 0;
  try {
    while (next < t.length) {
      if (accepted + rejected >= MAX_ATTEMPTS) throw new Error(`TF.js dopri5: more than ${MAX_ATTEMPTS} attempts at t = ${tc}`);
      const hh = h;
      const { k, y1, ratio: r } = tf.tidy(() => {
        const s = dopriStages(f, y, k1, hh);
        const err = combine(tf.zerosLike(y), hh, DP_E, s.k);
        const scale = tf.add(tf.mul(tf.maximum(tf.abs(y), tf.abs(s.y1)), rtol), atol);
        return { k: s.k.slice(1), y1: s.y1, ratio: rms(tf.div(err, scale)) };
      });
      nfe += 6;
      const [ratioValue] = await read(r);
      if (ratioValue <= 1) {
        accepted++;
        const tn = tc + hh;
        const inStep: number[] = [];
        while (next < t.length && dir * (t[next] - tn) <= 0) inStep.push(next++);
        if (inStep.length) {
          const kAll = [k1, ...k];
          outs.push(...tf.tidy(() => interpolate(y, y1, kAll, hh, inStep.map((i) => (t[i] - tc) / hh))));
        }
        steps.push({ t: tc, h: hh, outputs: inStep });
        y.dispose();
        k1.dispose();
        for (const ki of k.slice(0, 5)) ki.dispose();
        y = y1;
        k1 = k[5];
        tc = tn;
      } else {
        rejected++;
        y1.dispose();
        for (const ki of k) ki.dispose();
      }
      h = nextStep(hh, ratioValue);
    }
    const stacked = tf.stack(outs);
    return { y: stacked, nfe, accepted, rejected, reads, steps };
  } finally {
    for (const o of outs) o.dispose();
    y.dispose();
    k1.dispose();
  }
}

/**
 * The accepted steps of a dopri5 solve, replayed without decisions (so
 * without reads) and differentiable: what a web developer gives tf.grads,
 * since tf.grads cannot await a read inside the function it differentiates.
 */
export function tfDopri5Replay(f: Rhs, y0: tf.Tensor, t: readonly number[], steps: TfDopriResult['steps']): tf.Tensor {
  const outs: tf.Tensor[] = [y0];
  let y = y0;
  let k1 = f(y);
  for (const s of steps) {
    const { k, y1 } = dopriStages(f, y, k1, s.h);
    if (s.outputs.length) outs.push(...interpolate(y, y1, k, s.h, s.outputs.map((i) => (t[i] - s.t) / s.h)));
    y = y1;
    k1 = k[6];
  }
  return tf.stack(outs);
}

/**
 * Loss mean(y(t)²) over every output and its gradient with respect to y0 and
 * every parameter, by tf.grads through the replayed dopri5 solve (forward
 * solve with reads first, to fix the steps). Returns the gradients' values.
 */
export async function tfDopri5Gradient(
  p: TfParams,
  y0: tf.Tensor,
  t: readonly number[],
  rtol: number,
  atol: number,
): Promise<{ loss: number; grads: Float32Array[]; reads: number }> {
  const fwd = await tfDopri5((z) => tfMlp(p, z), y0, t, rtol, atol);
  fwd.y.dispose();
  const { value, grads } = tf.tidy(() =>
    tf.valueAndGrads((z: tf.Tensor, ...q: tf.Tensor[]) => tf.mean(tf.square(tfDopri5Replay((x) => tfMlp(q, x), z, t, fwd.steps))))([
      y0,
      ...p,
    ]),
  );
  try {
    const loss = (await value.data())[0];
    const g = await Promise.all(grads.map(async (x) => (await x.data()) as Float32Array));
    return { loss, grads: g, reads: fwd.reads + 1 + grads.length };
  } finally {
    value.dispose();
    for (const x of grads) x.dispose();
  }
}

/**
 * One spiral training iteration written with TF.js, as table 4's webode loop
 * does it: a dopri5 solve of the batch (reads per attempt), tf.variableGrads
 * of mean((y − target)²) through the replay of its accepted steps, and an
 * Adam update (tf.train.adam); one read of a parameter at the end waits for
 * the update. Returns the loss tensor's value and the reads it needed.
 */
export async function tfTrainStep(
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  y0: tf.Tensor,
  target: tf.Tensor,
  t: readonly number[],
): Promise<{ loss: number; reads: number }> {
  const fwd = await tfDopri5((z) => tfMlp(vars, z), y0, t, RTOL, ATOL);
  fwd.y.dispose();
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(tf.sub(tfDopri5Replay((x) => tfMlp(vars, x), y0, t, fwd.steps), target))) as tf.Scalar,
    vars,
  );
  optimizer.applyGradients(grads);
  for (const g of Object.values(grads)) g.dispose();
  try {
    await vars[vars.length - 1].data();
    return { loss: (await value.data())[0], reads: fwd.reads + 2 };
  } finally {
    value.dispose();
  }
}

/** n windows of `length` consecutive points of a trajectory [N][D], from a seeded generator: y0 [n][D], targets [length][n][D]. */
function windows(y: Float64Array, D: number, n: number, length: number, seed: number): { y0: Float32Array; target: Float32Array } {
  const rng = mulberry32(seed);
  const N = y.length / D;
  const y0 = new Float32Array(n * D);
  const target = new Float32Array(length * n * D);
  for (let b = 0; b < n; b++) {
    const s = Math.floor(rng() * (N - length + 1));
    for (let d = 0; d < D; d++) y0[b * D + d] = y[s * D + d];
    for (let k = 0; k < length; k++) for (let d = 0; d < D; d++) target[(k * n + b) * D + d] = y[(s + k) * D + d];
  }
  return { y0, target };
}

// ---------------------------------------------------------------- the comparison

/** Norm-wise relative difference: max |a − b| / max |b|. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return a.length === b.length ? num / den : Infinity;
}

/** TF.js parameter gradients [W0, b0, W1, b1, …] laid out as webode's flat θ (MLP.setParameters order). */
function flatTheta(layers: readonly number[], grads: readonly Float32Array[]): Float32Array {
  const off = mlpOffsets(layers);
  const out = new Float32Array(off.count);
  off.layers.forEach((L, l) => {
    out.set(grads[2 * l], L.weight);
    out.set(grads[2 * l + 1], L.bias);
  });
  return out;
}

/** Tolerances of the checks, and why. */
export const CHECK = {
  /** One MLP evaluation: float32 sums in a different order, a few ulps of the largest output. */
  mlp: 1e-5,
  /** RK4 on the same grid: the same arithmetic up to summation order, over 100 steps. */
  rk4: 1e-5,
  /**
   * dopri5: two solvers with different step sequences (webode per-sample PI
   * control vs a batch-shared I controller) each within its tolerance; their
   * outputs may differ by the global errors of both, a small multiple of
   * atol + rtol·|y|. 100 such units is far below what a wrong coefficient gives (≥ 1e-3 relative).
   */
  dopri5Units: 100,
  /**
   * Gradients (dL/dy0 and dL/dθ, norm-wise, the worse of the two): TF.js
   * differentiates its own discretisation (4 batch-shared steps), webode's
   * adjoint the continuous problem at rtol 1e-6 and backprop webode's own
   * per-sample discretisation; all three are the exact gradient up to the
   * solvers' errors, which at rtol 1e-6 are far below 1e-3 relative. The
   * issue's accuracy target for gradients.
   */
  gradient: 1e-3,
} as const;

/** Coarse on purpose: TF.js needs about a second per RK4 step at B = 1,024 on SwiftShader. */
const RK4_STEP = 0.1;

interface PeerRow {
  readonly what: string;
  readonly webodeMs: number | null;
  readonly tfMs: number | null;
  readonly tfReads: number | null;
  readonly check: string;
  readonly ok: boolean | null;
  readonly note?: string;
}

async function initTf(): Promise<{ backend: WebGPUBackend }> {
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not initialise its WebGPU backend');
  await tf.ready();
  return { backend: tf.backend() as WebGPUBackend };
}

/** Median milliseconds of one MLP.forward call on B samples (many calls, one wait). */
async function webodeForwardMs(f: MLP, z: Tensor): Promise<Sample & { n: number }> {
  const run = async (n: number) => {
    const outs: Tensor[] = [];
    const ms = await timed(async () => {
      for (let i = 0; i < n; i++) outs.push(f.forward(z, 0));
      await gpuIdle(f.runtime.device);
    });
    for (const o of outs) o.destroy();
    return ms;
  };
  const n = await calibrate(run, 150, 512);
  return { ...(await repeat(() => run(n), { warmup: 0, repeats: 5 })), n };
}

/** Median milliseconds of one TF.js MLP evaluation (many calls, one read of the last, which waits for all). */
async function tfForwardMs(p: TfParams, z: tf.Tensor): Promise<Sample & { n: number }> {
  const run = (n: number) =>
    timed(async () => {
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < n; i++) outs.push(tf.tidy(() => tfMlp(p, z)));
      await outs[outs.length - 1].data();
      for (const o of outs) o.dispose();
    });
  const n = await calibrate(run, 150, 512);
  return { ...(await repeat(() => run(n), { warmup: 0, repeats: 5 })), n };
}

/**
 * Where TF.js's time goes on this adapter: its first-layer ops alone, each
 * timed as `n` launches and one read. Reported in a note, to show whether
 * the gap comes from the solver structure or from single TF.js kernels.
 */
async function tfOpCosts(p: TfParams, z: tf.Tensor): Promise<Record<string, number>> {
  const h = tf.tidy(() => tf.matMul(z, p[0], false, true));
  const ops: Record<string, () => tf.Tensor> = {
    [`matMul [${z.shape.join('×')}]·[${p[0].shape.join('×')}]ᵀ`]: () => tf.matMul(z, p[0], false, true),
    'add bias (broadcast)': () => tf.add(h, p[1]),
    tanh: () => tf.tanh(h),
  };
  const out: Record<string, number> = {};
  try {
    for (const [name, op] of Object.entries(ops)) {
      const run = (n: number) =>
        timed(async () => {
          const rs: tf.Tensor[] = [];
          for (let i = 0; i < n; i++) rs.push(op());
          await rs[rs.length - 1].data();
          for (const r of rs) r.dispose();
        });
      const n = await calibrate(run, 100, 256);
      out[name] = (await repeat(() => run(n), { warmup: 0, repeats: 3 })).median / n;
    }
  } finally {
    h.dispose();
  }
  return out;
}

export async function peerSection(rt: Runtime, _limits: Limits, training: TrainingRun | null): Promise<SectionResult> {
  const { backend } = await initTf();
  const model = SPIRAL;
  const B = 1024;
  const D = model.layers[model.layers.length - 1];
  const t = linspace(0, 1, 11);
  const f = makeModel(rt, model);
  const tensorsBefore = tf.memory().numTensors;
  const flat = await f.readParameters();
  const p = tfParams(model.layers, flat);
  const y0 = modelY0(model, B);
  const y0Tf = tf.tensor2d(y0, [B, D]);
  const z = Tensor.fromArray(rt, y0, [B, D], 'bench peer z');
  const rows: PeerRow[] = [];
  const data: Record<string, unknown> = {};
  try {
    // MLP forward.
    {
      const w = await webodeForwardMs(f, z);
      const tt = await tfForwardMs(p, y0Tf);
      const out = f.forward(z, 0);
      const mine = await out.read();
      out.destroy();
      const theirs = tf.tidy(() => tfMlp(p, y0Tf));
      const diff = relDiff(await theirs.data(), mine);
      theirs.dispose();
      rows.push({
        what: 'MLP forward (one evaluation)',
        webodeMs: w.median / w.n,
        tfMs: tt.median / tt.n,
        tfReads: 0,
        check: `rel ${sig(diff)} ≤ ${CHECK.mlp.toExponential()}`,
        ok: diff <= CHECK.mlp,
      });
      data.mlp = { webode: w, tf: tt, diff };
      data.tfOps = await tfOpCosts(p, y0Tf);
      progress(`peer: MLP forward done`);
    }
    // RK4, fixed step, outputs on the grid.
    {
      const steps = Math.round((t[t.length - 1] - t[0]) / RK4_STEP);
      const w = await timeSolve(f, y0, t, { method: 'rk4', stepSize: RK4_STEP });
      let last: Float32Array | null = null;
      const tfRun = (tt: readonly number[]) =>
        timed(async () => {
          const y = tfRk4((x) => tfMlp(p, x), y0Tf, tt, RK4_STEP);
          last = (await y.data()) as Float32Array;
          y.dispose();
        });
      // Warm-up (TF.js compiles its shaders on first use) on one step, then the timed solves.
      await tfRun([t[0], t[0] + RK4_STEP]);
      const tt = await repeat(() => tfRun(t), { warmup: 0, repeats: 3, minRepeats: 2, budgetMs: 10_000 });
      const diff = relDiff(last ?? new Float32Array(), w.y);
      rows.push({
        what: `RK4, h = ${RK4_STEP} (${steps} steps)`,
        webodeMs: w.wall.median,
        tfMs: tt.median,
        tfReads: 1,
        check: `rel ${sig(diff)} ≤ ${CHECK.rk4.toExponential()}`,
        ok: diff <= CHECK.rk4,
      });
      data.rk4 = { webode: { ...w, y: undefined }, tf: tt, diff };
      progress(`peer: RK4 done (TF.js ${ms(tt.median)} × ${tt.runs} runs)`);
    }
    // dopri5, adaptive.
    {
      const per = await timeSolve(f, y0, t, { rtol: RTOL, atol: ATOL });
      const bat = await timeSolve(f, y0, t, { rtol: RTOL, atol: ATOL, stepControl: 'batch' });
      let last: (Omit<TfDopriResult, 'y'> & { y: Float32Array }) | null = null;
      const tfRun = (tt: readonly number[]) =>
        timed(async () => {
          const r = await tfDopri5((x) => tfMlp(p, x), y0Tf, tt, RTOL, ATOL);
          last = { ...r, y: (await r.y.data()) as Float32Array };
          r.y.dispose();
        });
      await tfRun([0, 1e-3]);
      const tt = await repeat(() => tfRun(t), { warmup: 0, repeats: 3, minRepeats: 2, budgetMs: 10_000 });
      const res = last as (Omit<TfDopriResult, 'y'> & { y: Float32Array }) | null;
      if (!res) throw new Error('TF.js dopri5 did not run');
      const uPer = toleranceUnits(res.y, per.y);
      const uBat = toleranceUnits(res.y, bat.y);
      const tfNote = `TF.js: ${res.accepted} accepted, ${res.rejected} rejected, nfe ${res.nfe}`;
      rows.push({
        what: 'dopri5 vs webode per-sample',
        webodeMs: per.wall.median,
        tfMs: tt.median,
        tfReads: res.reads,
        check: `${sig(uPer)} tol units ≤ ${CHECK.dopri5Units}`,
        ok: uPer <= CHECK.dopri5Units,
        note: `webode nfe max ${per.summary.maxNfe}, ${per.summary.hostWaits} host waits; ${tfNote}`,
      });
      rows.push({
        what: 'dopri5 vs webode batch-shared',
        webodeMs: bat.wall.median,
        tfMs: tt.median,
        tfReads: res.reads,
        check: `${sig(uBat)} tol units ≤ ${CHECK.dopri5Units}`,
        ok: uBat <= CHECK.dopri5Units,
        note: `webode nfe ${bat.summary.maxNfe}, ${bat.summary.hostWaits} host waits`,
      });
      data.dopri5 = {
        webodePerSample: { ...per, y: undefined },
        webodeBatch: { ...bat, y: undefined },
        tf: { wall: tt, nfe: res.nfe, accepted: res.accepted, rejected: res.rejected, reads: res.reads },
        toleranceUnits: { perSample: uPer, batch: uBat },
      };
      progress(`peer: dopri5 done (TF.js ${ms(tt.median)} × ${tt.runs} runs)`);
    }
    // Forward + backward: tf.grads through TF.js dopri5 against webode odeint + sol.backward, same loss mean(y²).
    {
      let g: Awaited<ReturnType<typeof tfDopri5Gradient>> | null = null;
      const tfRun = (tt: readonly number[]) =>
        timed(async () => {
          g = await tfDopri5Gradient(p, y0Tf, tt, RTOL, ATOL);
        });
      // Warm-up on a short interval (gradient shaders compile on first use); one timed run, since one takes ~20 s here.
      await tfRun([0, 1e-3]);
      const tt = await repeat(() => tfRun(t), { warmup: 0, repeats: 1, minRepeats: 1 });
      const gr = g as Awaited<ReturnType<typeof tfDopri5Gradient>> | null;
      const finite = !!gr && Number.isFinite(gr.loss) && gr.grads.every((x) => x.every(Number.isFinite));
      progress(`peer: TF.js backward done (${ms(tt.median)})`);
      // webode on the same problem and loss: odeint, then sol.backward of ∂mean(y²)/∂y, adjoint and backprop.
      const wb = await timeForwardBackward(
        f,
        y0,
        t,
        { rtol: RTOL, atol: ATOL },
        [
          { label: 'adjoint', options: {} },
          { label: 'backprop', options: { mode: 'backprop' } },
        ],
        { keepGradients: true },
      );
      const tfTheta = gr ? flatTheta(model.layers, gr.grads.slice(1)) : null;
      const diffs: Record<string, { y0: number; theta: number }> = {};
      for (const b of wb.backward) {
        const dy0 = gr && b.gy0 ? relDiff(b.gy0, gr.grads[0]) : NaN;
        const dth = tfTheta && b.gtheta ? relDiff(b.gtheta, tfTheta) : NaN;
        diffs[b.label] = { y0: dy0, theta: dth };
        const worst = Math.max(dy0, dth);
        rows.push({
          what: `dopri5 forward + backward (webode ${b.label} vs tf.grads)`,
          webodeMs: b.total.median,
          tfMs: tt.median,
          tfReads: gr?.reads ?? null,
          check: finite ? `rel dL/dy0 ${sig(dy0)}, dL/dθ ${sig(dth)} ≤ ${CHECK.gradient.toExponential()}` : 'TF.js gradients non-finite',
          ok: finite && worst <= CHECK.gradient,
          note:
            `webode forward ${ms(wb.forward.wall.median)} + ${b.label} ${ms(b.wall.median)} (nfe max ${wb.forward.summary.maxNfe} + ${b.summary.maxNfe}, ` +
            `host waits ${wb.forward.summary.hostWaits} + ${b.summary.hostWaits}, ${wb.rounds} rounds)` +
            (b.label === 'adjoint' ? '; TF.js backpropagates through a replay of its accepted steps (one timed run)' : ''),
        });
      }
      data.backward = {
        tf: tt,
        loss: gr?.loss,
        webode: fbData(wb),
        relativeDifferences: diffs,
      };
      progress(`peer: backward done (webode ${ms(wb.backward[0].total.median)})`);
    }
    // One spiral training iteration (table 4's loop) written with TF.js.
    {
      const traj = spiralData();
      const n: number = SPIRAL_DATA.batch;
      const len: number = SPIRAL_DATA.window;
      const dt = traj.t[1] - traj.t[0];
      const tw = Array.from({ length: len }, (_, i) => i * dt);
      const vars = tfParams(model.layers, flat).map((x, i) => {
        const v = tf.variable(x, true, `bench_spiral_${i}_${Date.now()}`);
        x.dispose();
        return v;
      });
      const opt = tf.train.adam(1e-2);
      let draw = 0;
      let last: { loss: number; reads: number } | null = null;
      const once = (k = len) => {
        const w = windows(traj.y, D, n, k, 1000 + draw++);
        const wy0 = tf.tensor2d(w.y0, [n, D]);
        const target = tf.tensor3d(w.target, [k, n, D]);
        return timed(async () => {
          last = await tfTrainStep(vars, opt, wy0, target, tw.slice(0, k));
        }).finally(() => {
          wy0.dispose();
          target.dispose();
        });
      };
      try {
        // A short first iteration (windows of 2) compiles the shaders; about 8 s per iteration here, so two timed.
        await once(2);
        const tt = await repeat(() => once(), { warmup: 0, repeats: 3, minRepeats: 2, budgetMs: 8_000 });
        const res = last as { loss: number; reads: number } | null;
        const ok = !!res && Number.isFinite(res.loss);
        rows.push({
          what: 'training iteration (spiral, 20 windows of 10, Adam)',
          webodeMs: training ? training.msPerIteration : null,
          tfMs: tt.median,
          tfReads: res?.reads ?? null,
          check: ok ? 'loss finite (different random windows and initialisation: no value check)' : 'TF.js loss non-finite',
          ok: ok ? null : false,
          note: `webode: Trainer.step, table 4 (${training ? `${sig(training.itPerSec)} it/s` : 'not measured'}); TF.js: dopri5 with reads, tf.variableGrads through the replay of its accepted steps, tf.train.adam, ${tt.runs} timed iterations`,
        });
        data.training = { tf: tt, loss: res?.loss, webodeMsPerIteration: training?.msPerIteration ?? null };
        progress(`peer: training iteration done (TF.js ${ms(tt.median)})`);
      } finally {
        for (const v of vars) v.dispose();
        opt.dispose();
      }
    }
  } finally {
    for (const x of p) x.dispose();
    y0Tf.dispose();
    z.destroy();
    f.destroy();
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  const info = backend.device.adapterInfo;
  return {
    data: { model: model.name, batch: B, rows, tfTensorsLeaked: leaked, tfAdapter: info ? { vendor: info.vendor, architecture: info.architecture } : null, ...data },
    tables: [
      {
        id: '6',
        title: `The peer: TensorFlow.js ${tf.version_core} on WebGPU, ${model.name}, B = ${int(B)}, t = 0…1 (11 outputs), same adapter, same run`,
        columns: ['operation', 'webode', 'TF.js', 'webode speed-up', 'TF.js reads', 'same numbers?', ''],
        rows: rows.map((r) => [
          r.what,
          r.webodeMs === null ? NOT_YET : ms(r.webodeMs),
          r.tfMs === null ? NOT_YET : ms(r.tfMs),
          r.webodeMs === null || r.tfMs === null ? NOT_YET : ratio(r.tfMs / r.webodeMs),
          r.tfReads === null ? '' : int(r.tfReads),
          r.check,
          r.ok === null ? '' : r.ok ? 'ok' : 'FAIL',
        ]),
        notes: [
          'webode speed-up = TF.js time / webode time, medians, same run. TF.js runs on its own GPUDevice of the same adapter; its defaults are kept (a web developer would not tune them).',
          `TF.js dopri5: batch-shared RMS error norm, I controller (safety ${SAFETY}, factors ${DFACTOR}…${IFACTOR}), Hairer's initial step, 4th-order dense output — torchdiffeq's algorithm; it reads the error ratio back on every attempt.`,
          ...rows.filter((r) => r.note).map((r) => `${r.what}: ${r.note}.`),
          `TF.js single ops at B = ${int(B)} (launches, one read): ${Object.entries(data.tfOps as Record<string, number>)
            .map(([k, v]) => `${k} ${ms(v)}`)
            .join(', ')}; a whole TF.js MLP evaluation (two of each Linear's ops, one tanh) took ${ms(rows[0].tfMs ?? NaN)}.`,
          `Check tolerances: MLP and RK4 relative ${CHECK.mlp.toExponential()} (same arithmetic, different summation order); dopri5 ${CHECK.dopri5Units} × (atol + rtol·|y|) (different step sequences, each within tolerance).`,
          leaked ? `TF.js tensors left alive after the section: ${leaked}.` : 'No TF.js tensors leaked.',
        ],
      },
    ],
  };
}
