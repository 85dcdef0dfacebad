/**
 * `Gradients`, what `solution.backward` returns: dL/dy0, dL/dθ and dL/dt on
 * the GPU, the gradient solve's totals, and a deferred solve's check.
 */
import { ArgumentError, DestroyedError, OdeSolveError } from '../errors';
import type { Tensor } from '../runtime/tensor';
import { readReport, reportCounts } from '../solver/driver';
import type { SolveSummary } from '../solver/solution';
import { failureOfStatus } from '../solver/status';

/** Totals of a backward solve: those of a forward solve, and the chunks of samples. */
export interface BackwardSummary extends SolveSummary {
  /** Chunks of samples the batch was split into. */
  readonly chunks: number;
}

/** Gradients of the loss, on the GPU. */
export class Gradients {
  /** dL/dy0, [B, D]. */
  readonly y0: Tensor;
  /** dL/dθ, [P], in the layout of `MLP.setParameters`. */
  readonly params: Tensor;
  /** True for a deferred gradient solve (see `BackwardOptions.deferred`). */
  readonly deferred: boolean;
  private totals: BackwardSummary;
  private report: GPUBuffer | null;
  private checked: Promise<BackwardSummary> | null = null;
  private readonly gt: Tensor;
  private readonly hasTime: boolean;

  /**
   * @internal Made by `solution.backward`; `report` for a deferred solve;
   * `hasTime` false when the solve skipped dL/dt (`BackwardOptions.timeGradient`).
   */
  constructor(y0: Tensor, params: Tensor, t: Tensor, summary: BackwardSummary, report: GPUBuffer | null = null, hasTime = true) {
    this.y0 = y0;
    this.params = params;
    this.gt = t;
    this.hasTime = hasTime;
    this.totals = summary;
    this.report = report;
    this.deferred = report !== null;
  }

  /**
   * dL/dt: [T], the gradient with respect to each output time shared by the
   * batch; [B, T] (dL/dt[b][i]) when the solve had per-sample times. Throws
   * `ArgumentError` when the gradient solve ran with `timeGradient: false`.
   */
  get t(): Tensor {
    if (!this.hasTime) throw new ArgumentError('options.timeGradient', false, 'true (the default) to read g.t: this gradient solve skipped dL/dt');
    return this.gt;
  }

  /** The solve's totals; a deferred solve's counts are NaN until `check()` has resolved. */
  get summary(): BackwardSummary {
    return this.totals;
  }

  /** @internal A deferred solve's report (SUMMARY words) until checked; null otherwise. */
  get reportBuffer(): GPUBuffer | null {
    return this.report;
  }

  /**
   * Reads a deferred gradient solve's outcome (one host wait), fills in
   * `summary` and throws `OdeSolveError` (the first failing sample and how
   * many failed) if a sample failed or had not finished within the dispatch
   * budget. Gradients that waited return their summary at once.
   */
  check(): Promise<BackwardSummary> {
    if (!this.report) {
      if (this.params.isDestroyed) return Promise.reject(new DestroyedError('Gradients'));
      return Promise.resolve(this.totals);
    }
    this.checked ??= this.readReport(this.report);
    return this.checked;
  }

  private async readReport(report: GPUBuffer): Promise<BackwardSummary> {
    // One summary is folded in per chunk of samples.
    const v = await readReport(this.params.runtime, report, 'Gradients', this.totals.chunks);
    this.report = null;
    this.totals = { ...this.totals, ...reportCounts(v) };
    const failing = v.running + v.failed;
    if (failing > 0) {
      const first = { sample: v.first_unfinished, kind: failureOfStatus(v.first_status), t: v.first_t };
      throw new OdeSolveError([first], this, this.y0.shape[0], failing);
    }
    return this.totals;
  }

  /** Frees the tensors. Idempotent. */
  destroy(): void {
    this.y0.destroy();
    this.params.destroy();
    this.gt.destroy();
    if (this.report) this.params.runtime.destroyBuffer(this.report);
    this.report = null;
  }
}
