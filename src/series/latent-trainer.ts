/**
 * `LatentTrainer`: one training iteration of a `LatentODE` on the GPU, with
 * no host wait —
 *
 *   GRU over the reversed observations → head → ε (PCG hash) → z0 = μ + σ ε
 *   → deferred solve at each series' times → decoder → masked Gaussian NLL,
 *   dL/dx̂ → decoder VJP into the cotangent [T+1][B][L] → deferred adjoint
 *   solve → dL/dz0 → reparameterisation and KL gradients → head VJP →
 *   GRU backpropagation through time → gate → Adam on every tensor.
 *
 * As `Trainer`'s wait-free iterations: the gate kernel reads both solves'
 * reports on the GPU and lets the optimizer update only if both succeeded;
 * the objective's terms [loss, nll, kl, β] of every iteration go into a GPU
 * ring, read (with the health words, one host wait) only when asked. The
 * gate, its buffers and the health read are `TrainingCore`'s
 * (src/train/trainer.ts), which `Trainer` and `FlowTrainer` share.
 *
 * KL annealing: iteration k (1-based) weighs the KL term by
 * β_k = klWeight · min(1, k / klWarmup) (β = klWeight without warm-up).
 */
import { LATENT_PARAMS, latentKernel, latentWorkgroups } from '../kernels/latent';
import { ArgumentError, DestroyedError, OdeSolveError } from '../errors';
import { Gradients } from '../gradients/gradients';
import { Tensor } from '../runtime/tensor';
import { odeint } from '../solver/odeint';
import { Solution } from '../solver/solution';
import { checkInt, checkNumber, finiteFloat32 } from '../train/common';
import { Loss } from '../train/loss';
import { Optimizer } from '../train/optim';
import { LOSS_HISTORY, TrainingCore } from '../train/trainer';
import { LatentData, LatentODE } from './latent';

/** Options of `new LatentTrainer(model, optimizer, options)`. */
export interface LatentTrainerOptions {
  /** Largest KL weight β. Default 1 (the ELBO). */
  klWeight?: number;
  /** Iterations over which β rises linearly from 0 to klWeight. Default 0 (no annealing). */
  klWarmup?: number;
  /** Seed of the z0 noise (iteration k draws with draw number k). Default 0. */
  seed?: number;
  /** Dispatch budget of each deferred solve. Default: `OdeintOptions.dispatchBudget`'s. */
  dispatchBudget?: number;
}

/** The objective's terms of one iteration. */
export interface LatentLoss {
  /** nll + β·kl (what the optimizer descends). */
  readonly loss: number;
  /** (1/B) Σ_b −log p(x_b | z0_b) over the observed values. */
  readonly nll: number;
  /** (1/B) Σ_b KL(q(z0 | x_b) ‖ N(0, I)). */
  readonly kl: number;
  /** The KL weight β of the iteration. */
  readonly beta: number;
  /** The ELBO estimate −(nll + kl) per series. */
  readonly elbo: number;
}

/** Options of `LatentTrainer.step`. */
export interface LatentStepOptions {
  /** Read the objective's terms back (one host wait; also reports a failed earlier iteration). Default false. */
  readLoss?: boolean;
  /** ε for this iteration, B·L values (instead of the seeded draw). */
  eps?: ArrayLike<number>;
}

/** What one iteration did. */
export interface LatentStepResult {
  /** The iteration's number (1 for the first). */
  readonly iteration: number;
  /** The objective before the update, when requested; null otherwise. */
  readonly loss: LatentLoss | null;
  /** Host waits this iteration issued. */
  readonly hostWaits: number;
}

/** The objective's terms of a run of iterations (`readHistory`). */
export interface LatentHistory {
  /** The number of the first iteration returned. */
  readonly first: number;
  /** nll + β·kl per iteration. */
  readonly loss: Float32Array;
  /** The likelihood term per iteration. */
  readonly nll: Float32Array;
  /** The KL term per iteration. */
  readonly kl: Float32Array;
  /** β per iteration. */
  readonly beta: Float32Array;
}

/** Iterations the GPU ring of objective terms keeps (that of the gate's nfe ring, `LOSS_HISTORY`). */
export const LATENT_HISTORY = LOSS_HISTORY;

function destroyPartial(e: unknown): void {
  if (!(e instanceof OdeSolveError)) return;
  const partial: unknown = e.solution;
  if (partial instanceof Solution || partial instanceof Gradients) partial.destroy();
}

