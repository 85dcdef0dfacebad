/**
 * `Trainer`: one training iteration of a Neural ODE on the GPU —
 *
 *   forward solve (odeint) → [readout] → loss, its gradient written into the
 *   cotangent buffer [T][B][D] (through the readout's VJP when there is one)
 *   → adjoint solve (sol.backward) → optimizer step on every parameter tensor.
 *
 * Wait-free (the default): both solves are deferred (a fixed dispatch budget,
 * nothing read back) and a one-invocation gate kernel reads their reports on
 * the GPU, letting the optimizer update only if both succeeded. An iteration
 * therefore issues no host wait at all; the loss value, the health words
 * (the first failing iteration, if any) and the last solves' step counts are
 * read together, in one wait, only when asked for. A failure surfaces at that
 * read as a `TrainingError`, after which training can go on.
 *
 * Waiting (`waitFree: false`, and always for the 'backprop' gradient mode,
 * which sizes its tape from the forward's step counts): each solve reads its
 * summary (O(log steps) waits, typically one each) and a failure throws from
 * `step` at once.
 *
 * Every iteration also copies its loss value into a GPU ring
 * (`readLossHistory`), so a loss curve costs one wait per read, not one per
 * iteration.
 *
 * The gate, the rings, the reads and the fit loop are `TrainingLoop`'s, which
 * `Trainer` and the flows' `FlowTrainer` (src/flows/trainer.ts) extend with
 * their own iteration.
 */
import { GATE_PARAMS, HEALTH, type HealthValues, gateKernel } from '../kernels/gate';
import { type BackwardSummary, Gradients } from '../gradients/gradients';
import { ArgumentError, DestroyedError, GPUWorkError, OdeSolveError, TrainingError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { odeint } from '../solver/odeint';
import { MAX_DISPATCH_BUDGET } from '../solver/options';
import { Solution, type SolveSummary } from '../solver/solution';
import { failureOfStatus } from '../solver/status';
import { getTableau } from '../methods/tableau';
import { Tensor } from '../runtime/tensor';
import { checkInt, describeTensor, lengthOf } from './common';
import type { Batch, PointDataset, PointSampler, Sampler, TrajectoryDataset, WindowSampler } from './data';
import { LOSS_KINDS, Loss, type LossKind } from './loss';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type LedgerCheckpoint,
  type OptimizerCheckpoint,
  type SamplerCheckpoint,
  TrainingLedger,
  optimizerCheckpoint,
  optimizerSources,
  restoreOptimizer,
  restoreSampler,
  samplerCheckpoint,
} from './checkpoint';
import { type ModelJSON, fail, integer, loadModel, modelJson, parse, record } from './serialize';
import type { BackwardOptions } from '../gradients/adjoint';
import { NeuralODE } from './model';
import { Optimizer } from './optim';

/** Options of `new Trainer(model, optimizer, loss, options)`. */
export interface TrainerOptions {
  /**
   * Keep every iteration free of host waits (default true): deferred solves,
   * and the update skipped on the GPU when a solve fails; failures are
   * reported by the next read. The gradient mode 'backprop' and batch-shared
   * step control (`stepControl: 'batch'`) always wait.
   */
  waitFree?: boolean;
  /** Dispatch budget of each deferred solve. Default: `OdeintOptions.dispatchBudget`'s. */
  dispatchBudget?: number;
}

/** Options of `Trainer.step`. */
export interface StepOptions {
  /** Read the loss value back (one host wait; also reports a failure of this or an earlier iteration). Default false. */
  readLoss?: boolean;
}

/** What one iteration did. */
export interface StepResult {
  /** The iteration's number (1 for the first). */
  readonly iteration: number;
  /** The loss before the update, when requested; null otherwise. */
  readonly loss: number | null;
  /**
   * The forward solve's totals (nfe, steps, host waits). Wait-free
   * iterations know their step counts only when the loss is read; NaN otherwise.
   */
  readonly forward: SolveSummary;
  /** The adjoint solve's totals (same rule). */
  readonly backward: BackwardSummary;
  /** Host waits this iteration issued in all (solves + the loss read). */
  readonly hostWaits: number;
}

/** What `Trainer.readLossHistory` returns: iterations first, first + 1, … */
export interface LossHistory {
  /** The iteration of `losses[0]`. */
  readonly first: number;
  /** The loss of each iteration. */
  readonly losses: Float32Array;
  /** Largest function-evaluation count of one sample, per iteration, of the forward and the adjoint solve. */
  readonly forwardNfe: Uint32Array;
  /** The same for the adjoint solve. */
  readonly backwardNfe: Uint32Array;
}

