/**
 * `LatentODE`: the latent ODE of Rubanova, Chen & Duvenaud (2019) for
 * irregularly sampled series, on the GPU.
 *
 *   encoder   a GRU runs backwards in time over each series' observations
 *             (inputs [x ⊙ m, m, t] per observation; steps with nothing
 *             observed leave its state unchanged), then a Linear layer maps
 *             its last state to μ and log σ of q(z0 | x) = N(μ, σ²)
 *   z0        μ + σ ε (reparameterised; ε seeded on the GPU or given)
 *   dynamics  dz/dt = f(z), an MLP, solved from z(0) = z0 at each series' own
 *             times (per-sample output times)
 *   decoder   x̂(t) = Linear(z(t)), with Gaussian observation noise of a fixed std
 *
 * The objective is the negative ELBO averaged over series,
 * (1/B) Σ_b [−log p(x_b | z0) + β KL(q(z0 | x_b) ‖ N(0, I))], trained by
 * `LatentTrainer` (src/series/latent-trainer.ts). `predict` draws several z0
 * per series and returns the mean and spread of the decoded trajectories at
 * any times (interpolation and extrapolation).
 *
 * Times are measured from each series' origin t = 0, where z0 lives;
 * observations are strictly after it (see src/series/datasets.ts).
 */
import { LATENT_PARAMS, latentKernel, latentWorkgroups } from '../kernels/latent';
import type { BackwardOptions } from '../gradients/adjoint';
import { ArgumentError, DestroyedError } from '../errors';
import { MLP } from '../field/mlp';
import type { Activation } from '../mlp/mlp';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import { odeint } from '../solver/odeint';
import type { OdeintOptions } from '../solver/options';
import { checkInt, checkNumber, lengthOf } from '../train/common';
import { Linear } from '../train/linear';
import { GRUCell } from './cells';
import type { SeriesBatch } from './datasets';

/** The encoder of q(z0 | x): 'rnn' (a GRU run backwards over the observations). 'odernn' is reserved for an ODE-RNN encoder. */
export type LatentEncoderKind = 'rnn' | 'odernn';

/** Options of `new LatentODE(runtime, options)`. */
export interface LatentODEOptions {
  /** Values per observation D. */
  obsDim: number;
  /** Latent dimension L. */
  latentDim: number;
  /** The encoder. Default 'rnn'. */
  encoder?: LatentEncoderKind;
  /** Hidden width of the encoder's GRU. Default 20. */
  encoderHidden?: number;
  /** Hidden widths of the latent vector field f. Default [20, 20] (torchdiffeq's latent-ODE example). */
  fieldHidden?: readonly number[];
  /** Activation of f. Default 'elu'. */
  activation?: Activation;
  /** Observation std σ of the Gaussian likelihood. Default 0.01. */
  obsStd?: number;
  /** Seed of every layer's initialisation (each part offsets it). Default 0. */
  seed?: number;
  /** Options of the latent solves. Default dopri5, rtol 1e-5, atol 1e-6. */
  solver?: OdeintOptions;
  /** Options of the adjoint solves. Default: those of the forward solve. */
  backward?: BackwardOptions;
}

/** What `LatentODE.predict` returns (host arrays). */
export interface LatentPrediction {
  /** The times predicted, [B][T′]. */
  readonly times: Float64Array[];
  /** Mean over the z0 samples of the decoded values, [T′][B][D]. */
  readonly mean: Float32Array;
  /** Their standard deviation over the samples (population), [T′][B][D]. */
  readonly std: Float32Array;
  /** Every sample's decoded values, [T′][S·B][D] (row s·B + b: sample s of series b). */
  readonly draws: Float32Array;
  /** The z0 drawn, [S·B][L] (same rows). */
  readonly z0: Float32Array;
  /** z0 samples per series S. */
  readonly samples: number;
}

/** Options of `LatentODE.predict`. */
export interface PredictOptions {
  /** z0 samples per series. Default 16. */
  samples?: number;
  /** Times to predict at, per series ([B] rows of T′ increasing times > 0). Default: the series' own times. */
  times?: readonly ArrayLike<number>[];
  /** Seed of the z0 noise. Default 0. */
  seed?: number;
}

/**
 * Padded series on the GPU in the forms the model reads (made by
 * `LatentODE.upload`): the encoder's reversed inputs and step mask, the
 * targets and their mask, and the solve's per-series times (0 first).
 */
export class LatentData {
  /** Series B. */
  readonly batch: number;
  /** Padded observations per series T. */
  readonly length: number;
  /** Values per observation D. */
  readonly dim: number;
  /** [B][T + 1]: the origin 0, then the series' times. */
  readonly solveTimes: Float64Array[];
  private tensors: { encoderInput: Tensor; encoderMask: Tensor; values: Tensor; mask: Tensor } | null;