function terms(v: Float32Array, at = 0): LatentLoss {
  return { loss: v[at], nll: v[at + 1], kl: v[at + 2], beta: v[at + 3], elbo: -(v[at + 1] + v[at + 2]) };
}

/** Trains a `LatentODE` with an optimizer over `model.parameters`. */
export class LatentTrainer extends TrainingCore {
  /** The model trained. */
  readonly model: LatentODE;
  /** The masked Gaussian NLL (its std is the model's obsStd). */
  readonly loss: Loss;
  /** Largest KL weight β. */
  readonly klWeight: number;
  /** Iterations of β's linear warm-up (0: none). */
  readonly klWarmup: number;
  /** Seed of the z0 noise. */
  readonly seed: number;
  protected readonly kind = 'LatentTrainer';
  private readonly uniform: GPUBuffer;
  private readonly history: Tensor;
  private readonly stats: Tensor;
  /** A read-only stand-in for dz0 in the passes that do not read it (it may not alias dhead). */
  private readonly unused: Tensor;
  private historyRead = 0;
  private scratch: { key: string; tensors: Record<'head' | 'eps' | 'z0' | 'pred' | 'dpred' | 'cot' | 'dhead' | 'dh', Tensor> } | null = null;

  constructor(model: LatentODE, optimizer: Optimizer, options: LatentTrainerOptions = {}) {
    if (!(model instanceof LatentODE)) throw new ArgumentError('model', model, 'a LatentODE');
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError('optimizer', optimizer, 'an SGD or Adam optimizer');
    const params = model.parameters;
    if (optimizer.params.length !== params.length || params.some((p) => !optimizer.params.includes(p))) {
      throw new ArgumentError('optimizer', `an optimizer over ${optimizer.params.length} tensor(s)`, `an optimizer over the model's ${params.length} parameter tensors (model.parameters)`);
    }
    if (optimizer.runtime !== model.runtime) throw new ArgumentError('optimizer', optimizer, "an optimizer on the model's runtime");
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    const klWeight = checkNumber('options.klWeight', options.klWeight ?? 1, 0);
    const klWarmup = checkInt('options.klWarmup', options.klWarmup ?? 0, 0);
    const seed = checkInt('options.seed', options.seed ?? 0, 0);
    // TrainingCore checks the dispatch budget (before the gradient mode) and makes the gate's buffers.
    const checked = { dispatchBudget: options.dispatchBudget };
    if ((model.backward.mode ?? 'adjoint') !== 'adjoint') {
      TrainingCore.checkOptions(checked);
      throw new ArgumentError('model.backward.mode', model.backward.mode, "'adjoint' (the trainer is wait-free)");
    }
    super(model.runtime, optimizer, checked);
    this.klWeight = klWeight;
    this.klWarmup = klWarmup;
    this.seed = seed;
    this.model = model;
    const rt = this.rt;
    const owned: { destroy(): void }[] = [];
    const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
      const b = rt.createBuffer(`latent trainer ${label}`, bytes, usage);
      owned.push({ destroy: () => rt.destroyBuffer(b) });
      return b;
    };
    try {
      this.loss = new Loss(rt, 'gaussian-nll', { std: model.obsStd });
      owned.push(this.loss);
      this.uniform = make('params', LATENT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.history = Tensor.zeros(rt, [LATENT_HISTORY, 4], 'latent objective history');
      owned.push(this.history);
      this.stats = Tensor.zeros(rt, [4], 'latent objective');
      owned.push(this.stats);
      this.unused = Tensor.zeros(rt, [4], 'latent trainer unused binding');
    } catch (e) {
      for (const o of owned) o.destroy();
      for (const b of Object.values(this.gate)) rt.destroyBuffer(b);
      throw e;
    }
  }

  /** @internal The last iteration's ε [B·L] (null before the first). */
  get lastEps(): Tensor | null {
    return this.scratch?.tensors.eps ?? null;
  }

  /** β of iteration k (1-based). */
  betaAt(k: number): number {
    return this.klWarmup === 0 ? this.klWeight : this.klWeight * Math.min(1, k / this.klWarmup);
  }

  /** The latest objective terms [loss, nll, kl, β], on the GPU. */
  get objective(): Tensor {
    return this.stats;
  }