/** Progress reported by `Trainer.fit`. */
export interface Progress {
  /** The iteration just done. */
  readonly iteration: number;
  /** Loss of this iteration (read for the report). */
  readonly loss: number;
  /** Iterations per second since `fit` started. */
  readonly itPerSec: number;
  /** Function evaluations of this iteration's forward and backward solves (largest over the batch). */
  readonly forwardNfe: number;
  /** The same for the backward solve. */
  readonly backwardNfe: number;
  /** Milliseconds since `fit` started. */
  readonly elapsedMs: number;
}

/** Options of `Trainer.fit`. */
export interface FitOptions {
  /** Iterations to run. */
  iterations: number;
  /** Report progress every this many iterations (and after the last). Default 10. */
  progressEvery?: number;
  /** Called with each report; return false to stop early. */
  onProgress?: (p: Progress) => void | boolean | Promise<void | boolean>;
  /** Stops the loop (after the current iteration) when aborted. */
  signal?: AbortSignal;
}

/** The result of `Trainer.fit`. */
export interface FitResult {
  /** Iterations run. */
  readonly iterations: number;
  /** The last reported loss (NaN when nothing was reported). */
  readonly loss: number;
  /** Milliseconds `fit` took. */
  readonly elapsedMs: number;
}

/**
 * A training checkpoint (`Trainer.checkpoint`): plain JSON-ready data —
 * `JSON.stringify` it to store, `Trainer.resume` continues from it.
 */
export interface TrainerCheckpoint {
  /** Always `CHECKPOINT_FORMAT`. */
  format: typeof CHECKPOINT_FORMAT;
  /** The format version (`CHECKPOINT_VERSION` when written). */
  version: number;
  /** Which trainer wrote it. */
  trainer: 'neural-ode';
  /** The model: architecture, parameters, solver options (the `saveModel` format). */
  model: ModelJSON;
  /** The model's gradient options (`NeuralODE.backward`). */
  backward: BackwardOptions;
  /** The optimizer: options, step count, state. */
  optimizer: OptimizerCheckpoint;
  /** The loss function. */
  loss: LossKind;
  /** The trainer's options. */
  options: {
    /** `TrainerOptions.waitFree`. */
    waitFree: boolean;
    /** `TrainerOptions.dispatchBudget`, when given. */
    dispatchBudget?: number;
  };
  /** The sampler's random stream, when `checkpoint` was given one. */
  sampler: SamplerCheckpoint | null;
  /** Iterations done and every iteration's loss. */
  ledger: LedgerCheckpoint;
}

/** Options of `Trainer.resume`. */
export interface ResumeOptions {
  /** The dataset the checkpoint's sampler drew from, uploaded to the new runtime (needed when the checkpoint has a sampler). */
  dataset?: TrajectoryDataset | PointDataset;
}

/** What `Trainer.resume` returns. */
export interface ResumedTraining {
  /** The trainer, its iteration count the checkpoint's. */
  readonly trainer: Trainer;
  /** The sampler, its next draw the one after the checkpoint's last; null when the checkpoint has none. */
  readonly sampler: WindowSampler | PointSampler | null;
}

/** Frees the partial solution or gradients an `OdeSolveError` carries (the trainer rethrows the error). */
function destroyPartial(e: unknown): void {
  if (!(e instanceof OdeSolveError)) return;
  const partial: unknown = e.solution;
  if (partial instanceof Solution || partial instanceof Gradients) partial.destroy();
}

/** Losses of the last iterations the GPU keeps for `readLossHistory`. */
export const LOSS_HISTORY = 4096;

/**
 * The wait-free machinery of every trainer: the optimizer, the iteration
 * count, the gate kernel's buffers (uniform, health words, the optimizer's
 * workgroup counts and indirect arguments, the ring of each iteration's
 * largest nfe), the gated update (`recordGate`), the read that brings the
 * health words back and turns a failed iteration into a `TrainingError`
 * (`readWithHealth`), and `destroy`. `TrainingLoop` (`Trainer`,
 * `FlowTrainer`) and `LatentTrainer` extend it.
 */
export abstract class TrainingCore {
  /** The optimizer updating the parameters. */
  readonly optimizer: Optimizer;
  /** Iterations done. */
  iteration = 0;
  protected readonly rt: Runtime;
  /** Wait-free iterations (see `TrainerOptions.waitFree`). */
  readonly waitFree: boolean;
  protected readonly dispatchBudget: number | undefined;
  /**
   * The gate's buffers: uniform, health words, the optimizer's workgroup
   * counts and its indirect arguments, and the ring of each iteration's
   * largest forward and backward nfe.
   */
  protected readonly gate: { uniform: GPUBuffer; health: GPUBuffer; counts: GPUBuffer; args: GPUBuffer; nfe: GPUBuffer };
  protected destroyed = false;
  /** The runtime's uncaptured WebGPU errors already reported by a read (`readWithHealth`). */
  private errorsSeen: number;
  /** The class name errors use. */
  protected abstract readonly kind: string;

