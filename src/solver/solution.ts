/**
 * `Solution`, what `odeint` returns: the outputs on the GPU, the solve's
 * totals, per-sample statistics on request, a deferred solve's check, and
 * `backward`, the gradient solve.
 *
 * src/gradients builds on this module, so `backward` cannot import it: the
 * gradients module hands its entry point in with `provideGradientSolve` when
 * it loads (src/index.ts loads it), and imports flow one way.
 */
import type { BackwardOptions } from '../gradients/adjoint';
import type { Gradients } from '../gradients/gradients';
import type { MLP } from '../field/mlp';
import type { Runtime } from '../runtime/runtime';
import type { Tensor } from '../runtime/tensor';
import type { ResolvedOdeintOptions } from './options';
import { SolveRecord } from './record';
import type { SolveStats } from './status';

/** Totals of a solve, known without another host wait. */
export interface SolveSummary {
  /** Function evaluations over all samples. */
  readonly nfe: number;
  /** Largest function-evaluation count of one sample. */
  readonly maxNfe: number;
  /** Accepted steps over all samples. */
  readonly accepted: number;
  /** Rejected steps over all samples. */
  readonly rejected: number;
  /** Host waits, submits and dispatches this solve issued. */
  readonly hostWaits: number;
  /** Command-buffer submits. */
  readonly submits: number;
  /** Compute dispatches. */
  readonly dispatches: number;
}

/** The gradient solve behind `Solution.backward` (src/gradients/adjoint.ts). */
export type GradientSolve = (sol: Solution, dLdy: ArrayLike<number> | Tensor, options: BackwardOptions) => Promise<Gradients>;

let gradientSolve: GradientSolve | null = null;

/** Called once by src/gradients when it loads: the entry point of `Solution.backward`. */
export function provideGradientSolve(solve: GradientSolve): void {
  gradientSolve = solve;
}

/** The counters a solve moved: host waits, submits and dispatches since `before`. */
export function countersSince(rt: Runtime, before: Readonly<Pick<Runtime['counters'], 'hostWaits' | 'submits' | 'dispatches'>>) {
  return {
    hostWaits: rt.counters.hostWaits - before.hostWaits,
    submits: rt.counters.submits - before.submits,
    dispatches: rt.counters.dispatches - before.dispatches,
  };
}

/** The result of `odeint`: outputs on the GPU, statistics on request. */
export class Solution {
  /** Outputs [T][B][D] on the GPU; `y[0]` is y0. */
  readonly y: Tensor;
  /** The output times as given (shared), or sample 0's when the solve had per-sample times. */
  readonly t: Float64Array;
  /** Per-sample output times ([B] rows of T) as given, or null when the batch shares `t`. */
  readonly sampleTimes: readonly Float64Array[] | null;
  /** Samples B. */
  readonly batch: number;
  /** State dimension D. */
  readonly dim: number;
  /** The vector field that was integrated. */
  readonly f: MLP;
  /** The options the solve ran with (defaults filled in). */
  readonly options: ResolvedOdeintOptions;
  /** True for a deferred solve (see `OdeintOptions.deferred`). */
  readonly deferred: boolean;
  private readonly record: SolveRecord;

  /** @internal Made by `odeint`. */
  constructor(init: {
    y: Tensor;
    t: Float64Array;
    sampleTimes?: readonly Float64Array[] | null;
    batch: number;
    dim: number;
    f: MLP;
    options: ResolvedOdeintOptions;
    summary: SolveSummary;
    samples: GPUBuffer;
    report?: GPUBuffer;
  }) {
    this.y = init.y;
    this.t = init.t;
    this.sampleTimes = init.sampleTimes ?? null;
    this.batch = init.batch;
    this.dim = init.dim;
    this.f = init.f;
    this.options = init.options;
    this.record = new SolveRecord(init.y.runtime, init.batch, init, 'Solution');
    this.deferred = this.record.deferred;
  }

  /** @internal The per-sample solver state (`SAMPLE` structs, [B]), which the reverse solve starts from. */
  samplesBuffer(): GPUBuffer {
    return this.record.samplesBuffer();
  }

  /** The solve's totals; a deferred solve's counts are NaN until `check()` has resolved. */
  get summary(): SolveSummary {
    return this.record.summary;
  }

  /**
   * @internal The report buffer of a deferred solve (SUMMARY words), for
   * callers that read or gate on it on the GPU; null once checked or destroyed.
   */
  get reportBuffer(): GPUBuffer | null {
    return this.record.reportBuffer;
  }

  /**
   * Reads a deferred solve's outcome (one host wait; one more, for the
   * per-sample detail, on failure), fills in `summary` and throws
   * `OdeSolveError` if a sample failed or had not finished within the
   * dispatch budget. A solve that waited returns its summary at once.
   */
  check(): Promise<SolveSummary> {
    return this.record.check(this);
  }

  /** Reads the per-sample statistics (one host wait). */
  stats(): Promise<SolveStats> {
    return this.record.stats();
  }

  /**
   * Gradients of a loss L through this solve by the adjoint method: `dLdy`
   * holds ∂L/∂y for every output, [T][B][D] (a Float32Array or a GPU tensor).
   * Returns dL/dy0 and dL/dθ as GPU tensors.
   */
  backward(dLdy: ArrayLike<number> | Tensor, options: BackwardOptions = {}): Promise<Gradients> {
    if (!gradientSolve) return Promise.reject(new Error('webode: the gradients module (src/gradients) is not loaded'));
    return gradientSolve(this, dLdy, options);
  }

  /** Frees the outputs and the per-sample state. Idempotent. */
  destroy(): void {
    this.y.destroy();
    this.record.destroy();
  }
}
