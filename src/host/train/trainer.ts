/**
 * `Trainer`: one training iteration of a Neural ODE on the GPU —
 *
 *   forward solve (odeint) → [readout] → loss, its gradient written into the
 *   cotangent buffer [T][B][D] (through the readout's VJP when there is one)
 *   → adjoint solve (sol.backward) → optimizer step on every parameter tensor.
 *
 * Between the two solves and after the adjoint, the trainer only records and
 * submits: no host wait of its own. The host waits of an iteration are those
 * of the two solves (each reads a few summary words to know when every
 * sample has finished: O(log steps), typically one each), plus one when the
 * loss value is requested. Every iteration also copies its loss value into a
 * GPU ring (`readLossHistory`), so a loss curve costs one wait per read, not
 * one per iteration.
 */
import { type BackwardSummary, Gradients } from '../adjoint';
import { ArgumentError, DestroyedError, OdeSolveError } from '../errors';
import type { Runtime } from '../runtime';
import { Solution, type SolveSummary } from '../solve';
import { Tensor } from '../tensor';
import { checkInt, describeTensor, lengthOf } from './common';
import type { Batch, Sampler } from './data';
import { Loss } from './loss';
import { NeuralODE } from './model';
import { Optimizer } from './optim';

/** Options of `Trainer.step`. */
export interface StepOptions {
  /** Read the loss value back (one host wait). Default false. */
  readLoss?: boolean;
}

/** What one iteration did. */
export interface StepResult {
  /** The iteration's number (1 for the first). */
  readonly iteration: number;
  /** The loss before the update, when requested; null otherwise. */
  readonly loss: number | null;
  /** The forward solve's totals (nfe, steps, host waits). */
  readonly forward: SolveSummary;
  /** The adjoint solve's totals. */
  readonly backward: BackwardSummary;
  /** Host waits this iteration issued in all (solves + the loss read). */
  readonly hostWaits: number;
}

/** Progress reported by `Trainer.fit`. */
export interface Progress {
  readonly iteration: number;
  /** Loss of this iteration (read for the report). */
  readonly loss: number;
  /** Iterations per second since `fit` started. */
  readonly itPerSec: number;
  /** Function evaluations of this iteration's forward and backward solves (largest over the batch). */
  readonly forwardNfe: number;
  readonly backwardNfe: number;
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
  readonly iterations: number;
  /** The last reported loss (NaN when nothing was reported). */
  readonly loss: number;
  readonly elapsedMs: number;
}

/** Frees the partial solution or gradients an `OdeSolveError` carries (the trainer rethrows the error). */
function destroyPartial(e: unknown): void {
  if (!(e instanceof OdeSolveError)) return;
  const partial: unknown = e.solution;
  if (partial instanceof Solution || partial instanceof Gradients) partial.destroy();
}

/** Losses of the last iterations the GPU keeps for `readLossHistory`. */
export const LOSS_HISTORY = 4096;

/** Trains a `NeuralODE` with an optimizer and a loss, on the GPU. */
export class Trainer {
  readonly model: NeuralODE;
  readonly optimizer: Optimizer;
  readonly loss: Loss;
  /** Iterations done. */
  iteration = 0;
  private readonly rt: Runtime;
  private cot: Tensor | null = null;
  private logits: Tensor | null = null;
  private dlogits: Tensor | null = null;
  private history: Tensor;
  private historyRead = 0;
  private destroyed = false;

  constructor(model: NeuralODE, optimizer: Optimizer, loss: Loss) {
    if (!(model instanceof NeuralODE)) throw new ArgumentError('model', model, 'a NeuralODE');
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError('optimizer', optimizer, 'an SGD or Adam optimizer');
    if (!(loss instanceof Loss)) throw new ArgumentError('loss', loss, 'a Loss');
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
    this.model = model;
    this.optimizer = optimizer;
    this.loss = loss;
    this.rt = model.runtime;
    this.history = Tensor.zeros(this.rt, [LOSS_HISTORY], 'loss history');
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
    encoder.copyBufferToBuffer(this.loss.value.buffer, 0, this.history.buffer, (this.iteration % LOSS_HISTORY) * 4, 4);
    rt.submit([encoder.finish()]);
    return cot;
  }

  /**
   * One training iteration on `batch`: forward solve, loss, adjoint solve,
   * optimizer step. Host waits: the two solves' own (see `StepResult`), plus
   * one with `readLoss`.
   */
  async step(batch: Batch, options: StepOptions = {}): Promise<StepResult> {
    if (this.destroyed) throw new DestroyedError('Trainer');
    const rt = this.rt;
    rt.check();
    const plan = this.plan(batch);
    const waits0 = rt.counters.hostWaits;
    let sol: Solution;
    try {
      sol = await this.model.solve(batch.y0, plan.t);
    } catch (e) {
      destroyPartial(e);
      throw e;
    }
    try {
      const cot = this.recordLoss(sol, batch, plan);
      const g = await sol.backward(cot, this.model.backward).catch((e: unknown) => {
        destroyPartial(e);
        throw e;
      });
      try {
        const f = this.model.f;
        const encoder = rt.device.createCommandEncoder({ label: 'trainer update' });
        encoder.copyBufferToBuffer(g.params.buffer, 0, this.optimizer.gradFor(f.params).buffer, 0, f.parameterCount * 4);
        const pass = encoder.beginComputePass({ label: 'trainer update' });
        this.optimizer.record(pass);
        pass.end();
        rt.submit([encoder.finish()]);
      } finally {
        g.destroy();
      }
      this.iteration++;
      const loss = options.readLoss ? await this.loss.read() : null;
      return {
        iteration: this.iteration,
        loss,
        forward: sol.summary,
        backward: g.summary,
        hostWaits: rt.counters.hostWaits - waits0,
      };
    } finally {
      sol.destroy();
    }
  }

  /** Reads the latest loss value (one host wait). */
  readLoss(): Promise<number> {
    return this.loss.read();
  }

  /**
   * Reads the losses of the iterations since the last call (at most the last
   * LOSS_HISTORY of them) in one host wait; `first` is the number of the
   * first iteration returned.
   */
  async readLossHistory(): Promise<{ first: number; losses: Float32Array }> {
    const end = this.iteration;
    const start = Math.max(this.historyRead, end - LOSS_HISTORY);
    this.historyRead = end;
    if (end === start) return { first: end + 1, losses: new Float32Array(0) };
    const all = await this.history.read();
    const out = new Float32Array(end - start);
    for (let k = start; k < end; k++) out[k - start] = all[k % LOSS_HISTORY];
    return { first: start + 1, losses: out };
  }

  /**
   * Runs `iterations` steps on batches from `sampler`, reporting progress
   * every `progressEvery` iterations (the only iterations that read the loss).
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
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.cot?.destroy();
    this.logits?.destroy();
    this.dlogits?.destroy();
    this.history.destroy();
  }
}