  /** Checks a trainer's `waitFree` and `dispatchBudget` options; returns them with their defaults. */
  protected static checkOptions(options: TrainerOptions): { waitFree: boolean; budget: number | undefined } {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    const waitFree = options.waitFree ?? true;
    if (typeof waitFree !== 'boolean') throw new ArgumentError('options.waitFree', waitFree, 'true or false');
    const budget = options.dispatchBudget;
    if (budget !== undefined && !(Number.isInteger(budget) && budget >= 1 && budget <= MAX_DISPATCH_BUDGET)) {
      throw new ArgumentError('options.dispatchBudget', budget, `an integer in [1, ${MAX_DISPATCH_BUDGET}]`);
    }
    return { waitFree, budget };
  }

  protected constructor(rt: Runtime, optimizer: Optimizer, options: TrainerOptions) {
    const { waitFree, budget } = TrainingCore.checkOptions(options);
    this.optimizer = optimizer;
    this.rt = rt;
    this.errorsSeen = rt.errors.length;
    this.waitFree = waitFree;
    this.dispatchBudget = budget;
    const counts = optimizer.workgroupCounts;
    const owned: GPUBuffer[] = [];
    const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
      const b = rt.createBuffer(`trainer ${label}`, bytes, usage);
      owned.push(b);
      return b;
    };
    try {
      this.gate = {
        uniform: make('gate params', GATE_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
        health: make('health', HEALTH.byteSize, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
        counts: make('update workgroups', 4 * counts.length, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST),
        args: make('update dispatch arguments', 12 * counts.length, GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT),
        nfe: make('nfe history', 8 * LOSS_HISTORY, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
      };
      rt.device.queue.writeBuffer(this.gate.counts, 0, Uint32Array.from(counts));
    } catch (e) {
      for (const b of owned) rt.destroyBuffer(b);
      throw e;
    }
  }

  /**
   * Records the optimizer's update of iteration `this.iteration + 1` into
   * `pass`. With `gated` (a deferred solve and its deferred gradients, their
   * report buffers), the gate kernel first reads both reports and the
   * update's dispatches are indirect, skipped on the GPU if a solve failed;
   * the gate also writes the iteration's largest nfe into the nfe ring.
   * Without, the update is direct and `maxNfe` goes into the ring.
   */
  protected recordGate(
    pass: GPUComputePassEncoder,
    gated: { forward: GPUBuffer | null; backward: GPUBuffer | null } | null,
    maxNfe: readonly [number, number],
  ): void {
    const rt = this.rt;
    if (gated) {
      const { forward, backward } = gated;
      if (!forward || !backward) throw new Error('webode: internal error: a deferred solve without its report');
      rt.device.queue.writeBuffer(
        this.gate.uniform,
        0,
        GATE_PARAMS.pack({ iteration: this.iteration + 1, tensors: this.optimizer.params.length, slot: this.iteration % LOSS_HISTORY }),
      );
      const { uniform: G, health, counts, args, nfe } = this.gate;
      rt.kernel(gateKernel, null)
        .bind({ G, forward, backward, health, counts, args, nfe_history: nfe }, 'training gate bind group')
        .dispatch(pass, 'gate', 1);
      this.optimizer.record(pass, this.gate.args);
    } else {
      this.optimizer.record(pass);
      rt.device.queue.writeBuffer(this.gate.nfe, (this.iteration % LOSS_HISTORY) * 8, Uint32Array.from(maxNfe));
    }
  }

  /**
   * Reads the given buffers' first bytes and the health words in one host
   * wait. If an iteration failed since the last read, clears the health
   * words, takes the skipped updates off the optimizer's step count (their
   * moments were not touched either) and throws the `TrainingError`. If
   * WebGPU reported an error on the device since the last read (work it
   * rejected did not run, so the iterations since then are not what they
   * seem; the gate made no update from a solve that did not run), throws
   * `GPUWorkError` instead, once.
   */
  protected async readWithHealth(sources: readonly { buffer: GPUBuffer; bytes: number }[]): Promise<{ data: ArrayBuffer[]; health: HealthValues }> {
    const rt = this.rt;
    const offsets: number[] = [];
    let size = 0;
    for (const src of sources) {
      offsets.push(size);
      size += Math.ceil(src.bytes / 16) * 16;
    }
    const staging = rt.createBuffer('trainer readback', size + HEALTH.byteSize, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    let out: ArrayBuffer;
    try {
      const encoder = rt.device.createCommandEncoder({ label: 'trainer readback' });
      sources.forEach((src, k) => encoder.copyBufferToBuffer(src.buffer, 0, staging, offsets[k], src.bytes));
      encoder.copyBufferToBuffer(this.gate.health, 0, staging, size, HEALTH.byteSize);
      rt.submit([encoder.finish()]);
      await rt.wait(staging.mapAsync(GPUMapMode.READ));
      out = staging.getMappedRange().slice(0);
      staging.unmap();
    } finally {
      rt.destroyBuffer(staging);
    }
    const health = HEALTH.unpack(new DataView(out, size));
    if (health.bad_iteration !== 0) {
      rt.device.queue.writeBuffer(this.gate.health, 0, new ArrayBuffer(HEALTH.byteSize));
      this.optimizer.steps = Math.max(0, this.optimizer.steps - health.skipped);
    }
    if (rt.errors.length > this.errorsSeen) {
      const fresh = rt.errors.slice(this.errorsSeen).map((e) => e.message);
      this.errorsSeen = rt.errors.length;
      throw new GPUWorkError(`${this.kind}: the iterations since the last read`, fresh.slice(-3));
    }
    if (health.bad_iteration !== 0) {
      throw new TrainingError({
        iteration: health.bad_iteration,
        phase: health.bad_phase === 1 ? 'forward' : 'backward',
        failure: { sample: health.bad_sample, kind: failureOfStatus(health.bad_status), t: health.bad_t },
        failing: health.bad_failing,
        skipped: health.skipped,
      });
    }
    return { data: sources.map((src, k) => out.slice(offsets[k], offsets[k] + src.bytes)), health };
  }

  /** Frees the trainer's buffers (not the model, optimizer or loss). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of Object.values(this.gate)) this.rt.destroyBuffer(b);
    this.onDestroy();
  }

  /** Frees a subclass's own buffers. */
  protected onDestroy(): void {}
}

/**
 * What `Trainer` and `FlowTrainer` share on top of `TrainingCore` (the
 * optimizer, the gate, the health reads): the GPU ring of losses, the
 * reads of the loss and its history, and the `fit` loop. A subclass
 * defines one iteration (`step`) and where its loss value lives
 * (`lossValue`); it records the loss into the ring with `recordLossHistory`
 * and the update with `recordUpdate`.
 */
export abstract class TrainingLoop extends TrainingCore {
  protected history: Tensor;
  protected historyRead = 0;

  protected constructor(rt: Runtime, optimizer: Optimizer, options: TrainerOptions) {
    super(rt, optimizer, options);
    try {
      this.history = Tensor.zeros(rt, [LOSS_HISTORY], 'loss history');
    } catch (e) {
      for (const b of Object.values(this.gate)) rt.destroyBuffer(b);
      throw e;
    }
  }

  /** One training iteration on `batch` (see `Trainer.step`). */
  abstract step(batch: Batch, options?: StepOptions): Promise<StepResult>;

  /** The loss value of the latest iteration, [1], on the GPU. */
  protected abstract get lossValue(): Tensor;

  /** Copies the loss value into this iteration's slot of the loss ring (record after the loss). */
  protected recordLossHistory(encoder: GPUCommandEncoder): void {
    encoder.copyBufferToBuffer(this.lossValue.buffer, 0, this.history.buffer, (this.iteration % LOSS_HISTORY) * 4, 4);
  }

  /** The forward and backward summaries with the step totals a health read brought back. */
  protected static withHealth(forward: SolveSummary, backward: BackwardSummary, h: HealthValues): { forward: SolveSummary; backward: BackwardSummary } {
    return {
      forward: { ...forward, nfe: h.forward_nfe, maxNfe: h.forward_nfe_max, accepted: h.forward_accepted, rejected: h.forward_rejected },
      backward: { ...backward, nfe: h.backward_nfe, maxNfe: h.backward_nfe_max, accepted: h.backward_accepted, rejected: h.backward_rejected },
    };
  }

  /**
   * Reads the loss value at the end of an iteration: with the health words
   * and the solves' step totals when it ran wait-free (one wait, which also
   * reports a failed iteration), else the value alone.
   */
  protected async readIterationLoss(
    gated: boolean,
    forward: SolveSummary,
    backward: BackwardSummary,
  ): Promise<{ loss: number; forward: SolveSummary; backward: BackwardSummary }> {
    if (!gated) {
      const v = await this.lossValue.read();
      return { loss: v[0], forward, backward };
    }
    const r = await this.readWithHealth([{ buffer: this.lossValue.buffer, bytes: 4 }]);
    return { loss: new Float32Array(r.data[0])[0], ...TrainingLoop.withHealth(forward, backward, r.health) };
  }

  /**
   * Copies dL/dθ of the vector field (`gradient`) into the optimizer's
   * gradient of `params` and records the update. With `gated` (a deferred
   * solve and its deferred gradients, `reports` their report buffers), the
   * gate kernel first reads both reports and the update's dispatches are
   * indirect, skipped on the GPU if a solve failed. Either way the
   * iteration's largest nfe go into the nfe ring (from `maxNfe` when not gated).
   */
  protected recordUpdate(
    update: { params: Tensor; gradient: Tensor },
    gated: { forward: GPUBuffer | null; backward: GPUBuffer | null } | null,
    maxNfe: readonly [number, number],
  ): void {
    const rt = this.rt;
    const encoder = rt.device.createCommandEncoder({ label: 'trainer update' });
    encoder.copyBufferToBuffer(update.gradient.buffer, 0, this.optimizer.gradFor(update.params).buffer, 0, update.params.size * 4);
    const pass = encoder.beginComputePass({ label: 'trainer update' });
    this.recordGate(pass, gated, maxNfe);
    pass.end();
    rt.submit([encoder.finish()]);
  }

  /**
   * Reports a failure of any wait-free iteration since the last read (one
   * host wait): throws its `TrainingError`, or resolves if there was none.
   */
  async check(): Promise<void> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    await this.readWithHealth([]);
  }

  /** Reads the latest loss value (one host wait; it also reports a failed wait-free iteration). */
  async readLoss(): Promise<number> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const r = await this.readWithHealth([{ buffer: this.lossValue.buffer, bytes: 4 }]);
    return new Float32Array(r.data[0])[0];
  }

  /**
   * Reads the losses of the iterations since the last call (at most the last
   * LOSS_HISTORY of them), and each one's largest forward and backward
   * function-evaluation counts, in one host wait; `first` is the number of
   * the first iteration returned. It also reports a failed wait-free
   * iteration (the rows stay for the next call).
   */
  async readLossHistory(): Promise<LossHistory> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const end = this.iteration;
    const start = Math.max(this.historyRead, end - LOSS_HISTORY);
    const n = end - start;
    const out = { first: start + 1, losses: new Float32Array(n), forwardNfe: new Uint32Array(n), backwardNfe: new Uint32Array(n) };
    if (n === 0) return out;
    const r = await this.readWithHealth([
      { buffer: this.history.buffer, bytes: LOSS_HISTORY * 4 },
      { buffer: this.gate.nfe, bytes: LOSS_HISTORY * 8 },
    ]);
    this.historyRead = end;
    const losses = new Float32Array(r.data[0]);
    const nfe = new Uint32Array(r.data[1]);
    for (let k = start; k < end; k++) {
      const slot = k % LOSS_HISTORY;
      out.losses[k - start] = losses[slot];
      out.forwardNfe[k - start] = nfe[2 * slot];
      out.backwardNfe[k - start] = nfe[2 * slot + 1];
    }
    return out;
  }

