/**
 * Float64 CPU references of the series pieces, written from the formulas
 * apart from the WGSL and TypeScript they check: the masked losses (masked
 * MSE, Gaussian negative log-likelihood with a fixed std), and the latent
 * ODE's ELBO terms.
 */
import type { Activation } from '../../src/mlp/activations';
import { mlpForward } from './mlp';
import { solveAccurate } from './solve';

/** A loss value and its gradient with respect to the predictions. */
export interface LossRef {
  value: number;
  grad: Float64Array;
}

/** scale · Σ m (p − y)², gradient 2 m (p − y) · scale. */
export function maskedMseRef(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number>, scale: number): LossRef {
  const grad = new Float64Array(target.length);
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    if (mask[i] === 0) continue;
    const d = pred[i] - target[i];
    s += mask[i] * d * d;
    grad[i] = 2 * mask[i] * d * scale;
  }
  return { value: scale * s, grad };
}

/** −scale · Σ m log N(y | p, σ²), gradient m (p − y)/σ² · scale. */
export function gaussianNllRef(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number>, std: number, scale: number): LossRef {
  const grad = new Float64Array(target.length);
  let s = 0;
  for (let i = 0; i < target.length; i++) {
    if (mask[i] === 0) continue;
    const d = pred[i] - target[i];
    const logp = -0.5 * Math.log(2 * Math.PI) - Math.log(std) - (d * d) / (2 * std * std);
    s -= mask[i] * logp;
    grad[i] = (mask[i] * d * scale) / (std * std);
  }
  return { value: scale * s, grad };
}

// ---------------------------------------------------------------------------------------------
// The latent ODE's objective in float64.


/** Sizes of the reference model. `fieldLayers` = [L, hidden…, L] (state dimension first). */
export interface LatentRefConfig {
  obsDim: number;
  latentDim: number;
  hidden: number;
  fieldLayers: readonly number[];
  activation: Activation;
  obsStd: number;
}

/** The flat parameters of each part, PyTorch layouts (GRUCell; Linear weight [out][in] then bias; MLP layer by layer). */
export interface LatentRefParams {
  gru: ArrayLike<number>;
  head: ArrayLike<number>;
  field: ArrayLike<number>;
  decoder: ArrayLike<number>;
}