  /** Scratch tensors for a data shape, kept between iterations. */
  private tensorsFor(data: LatentData) {
    const { batch: B, length: T, dim: D } = data;
    const L = this.model.latentDim;
    const H = this.model.encoderHidden;
    const key = `${B},${T},${D}`;
    if (this.scratch?.key === key) return this.scratch.tensors;
    if (this.scratch) for (const t of Object.values(this.scratch.tensors)) t.destroy();
    this.scratch = null;
    const rt = this.rt;
    const made: Tensor[] = [];
    const z = (shape: number[], label: string) => {
      const t = Tensor.zeros(rt, shape, `latent trainer ${label}`);
      made.push(t);
      return t;
    };
    try {
      const tensors = {
        head: z([B, 2 * L], 'head output'),
        eps: z([B * L], 'noise'),
        z0: z([B, L], 'z0'),
        pred: z([T, B, D], 'decoded'),
        dpred: z([T, B, D], 'decoded gradient'),
        cot: z([T + 1, B, L], 'latent cotangent'),
        dhead: z([B, 2 * L], 'head gradient'),
        dh: z([B, H], 'encoder state gradient'),
      };
      this.scratch = { key, tensors };
      return tensors;
    } catch (e) {
      for (const t of made) t.destroy();
      throw e;
    }
  }

  /**
   * One iteration on uploaded series (`model.upload`): no host wait unless
   * `readLoss` is set (then one, which also reports a failure of this or an
   * earlier iteration as a `TrainingError`).
   */
  async step(data: LatentData, options: LatentStepOptions = {}): Promise<LatentStepResult> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    if (!(data instanceof LatentData)) throw new ArgumentError('data', data, 'LatentData (from model.upload)');
    if (data.isDestroyed) throw new DestroyedError('LatentData');
    if (data.dim !== this.model.obsDim) throw new ArgumentError('data', `series of dimension ${data.dim}`, `series of dimension ${this.model.obsDim}`);
    const rt = this.rt;
    rt.check();
    const model = this.model;
    const { batch: B, length: T, dim: D } = data;
    const L = model.latentDim;
    const H = model.encoderHidden;
    const eps = options.eps === undefined ? null : finiteFloat32('options.eps', options.eps, B * L);
    const waits0 = rt.counters.hostWaits;
    const s = this.tensorsFor(data);
    const k = this.iteration + 1;
    const beta = this.betaAt(k);
    rt.device.queue.writeBuffer(this.uniform, 0, LATENT_PARAMS.pack({ batch: B, latent: L, samples: 1, seed: this.seed, draw: k, beta, scale: 1 / B }));
    if (eps) s.eps.write(eps);
    const posterior = rt.kernel(latentKernel, null);