  /**
   * Runs `iterations` steps on batches from `sampler`, reporting progress
   * every `progressEvery` iterations (the only iterations that read the loss,
   * and so the only host waits of a wait-free trainer). Rejects with the
   * `TrainingError` of a failed wait-free iteration at the report after it.
   */
  async fit(sampler: Sampler, options: FitOptions): Promise<FitResult> {
    if (!sampler || typeof sampler.next !== 'function') throw new ArgumentError('sampler', sampler, 'a sampler with next()');
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { iterations, … }');
    const iterations = checkInt('options.iterations', options.iterations, 0);
    const every = checkInt('options.progressEvery', options.progressEvery ?? 10, 1);
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
      throw new ArgumentError('options.onProgress', options.onProgress, 'a function');
    }
    const t0 = performance.now();
    let loss = Number.NaN;
    let done = 0;
    for (let i = 1; i <= iterations; i++) {
      if (options.signal?.aborted) break;
      const report = i % every === 0 || i === iterations;
      const r = await this.step(sampler.next(), { readLoss: report });
      done = i;
      if (report && r.loss !== null) {
        loss = r.loss;
        const elapsedMs = performance.now() - t0;
        const go = await options.onProgress?.({
          iteration: r.iteration,
          loss,
          itPerSec: (1000 * i) / Math.max(elapsedMs, 1e-3),
          forwardNfe: r.forward.maxNfe,
          backwardNfe: r.backward.maxNfe,
          elapsedMs,
        });
        if (go === false) break;
      }
    }
    return { iterations: done, loss, elapsedMs: performance.now() - t0 };
  }

  /** Frees the trainer's buffers (not the model, optimizer or loss). Idempotent. */
  override destroy(): void {
    if (!this.destroyed) this.history.destroy();
    super.destroy();
  }
}

