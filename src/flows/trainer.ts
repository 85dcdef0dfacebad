/**
 * `FlowTrainer`: maximum-likelihood training of a continuous normalizing
 * flow (`CNF`) on the GPU. One iteration is
 *
 *   log p(x) of a mini-batch (flow.logProb) → the 'nll' loss −mean log p,
 *   its gradient −1/B written into the cotangent [B] → the adjoint solve
 *   (result.backward) → optimizer step on the flow's MLP parameters.
 *
 * Wait-free by default, exactly as `Trainer` (src/train/trainer.ts): both
 * solves are deferred and the gate kernel lets the optimizer update only if
 * both succeeded, so an iteration issues no host wait; the loss, health and
 * step counts are read in one wait when asked for. The gate, the rings of
 * losses and nfe, the reads and the `fit` loop are `TrainingLoop`'s.
 * Mini-batches come from a `PointSampler` over a `PointDataset` of the data
 * points (its `y0` is the batch of points; labels are not used).
 */
import { ArgumentError, DestroyedError, OdeSolveError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import type { OdeintOptions } from '../solver/options';
import type { SolveSummary } from '../solver/solution';
import { checkInt, describeTensor } from '../train/common';
import type { Batch } from '../train/data';
import { Loss } from '../train/loss';
import { Optimizer } from '../train/optim';
import { type StepOptions, type StepResult, type TrainerOptions, TrainingLoop } from '../train/trainer';
import { CNF, type FlowDensity } from './cnf';

/** Options of `new FlowTrainer(flow, optimizer, options)`. */
export interface FlowTrainerOptions extends TrainerOptions {
  /** Options of every log-likelihood solve (odeint's). Default: dopri5, rtol 1e-5, atol 1e-5. */
  solver?: OdeintOptions;
}

/** Options of `FlowTrainer.evaluate`. */
export interface EvaluateOptions {
  /** Points per logProb solve. Default 4,096. */
  chunk?: number;
  /** Solver options. Default: the trainer's. */
  solver?: OdeintOptions;
}

/** Frees the partial result an `OdeSolveError` carries (the trainer rethrows the error). */
function destroyPartial(e: unknown): void {
  if (!(e instanceof OdeSolveError)) return;
  const partial = e.solution as { destroy?: unknown } | null | undefined;
  if (partial && typeof partial.destroy === 'function') (partial as { destroy(): void }).destroy();
}

/** The default solver of a flow's log-likelihood. */
const DEFAULT_FLOW_SOLVER: OdeintOptions = { method: 'dopri5', rtol: 1e-5, atol: 1e-5 };

/** Trains a continuous normalizing flow by maximum likelihood on the GPU. */
export class FlowTrainer extends TrainingLoop {
  /** The flow trained. */
  readonly flow: CNF;
  /** The 'nll' loss: its value is the iteration's negative mean log-likelihood. */
  readonly loss: Loss;
  /** Options of every log-likelihood solve. */
  readonly solver: OdeintOptions;
  protected readonly kind = 'FlowTrainer';
  private cot: Tensor | null = null;

  constructor(flow: CNF, optimizer: Optimizer, options: FlowTrainerOptions = {}) {
    if (!(flow instanceof CNF)) throw new ArgumentError('flow', flow, 'a CNF');
    if (!(optimizer instanceof Optimizer)) throw new ArgumentError('optimizer', optimizer, 'an SGD or Adam optimizer');
    const f = flow.f;
    if (optimizer.params.length !== 1 || optimizer.params[0] !== f.params) {
      throw new ArgumentError(
        'optimizer',
        `an optimizer over ${optimizer.params.length} tensor(s) of ${optimizer.params.map((p) => `'${p.label}'`).join(', ')}`,
        "an optimizer over the flow's MLP parameters alone ([flow.f.params])",
      );
    }
    const rt: Runtime = f.runtime;
    if (optimizer.runtime !== rt) throw new ArgumentError('optimizer', optimizer, "an optimizer on the flow's runtime");
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    const solver = options.solver ?? DEFAULT_FLOW_SOLVER;
    if (typeof solver !== 'object' || solver === null) throw new ArgumentError('options.solver', solver, 'odeint options');
    if (solver.deferred !== undefined) throw new ArgumentError('options.solver.deferred', solver.deferred, 'undefined (options.waitFree decides)');
    super(rt, optimizer, options);
    this.flow = flow;
    this.solver = { ...solver };
    this.loss = new Loss(rt, 'nll');
  }

  protected get lossValue(): Tensor {
    return this.loss.value;
  }

  /** Checks a batch of points [B][D]; returns B. */
  private batchSize(batch: Batch): number {
    if (typeof batch !== 'object' || batch === null) throw new ArgumentError('batch', batch, 'a Batch { y0 } of points');
    const x = batch.y0;
    const D = this.flow.dim;
    if (!(x instanceof Tensor)) throw new ArgumentError('batch.y0', x, `a Tensor of points [B][${D}]`);
    if (x.size === 0 || x.size % D !== 0) throw new ArgumentError('batch.y0', describeTensor(x), `B×${D} points`);
    return x.size / D;
  }

  /**
   * One iteration on the points `batch.y0`: log-likelihood, loss, adjoint
   * solve, optimizer step. Wait-free (the default), no host wait unless
   * `readLoss` (then one, which also reports a failure of this or an earlier
   * iteration as a `TrainingError`).
   */
  async step(batch: Batch, options: StepOptions = {}): Promise<StepResult> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const rt = this.rt;
    rt.check();
    const B = this.batchSize(batch);
    const waits0 = rt.counters.hostWaits;
    const gated = this.waitFree;
    const deferred = gated ? { deferred: true, dispatchBudget: this.dispatchBudget } : {};
    let r: FlowDensity;
    try {
      r = await this.flow.logProb(batch.y0, { ...this.solver, ...deferred });
    } catch (e) {
      destroyPartial(e);
      throw e;
    }
    try {
      const cot = (this.cot = this.cot?.size === B ? this.cot : (this.cot?.destroy(), Tensor.zeros(rt, [B], 'flow trainer cotangent')));
      const encoder = rt.device.createCommandEncoder({ label: 'flow trainer loss' });
      const pass = encoder.beginComputePass({ label: 'flow trainer loss' });
      this.loss.record(pass, { pred: r.logp, grad: cot, count: B });
      pass.end();
      this.recordLossHistory(encoder);
      rt.submit([encoder.finish()]);
      const g = await r.backward(cot, deferred).catch((e: unknown) => {
        destroyPartial(e);
        throw e;
      });
      let forward = r.summary;
      let backward = g.summary;
      try {
        const reports = gated ? { forward: r.reportBuffer, backward: g.reportBuffer } : null;
        this.recordUpdate({ params: this.flow.f.params, gradient: g.params }, reports, [forward.maxNfe, backward.maxNfe]);
      } finally {
        g.destroy();
      }
      this.iteration++;
      let loss: number | null = null;
      if (options.readLoss) ({ loss, forward, backward } = await this.readIterationLoss(gated, forward, backward));
      return { iteration: this.iteration, loss, forward, backward, hostWaits: rt.counters.hostWaits - waits0 };
    } finally {
      r.destroy();
    }
  }

  /**
   * The mean log-likelihood of `points` ([N][D]) under the flow, from
   * logProb solves of `chunk` points (one host wait each, summed in float64).
   */
  async evaluate(points: ArrayLike<number> | Tensor, options: EvaluateOptions = {}): Promise<number> {
    if (this.destroyed) throw new DestroyedError(this.kind);
    const D = this.flow.dim;
    const chunk = checkInt('options.chunk', options.chunk ?? 4096, 1);
    const solver = options.solver ?? this.solver;
    const host = points instanceof Tensor ? await points.read() : points;
    const n = host.length / D;
    if (!Number.isInteger(n) || n < 1) throw new ArgumentError('points', points, `N×${D} coordinates`);
    let sum = 0;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      const part = Float32Array.from({ length: m * D }, (_, k) => host[i * D + k]);
      const r = await this.flow.logProb(part, solver);
      try {
        const lp = await r.logp.read();
        for (let k = 0; k < m; k++) sum += lp[k];
      } finally {
        r.destroy();
      }
    }
    return sum / n;
  }

  protected override onDestroy(): void {
    this.cot?.destroy();
    this.loss.destroy();
  }
}