/** The data the reference reads: padded series as `SeriesBatch` lays them out. */
export interface LatentRefData {
  batch: number;
  length: number;
  times: readonly ArrayLike<number>[];
  values: ArrayLike<number>;
  mask: ArrayLike<number>;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * One GRUCell step (torch.nn.GRUCell): r = σ(W_ir x + b_ir + W_hr h + b_hr),
 * z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
 * h' = (1 − z) ⊙ n + z ⊙ h; parameters weight_ih [3H][I], weight_hh [3H][H], bias_ih, bias_hh.
 */
export function gruStep(p: ArrayLike<number>, I: number, H: number, x: readonly number[], h: readonly number[]): number[] {
  const wih = 0;
  const whh = 3 * H * I;
  const bih = whh + 3 * H * H;
  const bhh = bih + 3 * H;
  const gi = (g: number, j: number) => {
    let s = p[bih + g * H + j];
    for (let k = 0; k < I; k++) s += p[wih + (g * H + j) * I + k] * x[k];
    return s;
  };
  const gh = (g: number, j: number) => {
    let s = p[bhh + g * H + j];
    for (let k = 0; k < H; k++) s += p[whh + (g * H + j) * H + k] * h[k];
    return s;
  };
  return Array.from({ length: H }, (_, j) => {
    const r = sigmoid(gi(0, j) + gh(0, j));
    const z = sigmoid(gi(1, j) + gh(1, j));
    const n = Math.tanh(gi(2, j) + r * gh(2, j));
    return (1 - z) * n + z * h[j];
  });
}

/** y = W x + b (nn.Linear, weight [out][in] row-major, then bias). */
export function linearRef(p: ArrayLike<number>, inF: number, outF: number, x: readonly number[]): number[] {
  return Array.from({ length: outF }, (_, o) => {
    let s = p[inF * outF + o];
    for (let i = 0; i < inF; i++) s += p[o * inF + i] * x[i];
    return s;
  });
}

/** What the reference objective computes. */
export interface LatentRefResult {
  /** nll + β·kl. */
  loss: number;
  /** (1/B) Σ_b Σ_observed −log N(x | decoder(z(t)), σ²). */
  nll: number;
  /** (1/B) Σ_b KL(q(z0 | x_b) ‖ N(0, I)). */
  kl: number;
  mu: number[][];
  logSigma: number[][];
  z0: number[][];
  /** Decoded predictions [T][B][D] at the series' times. */
  pred: Float64Array;
}

/**
 * The latent ODE's objective on padded series, written from the model's
 * definition: a GRU runs over each series' observations from the last to the
 * first (steps without any observed value leave h unchanged), reading at the
 * observation at time t the inputs [x ⊙ m, m, t]; μ, log σ = Linear(h);
 * z0 = μ + σ ε; z(t) solves dz/dt = f(z) from z(0) = z0 (float64 dopri5 at
 * tolerance 1e-11); x̂ = Linear(z(t)); loss = (1/B) Σ [−log p + β KL].
 */
export function latentObjectiveRef(cfg: LatentRefConfig, p: LatentRefParams, data: LatentRefData, eps: readonly (readonly number[])[], beta: number): LatentRefResult {
  const { obsDim: D, latentDim: L, hidden: H } = cfg;
  const { batch: B, length: T } = data;
  const I = 2 * D + 1;
  const pred = new Float64Array(T * B * D);
  const out: LatentRefResult = { loss: 0, nll: 0, kl: 0, mu: [], logSigma: [], z0: [], pred };
  for (let b = 0; b < B; b++) {
    let h = new Array<number>(H).fill(0);
    for (let i = T - 1; i >= 0; i--) {
      const m = Array.from({ length: D }, (_, d) => data.mask[(i * B + b) * D + d]);
      if (m.every((v) => v === 0)) continue;
      const x = [
        ...Array.from({ length: D }, (_, d) => data.values[(i * B + b) * D + d] * m[d]),
        ...m,
        data.times[b][i],
      ];
      h = gruStep(p.gru, I, H, x, h);
    }
    const head = linearRef(p.head, H, 2 * L, h);
    const mu = head.slice(0, L);
    const ls = head.slice(L);
    const z0 = mu.map((v, l) => v + Math.exp(ls[l]) * eps[b][l]);
    out.mu.push(mu);
    out.logSigma.push(ls);
    out.z0.push(z0);
    let kl = 0;
    for (let l = 0; l < L; l++) kl += 0.5 * (Math.exp(2 * ls[l]) + mu[l] * mu[l] - 1) - ls[l];
    const f = (_t: number, z: readonly number[]) => Array.from(mlpForward(cfg.fieldLayers, cfg.activation, false, p.field, 0, z));
    const zs = solveAccurate(f, z0, [0, ...Array.from(data.times[b])], 1e-11, 1e-11);
    let nll = 0;
    for (let i = 0; i < T; i++) {
      const xhat = linearRef(p.decoder, L, D, zs[i + 1]);
      for (let d = 0; d < D; d++) {
        pred[(i * B + b) * D + d] = xhat[d];
        const m = data.mask[(i * B + b) * D + d];
        if (m === 0) continue;
        const r = data.values[(i * B + b) * D + d] - xhat[d];
        nll += m * (0.5 * Math.log(2 * Math.PI) + Math.log(cfg.obsStd) + (r * r) / (2 * cfg.obsStd * cfg.obsStd));
      }
    }
    out.nll += nll / B;
    out.kl += kl / B;
  }
  out.loss = out.nll + beta * out.kl;
  return out;
}

/** Central differences of `fn` at `x` in every coordinate (step h·max(1, |x_i|)). */
export function centralGradient(fn: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-6): Float64Array {
  const v = Float64Array.from(x);
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const s = h * Math.max(1, Math.abs(v[i]));
    const keep = v[i];
    v[i] = keep + s;
    const up = fn(v);
    v[i] = keep - s;
    const down = fn(v);
    v[i] = keep;
    g[i] = (up - down) / (2 * s);
  }
  return g;
}