/** Trains a `NeuralODE` with an optimizer and a loss, on the GPU. */
export class Trainer extends TrainingLoop {
  /** The model trained. */
  readonly model: NeuralODE;
  /** The loss function. */
  readonly loss: Loss;
  protected readonly kind = 'Trainer';
  private cot: Tensor | null = null;
  private logits: Tensor | null = null;
  private dlogits: Tensor | null = null;
  /** Iterations and losses collected at checkpoints. */
  private ledger = new TrainingLedger();

  constructor(model: NeuralODE, optimizer: Optimizer, loss: Loss, options: TrainerOptions = {}) {
    if (!(model instanceof NeuralODE)) throw new ArgumentError('model', model, 'a NeuralODE');
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError('optimizer', optimizer, 'an SGD or Adam optimizer');
    if (!(loss instanceof Loss)) throw new ArgumentError('loss', loss, 'a Loss');
    if (loss.kind === 'nll') throw new ArgumentError('loss', 'a Loss of kind nll', "a Loss of kind 'mse', 'l1' or 'cross-entropy' (FlowTrainer takes the nll of a flow)");
    if (loss.kind === 'masked-mse' || loss.kind === 'gaussian-nll') {
      throw new ArgumentError('loss', `a ${loss.kind} loss`, 'an unmasked loss (mse, l1, cross-entropy); masked losses train a LatentODE with LatentTrainer');
    }
    const params = model.parameters;
    if (optimizer.params.length !== params.length || params.some((p) => !optimizer.params.includes(p))) {
      throw new ArgumentError(
        'optimizer',
        `an optimizer over ${optimizer.params.length} tensor(s) of ${optimizer.params.map((p) => `'${p.label}'`).join(', ')}`,
        `an optimizer over the model's ${params.length} parameter tensor(s) (model.parameters)`,
      );
    }
    if (optimizer.runtime !== model.runtime || loss.runtime !== model.runtime) {
      throw new ArgumentError('optimizer', optimizer, 'an optimizer and a loss on the model\'s runtime');
    }
    super(model.runtime, optimizer, options);
    this.model = model;
    this.loss = loss;
  }