  /** @internal Made by `LatentODE.upload`. */
  constructor(parts: { batch: number; length: number; dim: number; solveTimes: Float64Array[]; encoderInput: Tensor; encoderMask: Tensor; values: Tensor; mask: Tensor }) {
    this.batch = parts.batch;
    this.length = parts.length;
    this.dim = parts.dim;
    this.solveTimes = parts.solveTimes;
    const { encoderInput, encoderMask, values, mask } = parts;
    this.tensors = { encoderInput, encoderMask, values, mask };
  }

  private get t() {
    if (!this.tensors) throw new DestroyedError('LatentData');
    return this.tensors;
  }
  /** The encoder's inputs [T][B][2D + 1], latest observation first. */
  get encoderInput(): Tensor {
    return this.t.encoderInput;
  }
  /** The encoder's step mask [T][B] (1 where any value is observed), latest first. */
  get encoderMask(): Tensor {
    return this.t.encoderMask;
  }
  /** Targets [T][B][D]. */
  get values(): Tensor {
    return this.t.values;
  }
  /** Target mask [T][B][D]. */
  get mask(): Tensor {
    return this.t.mask;
  }
  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return this.tensors === null;
  }
  /** Frees the tensors. Idempotent. */
  destroy(): void {
    if (!this.tensors) return;
    for (const t of Object.values(this.tensors)) t.destroy();
    this.tensors = null;
  }
}

/** Checks per-series times: B rows of T increasing times after the origin 0 (distinct in float32). */
export function checkSeriesTimes(name: string, times: readonly ArrayLike<number>[], batch: number): Float64Array[] {
  if (!Array.isArray(times) || times.length !== batch) throw new ArgumentError(name, times, `${batch} rows of times, one per series`);
  const T = lengthOf(times[0]);
  return times.map((row, b) => {
    if (lengthOf(row) !== T || T < 1) throw new ArgumentError(`${name}[${b}]`, row, `${T >= 1 ? T : 'at least one'} times (every row as long as the first)`);
    const out = Float64Array.from(row);
    out.forEach((v, i) => {
      const prev = i === 0 ? 0 : out[i - 1];
      if (!Number.isFinite(v) || !(Math.fround(v) > Math.fround(prev))) {
        throw new ArgumentError(`${name}[${b}][${i}]`, v, `a finite time after ${prev} (increasing, after the origin 0; distinct in float32)`);
      }
    });
    return out;
  });
}

/** The latent ODE: encoder GRU, head, latent vector field, decoder. */
export class LatentODE {
  /** The runtime every layer lives on. */
  readonly runtime: Runtime;
  /** Values per observation D. */
  readonly obsDim: number;
  /** Latent dimension L. */
  readonly latentDim: number;
  /** The encoder of q(z0 | x). */
  readonly encoderKind: LatentEncoderKind;
  /** The encoder's GRU (input 2D + 1, hidden `encoderHidden`). */
  readonly encoder: GRUCell;
  /** hidden → [μ, log σ] (2L outputs). */
  readonly head: Linear;
  /** The latent vector field f: L → L. */
  readonly f: MLP;
  /** z → x̂ (L → D). */
  readonly decoder: Linear;
  /** Observation std σ of the Gaussian likelihood. */
  readonly obsStd: number;
  /** Forward solver options (mutable). */
  solver: OdeintOptions;
  /** Adjoint solver options (mutable). */
  backward: BackwardOptions;

  constructor(runtime: Runtime, options: LatentODEOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { obsDim, latentDim, … }');
    const D = checkInt('options.obsDim', options.obsDim, 1);
    const L = checkInt('options.latentDim', options.latentDim, 1);
    const kind = options.encoder ?? 'rnn';
    if (kind === 'odernn') throw new ArgumentError('options.encoder', kind, "'rnn' (the ODE-RNN encoder is not available yet)");
    if (kind !== 'rnn') throw new ArgumentError('options.encoder', kind, "'rnn' or 'odernn'");
    const H = checkInt('options.encoderHidden', options.encoderHidden ?? 20, 1);
    const hidden = options.fieldHidden ?? [20, 20];
    if (!Array.isArray(hidden)) throw new ArgumentError('options.fieldHidden', hidden, 'an array of hidden widths');
    hidden.forEach((w, i) => checkInt(`options.fieldHidden[${i}]`, w, 1));
    const obsStd = checkNumber('options.obsStd', options.obsStd ?? 0.01, Number.MIN_VALUE);
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ArgumentError('options.seed', seed, 'a finite number');
    runtime.check();
    this.runtime = runtime;
    this.obsDim = D;
    this.latentDim = L;
    this.encoderKind = kind;
    this.obsStd = obsStd;
    const made: { destroy(): void }[] = [];
    try {
      this.f = new MLP(runtime, { layers: [L, ...hidden, L], activation: options.activation ?? 'elu', seed: seed + 2 });
      made.push(this.f);
      this.encoder = new GRUCell(runtime, { inputSize: 2 * D + 1, hiddenSize: H, seed: seed + 0 });
      made.push(this.encoder);
      this.head = new Linear(runtime, { inFeatures: H, outFeatures: 2 * L, seed: seed + 1 });
      made.push(this.head);
      this.decoder = new Linear(runtime, { inFeatures: L, outFeatures: D, seed: seed + 3 });
    } catch (e) {
      for (const m of made) m.destroy();
      throw e;
    }
    this.solver = { rtol: 1e-5, atol: 1e-6, ...(options.solver ?? {}) };
    this.backward = { ...(options.backward ?? {}) };
  }