    // Encoder, head, z0.
    const seq = model.encoder.forward({ x: data.encoderInput, steps: T, batch: B, mask: data.encoderMask });
    const owned: { destroy(): void }[] = [seq];
    try {
      const bound = (dz0: Tensor) =>
        posterior.bind(
          { P: this.uniform, head: s.head.buffer, eps: s.eps.buffer, z0: s.z0.buffer, dz0: dz0.buffer, dhead: s.dhead.buffer, nll: this.loss.value.buffer, stats: this.stats.buffer },
          'latent posterior bind group',
        );
      {
        const encoder = rt.device.createCommandEncoder({ label: 'latent encode' });
        const pass = encoder.beginComputePass({ label: 'latent encode' });
        model.head.recordForward(pass, { x: seq.hidden, xOffset: (T - 1) * B * H, batch: B, y: s.head });
        const post = bound(this.unused);
        if (!eps) post.dispatch(pass, 'noise', latentWorkgroups(B * L));
        post.dispatch(pass, 'reparam', latentWorkgroups(B * L));
        pass.end();
        rt.submit([encoder.finish()]);
      }
      const deferred = { deferred: true, dispatchBudget: this.dispatchBudget };
      let sol: Solution;
      try {
        sol = await odeint(model.f, s.z0, data.solveTimes, { ...model.solver, ...deferred });
      } catch (e) {
        destroyPartial(e);
        throw e;
      }
      owned.push(sol);

      // Decoder, likelihood, decoder VJP into the cotangent, KL and the objective.
      {
        const encoder = rt.device.createCommandEncoder({ label: 'latent likelihood' });
        encoder.clearBuffer(s.cot.buffer, 0, B * L * 4);
        const pass = encoder.beginComputePass({ label: 'latent likelihood' });
        model.decoder.recordForward(pass, { x: sol.y, xOffset: B * L, batch: T * B, y: s.pred });
        this.loss.record(pass, { pred: s.pred, target: data.values, mask: data.mask, grad: s.dpred, count: T * B * D, scale: 1 / B });
        model.decoder.recordBackward(pass, {
          x: sol.y,
          xOffset: B * L,
          batch: T * B,
          gy: s.dpred,
          gx: s.cot,
          gxOffset: B * L,
          gtheta: this.optimizer.gradFor(model.decoder.params),
        });
        bound(this.unused).dispatch(pass, 'kl', 1);
        pass.end();
        encoder.copyBufferToBuffer(this.stats.buffer, 0, this.history.buffer, (this.iteration % LATENT_HISTORY) * 16, 16);
        rt.submit([encoder.finish()]);
      }
      const g = await sol.backward(s.cot, { ...model.backward, ...deferred, timeGradient: false }).catch((e: unknown) => {
        destroyPartial(e);
        throw e;
      });
      owned.push(g);

      // dL/dz0 → dL/d(μ, log σ) → head VJP; the field's gradient.
      {
        const encoder = rt.device.createCommandEncoder({ label: 'latent posterior gradient' });
        const pass = encoder.beginComputePass({ label: 'latent posterior gradient' });
        bound(g.y0).dispatch(pass, 'reparam_backward', latentWorkgroups(B * L));
        model.head.recordBackward(pass, {
          x: seq.hidden,
          xOffset: (T - 1) * B * H,
          batch: B,
          gy: s.dhead,
          gx: s.dh,
          gtheta: this.optimizer.gradFor(model.head.params),
        });
        pass.end();
        encoder.copyBufferToBuffer(g.params.buffer, 0, this.optimizer.gradFor(model.f.params).buffer, 0, model.f.parameterCount * 4);
        rt.submit([encoder.finish()]);
      }
      const eg = model.encoder.backward(seq, { gradLast: s.dh });
      owned.push(eg);

      // The encoder's gradient, the gate, the update.
      {
        const encoder = rt.device.createCommandEncoder({ label: 'latent update' });
        encoder.copyBufferToBuffer(eg.params.buffer, 0, this.optimizer.gradFor(model.encoder.params).buffer, 0, model.encoder.parameterCount * 4);
        const pass = encoder.beginComputePass({ label: 'latent update' });
        // Gated: the gate kernel writes the nfe ring, so no host-side nfe is needed.
        this.recordGate(pass, { forward: sol.reportBuffer, backward: g.reportBuffer }, [0, 0]);
        pass.end();
        rt.submit([encoder.finish()]);
      }
      this.iteration = k;
      let loss: LatentLoss | null = null;
      if (options.readLoss) {
        const r = await this.readWithHealth([{ buffer: this.stats.buffer, bytes: 16 }]);
        loss = terms(new Float32Array(r.data[0]));
      }
      return { iteration: k, loss, hostWaits: rt.counters.hostWaits - waits0 };
    } finally {
      for (const o of owned.reverse()) o.destroy();
    }
  }

  /** Reads the latest objective terms (one host wait; also reports a failed iteration). */
  async readLoss(): Promise<LatentLoss> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const r = await this.readWithHealth([{ buffer: this.stats.buffer, bytes: 16 }]);
    return terms(new Float32Array(r.data[0]));
  }

  /** Reads the objective terms of the iterations since the last call (at most LATENT_HISTORY), in one host wait. */
  async readHistory(): Promise<LatentHistory> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const end = this.iteration;
    const start = Math.max(this.historyRead, end - LATENT_HISTORY);
    const n = end - start;
    const out = { first: start + 1, loss: new Float32Array(n), nll: new Float32Array(n), kl: new Float32Array(n), beta: new Float32Array(n) };
    if (n === 0) return out;
    const r = await this.readWithHealth([{ buffer: this.history.buffer, bytes: LATENT_HISTORY * 16 }]);
    this.historyRead = end;
    const v = new Float32Array(r.data[0]);
    for (let k = start; k < end; k++) {
      const slot = (k % LATENT_HISTORY) * 4;
      out.loss[k - start] = v[slot];
      out.nll[k - start] = v[slot + 1];
      out.kl[k - start] = v[slot + 2];
      out.beta[k - start] = v[slot + 3];
    }
    return out;
  }

  /** Frees the trainer's buffers (not the model or the optimizer). Idempotent. */
  override destroy(): void {
    super.destroy();
  }

  protected override onDestroy(): void {
    if (this.scratch) for (const t of Object.values(this.scratch.tensors)) t.destroy();
    this.scratch = null;
    this.loss.destroy();
    this.history.destroy();
    this.stats.destroy();
    this.unused.destroy();
    this.rt.destroyBuffer(this.uniform);
  }
}