  protected get lossValue(): Tensor {
    return this.loss.value;
  }

  /** A tensor kept between iterations, reallocated when its shape changes. */
  private keep(current: Tensor | null, shape: number[], label: string): Tensor {
    if (current && current.shape.length === shape.length && current.shape.every((n, i) => n === shape[i])) return current;
    current?.destroy();
    return Tensor.zeros(this.rt, shape, label);
  }

  /**
   * Validates a batch against the model and loss; returns B, T and how the
   * loss reads the predictions.
   */
  private plan(batch: Batch): { B: number; t: ArrayLike<number>; lastRowOnly: boolean } {
    if (typeof batch !== 'object' || batch === null) throw new ArgumentError('batch', batch, 'a Batch { y0, target, t? }');
    const { y0, target } = batch;
    const D = this.model.stateDim;
    if (!(y0 instanceof Tensor)) throw new ArgumentError('batch.y0', y0, 'a Tensor of initial states [B][D]');
    if (!(target instanceof Tensor)) throw new ArgumentError('batch.target', target, 'a Tensor of targets');
    if (y0.size === 0 || y0.size % D !== 0) throw new ArgumentError('batch.y0', describeTensor(y0), `B×${D} initial states`);
    const B = y0.size / D;
    const t = batch.t ?? this.model.t;
    const T = lengthOf(t);
    if (T < 1) throw new ArgumentError('batch.t', batch.t, 'output times');
    const readout = this.model.readout;
    const kind = this.loss.kind;
    let lastRowOnly = true;
    if (readout) {
      const want = kind === 'cross-entropy' ? B : B * readout.outFeatures;
      const what = kind === 'cross-entropy' ? `${B} class indices` : `${B}×${readout.outFeatures} readout targets`;
      if (target.size !== want) throw new ArgumentError('batch.target', describeTensor(target), what);
    } else if (kind === 'cross-entropy') {
      if (target.size !== B) throw new ArgumentError('batch.target', describeTensor(target), `${B} class indices (the final state's ${D} values are the logits)`);
    } else if (target.size === T * B * D && T > 1) {
      lastRowOnly = false;
    } else if (target.size !== B * D) {
      throw new ArgumentError('batch.target', describeTensor(target), `[T=${T}][B=${B}][D=${D}] states at every output time, or [B][D] final states`);
    }
    return { B, t, lastRowOnly };
  }