  /** Hidden width of the encoder. */
  get encoderHidden(): number {
    return this.encoder.hiddenSize;
  }

  /** The trainable tensors, in a fixed order: encoder GRU, head, vector field, decoder. */
  get parameters(): Tensor[] {
    return [this.encoder.params, this.head.params, this.f.params, this.decoder.params];
  }

  /** Parameters in total. */
  get parameterCount(): number {
    return this.encoder.parameterCount + this.head.parameterCount + this.f.parameterCount + this.decoder.parameterCount;
  }

  /**
   * Uploads padded series for training or prediction (once; the tensors stay
   * on the GPU until `destroy()`): the encoder reads series b's observation i
   * at step T − 1 − i with inputs [x ⊙ m, m, t].
   */
  upload(series: SeriesBatch): LatentData {
    const rt = this.runtime;
    if (typeof series !== 'object' || series === null) throw new ArgumentError('series', series, 'a SeriesBatch');
    const D = this.obsDim;
    if (series.dim !== D) throw new ArgumentError('series.dim', series.dim, `${D} (the model's obsDim)`);
    const B = checkInt('series.batch', series.batch, 1);
    const T = checkInt('series.length', series.length, 1);
    if (lengthOf(series.values) !== T * B * D) throw new ArgumentError('series.values', lengthOf(series.values), `${T * B * D} values [T][B][D]`);
    if (lengthOf(series.mask) !== T * B * D) throw new ArgumentError('series.mask', lengthOf(series.mask), `${T * B * D} values [T][B][D]`);
    const times = checkSeriesTimes('series.times', series.times, B);
    if (times[0].length !== T) throw new ArgumentError('series.times', times[0].length, `rows of ${T} times (series.length)`);
    const I = 2 * D + 1;
    const input = new Float32Array(T * B * I);
    const stepMask = new Float32Array(T * B);
    for (let i = 0; i < T; i++) {
      const r = T - 1 - i;
      for (let b = 0; b < B; b++) {
        let any = 0;
        for (let d = 0; d < D; d++) {
          const m = series.mask[(i * B + b) * D + d];
          const v = series.values[(i * B + b) * D + d];
          if (!(m >= 0 && m <= 1)) throw new ArgumentError(`series.mask[${(i * B + b) * D + d}]`, m, 'a number in [0, 1]');
          if (m !== 0 && !Number.isFinite(v)) throw new ArgumentError(`series.values[${(i * B + b) * D + d}]`, v, 'a finite number where observed');
          input[(r * B + b) * I + d] = m === 0 ? 0 : v * m;
          input[(r * B + b) * I + D + d] = m;
          if (m > 0) any = 1;
        }
        input[(r * B + b) * I + 2 * D] = any ? times[b][i] : 0;
        stepMask[r * B + b] = any;
      }
    }
    const values = Float32Array.from(series.values, (v, k) => (series.mask[k] === 0 ? 0 : v));
    const made: Tensor[] = [];
    try {
      const up = (data: Float32Array, shape: number[], label: string) => {
        const t = Tensor.fromArray(rt, data, shape, label);
        made.push(t);
        return t;
      };
      return new LatentData({
        batch: B,
        length: T,
        dim: D,
        solveTimes: times.map((row) => Float64Array.of(0, ...row)),
        encoderInput: up(input, [T, B, I], 'latent encoder input'),
        encoderMask: up(stepMask, [T, B], 'latent encoder mask'),
        values: up(values, [T, B, D], 'latent targets'),
        mask: up(Float32Array.from(series.mask), [T, B, D], 'latent target mask'),
      });
    } catch (e) {
      for (const t of made) t.destroy();
      throw e;
    }
  }