  /** Records the loss (and readout) of a solution: dL/dy into the cotangent buffer. */
  private recordLoss(sol: Solution, batch: Batch, plan: { B: number; lastRowOnly: boolean }): Tensor {
    const rt = this.rt;
    const D = this.model.stateDim;
    const { B } = plan;
    const T = sol.t.length;
    const last = (T - 1) * B * D;
    const cot = (this.cot = this.keep(this.cot, [T, B, D], 'trainer cotangents'));
    const encoder = rt.device.createCommandEncoder({ label: 'trainer loss' });
    if (plan.lastRowOnly) encoder.clearBuffer(cot.buffer);
    const pass = encoder.beginComputePass({ label: 'trainer loss' });
    const readout = this.model.readout;
    if (readout) {
      const C = readout.outFeatures;
      const logits = (this.logits = this.keep(this.logits, [B, C], 'trainer readout outputs'));
      const dlogits = (this.dlogits = this.keep(this.dlogits, [B, C], 'trainer readout gradient'));
      readout.recordForward(pass, { x: sol.y, xOffset: last, batch: B, y: logits });
      const ce = this.loss.kind === 'cross-entropy';
      this.loss.record(pass, {
        pred: logits,
        target: batch.target,
        grad: dlogits,
        count: ce ? B : B * C,
        classes: ce ? C : undefined,
      });
      readout.recordBackward(pass, {
        x: sol.y,
        xOffset: last,
        batch: B,
        gy: dlogits,
        gx: cot,
        gxOffset: last,
        gtheta: this.optimizer.gradFor(readout.params),
      });
    } else if (this.loss.kind === 'cross-entropy') {
      this.loss.record(pass, { pred: sol.y, predOffset: last, target: batch.target, grad: cot, gradOffset: last, count: B, classes: D });
    } else if (plan.lastRowOnly) {
      this.loss.record(pass, { pred: sol.y, predOffset: last, target: batch.target, grad: cot, gradOffset: last, count: B * D });
    } else {
      this.loss.record(pass, { pred: sol.y, target: batch.target, grad: cot, count: T * B * D });
    }
    pass.end();
    this.recordLossHistory(encoder);
    rt.submit([encoder.finish()]);
    return cot;
  }

  /**
   * Whether this iteration runs wait-free. The 'backprop' gradient mode
   * always waits (its tape is sized from the forward's step counts), and so
   * does batch-shared step control of an adaptive method, whose deferred
   * budget would be one three-dispatch attempt per unit.
   */
  private get deferring(): boolean {
    const solver = this.model.solver;
    const batchShared = solver.stepControl === 'batch' && getTableau(solver.method ?? 'dopri5', 'model.solver.method').adaptive;
    return this.waitFree && (this.model.backward.mode ?? 'adjoint') === 'adjoint' && !batchShared;
  }

  /**
   * One training iteration on `batch`: forward solve, loss, adjoint solve,
   * optimizer step. Wait-free (the default), it issues no host wait unless
   * `readLoss` is set (then one, which also reports a failure of this or an
   * earlier iteration as a `TrainingError`); waiting, see `StepResult.hostWaits`.
   */
  async step(batch: Batch, options: StepOptions = {}): Promise<StepResult> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const rt = this.rt;
    rt.check();
    const plan = this.plan(batch);
    const waits0 = rt.counters.hostWaits;
    const deferring = this.deferring;
    const deferred = deferring ? { deferred: true, dispatchBudget: this.dispatchBudget } : {};
    let sol: Solution;
    try {
      sol = await odeint(this.model.f, batch.y0, plan.t, { ...this.model.solver, ...deferred });
    } catch (e) {
      destroyPartial(e);
      throw e;
    }
    try {
      const cot = this.recordLoss(sol, batch, plan);
      const g = await sol.backward(cot, { ...this.model.backward, ...deferred, timeGradient: false }).catch((e: unknown) => {
        destroyPartial(e);
        throw e;
      });
      let forward = sol.summary;
      let backward = g.summary;
      try {
        const f = this.model.f;
        const reports = deferring ? { forward: sol.reportBuffer, backward: g.reportBuffer } : null;
        this.recordUpdate({ params: f.params, gradient: g.params }, reports, [sol.summary.maxNfe, g.summary.maxNfe]);
      } finally {
        g.destroy();
      }
      this.iteration++;
      let loss: number | null = null;
      if (options.readLoss) ({ loss, forward, backward } = await this.readIterationLoss(deferring, forward, backward));
      return { iteration: this.iteration, loss, forward, backward, hostWaits: rt.counters.hostWaits - waits0 };
    } finally {
      sol.destroy();
    }
  }

  /**
   * Everything needed to continue training exactly where it is, as plain
   * JSON-ready data: parameters, optimizer state (step count, momentum or
   * Adam moments, learning rate), the iteration count and every iteration's
   * loss, the configuration, and — given the `sampler` — its random stream.
   * One host wait reads it all (and, like every read, reports a failed
   * wait-free iteration as a `TrainingError`); iterations stay wait-free.
   * Losses of iterations more than LOSS_HISTORY back since the previous
   * checkpoint are not kept (null).
   */
  async checkpoint(sampler?: Sampler): Promise<TrainerCheckpoint> {
    if (this.destroyed) throw new DestroyedError('Trainer');
    this.rt.check();
    const samplerState = sampler === undefined ? null : samplerCheckpoint(sampler);
    const model = this.model;
    const params = model.parameters;
    const optSources = optimizerSources(this.optimizer);
    const end = this.iteration;
    const start = Math.max(this.ledger.recorded, end - LOSS_HISTORY);
    const sources = [
      ...params.map((p) => ({ buffer: p.buffer, bytes: p.size * 4 })),
      ...optSources,
      ...(end > start ? [{ buffer: this.history.buffer, bytes: LOSS_HISTORY * 4 }] : []),
    ];
    const { data } = await this.readWithHealth(sources);
    const mlp = new Float32Array(data[0]);
    const readout = model.readout ? new Float32Array(data[1]) : null;
    const optimizer = optimizerCheckpoint(this.optimizer, data.slice(params.length, params.length + optSources.length));
    if (end > start) {
      const ring = new Float32Array(data[data.length - 1]);
      const losses = new Float32Array(end - start);
      for (let k = start; k < end; k++) losses[k - start] = ring[k % LOSS_HISTORY];
      this.ledger.append(start + 1, losses);
    }
    return {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      trainer: 'neural-ode',
      model: modelJson(model, mlp, readout),
      backward: { ...model.backward },
      optimizer,
      loss: this.loss.kind,
      options: this.dispatchBudget === undefined ? { waitFree: this.waitFree } : { waitFree: this.waitFree, dispatchBudget: this.dispatchBudget },
      sampler: samplerState,
      ledger: this.ledger.toJSON(end),
    };
  }

  /**
   * A trainer on `runtime` (a new one, e.g. after a lost device or a page
   * reload) that continues from `checkpoint` (the object or its JSON string):
   * its next iterations are bit-identical to those the checkpointed trainer
   * would have run. The model, optimizer, loss and sampler are new objects on
   * `runtime`; the sampler needs `options.dataset`, the data uploaded again.
   * A malformed checkpoint throws a `ModelFormatError` naming the JSON path
   * at fault, and leaves nothing allocated. No host wait.
   */
  static resume(runtime: Runtime, checkpoint: string | TrainerCheckpoint, options: ResumeOptions = {}): ResumedTraining {
    const c = record(parse(checkpoint, 'checkpoint'), 'checkpoint');
    if (c.format !== CHECKPOINT_FORMAT) fail('checkpoint.format', c.format, `"${CHECKPOINT_FORMAT}"`);
    const version = integer(c.version, 'checkpoint.version', 1);
    if (version > CHECKPOINT_VERSION) fail('checkpoint.version', version, `a version this webode reads (≤ ${CHECKPOINT_VERSION}); the file is newer`);
    if (c.trainer !== 'neural-ode') fail('checkpoint.trainer', c.trainer, '"neural-ode" (a checkpoint of Trainer)');
    const kind = c.loss;
    const lossKind = LOSS_KINDS.find((k) => k === kind);
    if (!lossKind) fail('checkpoint.loss', kind, `one of ${LOSS_KINDS.join(', ')}`);
    const backward = record(c.backward ?? {}, 'checkpoint.backward') as BackwardOptions;
    const o = record(c.options ?? {}, 'checkpoint.options');
    const { ledger, iteration } = TrainingLedger.from(c.ledger);
    if (c.sampler !== null && c.sampler !== undefined && options.dataset === undefined) {
      throw new ArgumentError('options.dataset', undefined, 'the dataset the checkpoint\'s sampler drew from');
    }
    const model = loadModel(runtime, c.model);
    let optimizer: ReturnType<typeof restoreOptimizer> | null = null;
    let loss: Loss | null = null;
    let trainer: Trainer | null = null;
    try {
      model.backward = { ...backward };
      optimizer = restoreOptimizer(model.parameters, c.optimizer);
      loss = new Loss(runtime, lossKind);
      const waitFree = o.waitFree ?? true;
      const dispatchBudget = o.dispatchBudget;
      trainer = new Trainer(model, optimizer, loss, { waitFree: waitFree as boolean, dispatchBudget: dispatchBudget as number | undefined });
      trainer.iteration = iteration;
      trainer.historyRead = iteration;
      trainer.ledger = ledger;
      const sampler = c.sampler === null || c.sampler === undefined || !options.dataset ? null : restoreSampler(options.dataset, c.sampler);
      return { trainer, sampler };
    } catch (e) {
      trainer?.destroy();
      loss?.destroy();
      optimizer?.destroy();
      model.destroy();
      throw e;
    }
  }

  protected override onDestroy(): void {
    this.cot?.destroy();
    this.logits?.destroy();
    this.dlogits?.destroy();
  }
}