  /**
   * Encodes `series`, draws `samples` z0 per series from q(z0 | x) and
   * decodes the latent trajectories at `times` (default the series' own;
   * later times extrapolate). Host waits: the solve's, and one read.
   */
  async predict(series: SeriesBatch, options: PredictOptions = {}): Promise<LatentPrediction> {
    const rt = this.runtime;
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { samples?, times?, seed? }');
    const S = checkInt('options.samples', options.samples ?? 16, 1);
    const seed = checkInt('options.seed', options.seed ?? 0, 0);
    if (typeof series !== 'object' || series === null) throw new ArgumentError('series', series, 'a SeriesBatch');
    const asked = options.times === undefined ? null : checkSeriesTimes('options.times', options.times, series.batch);
    const data = this.upload(series);
    const B = data.batch;
    const L = this.latentDim;
    const D = this.obsDim;
    const H = this.encoderHidden;
    const T = data.length;
    const times = asked ?? data.solveTimes.map((r) => r.slice(1));
    const Tp = times[0].length;
    const owned: { destroy(): void }[] = [data];
    try {
      const seq = this.encoder.forward({ x: data.encoderInput, steps: T, batch: B, mask: data.encoderMask });
      owned.push(seq);
      const head = Tensor.zeros(rt, [B, 2 * L], 'latent predict head');
      const eps = Tensor.zeros(rt, [S * B * L], 'latent predict noise');
      const z0 = Tensor.zeros(rt, [S * B, L], 'latent predict z0');
      const scratch = [Tensor.zeros(rt, [4], 'latent predict unused'), Tensor.zeros(rt, [4], 'latent predict unused'), Tensor.zeros(rt, [4], 'latent predict unused'), Tensor.zeros(rt, [4], 'latent predict unused')];
      owned.push(head, eps, z0, ...scratch);
      const uniform = rt.createBuffer('latent predict params', LATENT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      owned.push({ destroy: () => rt.destroyBuffer(uniform) });
      rt.device.queue.writeBuffer(uniform, 0, LATENT_PARAMS.pack({ batch: B, latent: L, samples: S, seed, draw: 0, beta: 0, scale: 1 / B }));
      const encoder = rt.device.createCommandEncoder({ label: 'latent predict encode' });
      const pass = encoder.beginComputePass({ label: 'latent predict encode' });
      this.head.recordForward(pass, { x: seq.hidden, xOffset: (T - 1) * B * H, batch: B, y: head });
      const k = rt.kernel(latentKernel, null).bind(
        { P: uniform, head: head.buffer, eps: eps.buffer, z0: z0.buffer, dz0: scratch[0].buffer, dhead: scratch[1].buffer, nll: scratch[2].buffer, stats: scratch[3].buffer },
        'latent predict bind group',
      );
      k.dispatch(pass, 'noise', latentWorkgroups(S * B * L));
      k.dispatch(pass, 'reparam', latentWorkgroups(S * B * L));
      pass.end();
      rt.submit([encoder.finish()]);
      const solveTimes: Float64Array[] = [];
      for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) solveTimes.push(Float64Array.of(0, ...times[b]));
      const sol = await odeint(this.f, z0, solveTimes, this.solver);
      owned.push(sol);
      const out = Tensor.zeros(rt, [Tp, S * B, D], 'latent predict decoded');
      owned.push(out);
      const enc2 = rt.device.createCommandEncoder({ label: 'latent predict decode' });
      const pass2 = enc2.beginComputePass({ label: 'latent predict decode' });
      this.decoder.recordForward(pass2, { x: sol.y, xOffset: S * B * L, batch: Tp * S * B, y: out });
      pass2.end();
      rt.submit([enc2.finish()]);
      const draws = await out.read();
      const z0Values = await z0.read();
      const mean = new Float32Array(Tp * B * D);
      const std = new Float32Array(Tp * B * D);
      for (let i = 0; i < Tp; i++) {
        for (let b = 0; b < B; b++) {
          for (let d = 0; d < D; d++) {
            let m = 0;
            for (let s = 0; s < S; s++) m += draws[(i * S * B + s * B + b) * D + d];
            m /= S;
            let v = 0;
            for (let s = 0; s < S; s++) v += (draws[(i * S * B + s * B + b) * D + d] - m) ** 2;
            mean[(i * B + b) * D + d] = m;
            std[(i * B + b) * D + d] = Math.sqrt(v / S);
          }
        }
      }
      return { times, mean, std, draws, z0: z0Values, samples: S };
    } finally {
      for (const o of owned.reverse()) o.destroy();
    }
  }

  /** Frees every layer. */
  destroy(): void {
    this.encoder.destroy();
    this.head.destroy();
    this.f.destroy();
    this.decoder.destroy();
  }
}
