/**
 * `odeint`: forward integration of a batch of states through an MLP vector
 * field, entirely on the GPU.
 *
 * The host validates the arguments, uploads y0 and the output times, then
 * records integration dispatches (each advances every running sample by up
 * to a growing multiple of `stepsPerDispatch` step attempts, with a probe
 * after each that empties the rest once every sample is done) and a summary
 * of the solve on the GPU (./driver.ts). A deferred solve returns there; a
 * waiting one reads the summary: one host wait for almost every solve, never
 * one per step. Batch-shared step control reads a summary per chunk of
 * doubling length instead: O(log steps) waits.
 */
import {
  type IntegrateEntry,
  INTEGRATE_WORKGROUP,
  integrateLayouts,
  kSlots,
  PARAMS,
  type ParamsValues,
  SAMPLE,
  STATUS,
  integrateKey,
  integrateWgsl,
  integrateWorkgroups,
} from '../kernels/integrate';
import { type BackwardOptions, backward } from '../gradients/adjoint';
import type { Gradients } from '../gradients/runner';
import {
  DISPATCH_GROWTH,
  createReport,
  deferredUnitsCovering,
  driveDeferred,
  driveInRounds,
  driveToCompletion,
  scaledBindGroups,
} from './driver';
import { bindBuffers } from '../wgsl/layout';
import { SUMMARY } from '../kernels/summary';
import { mlpFlops } from '../mlp/mlp';
import type { ControllerValues } from '../wgsl/rk';
import { ArgumentError, DestroyedError, type FailureKind, OdeSolveError, type SampleFailure } from '../errors';
import type { MLP } from '../field/mlp';
import type { Runtime } from '../runtime/runtime';
import { type MethodName, type Tableau, getTableau } from '../methods/tableau';
import { TENSOR_USAGE, Tensor } from '../runtime/tensor';

/** Options of `odeint`. */
export interface OdeintOptions {
  /**
   * The Runge–Kutta method. Adaptive: `'dopri5'` (default), `'tsit5'`, `'bosh3'`.
   * Fixed step (needs `stepSize`): `'euler'`, `'midpoint'`, `'rk4'` (classic),
   * `'rk38'` (the 3/8 rule, which torchdiffeq calls `rk4`).
   */
  method?: MethodName;
  /** Relative tolerance of adaptive methods. Default 1e-6 (float32 round-off is about 6e-8). */
  rtol?: number;
  /** Absolute tolerance of adaptive methods. Default 1e-7. */
  atol?: number;
  /** Step size of fixed-step methods (its sign is ignored: the direction comes from `t`). */
  stepSize?: number;
  /** First step size of adaptive methods (magnitude). Default: Hairer's automatic choice, per sample. */
  firstStep?: number;
  /** Most step attempts (accepted + rejected) per sample. Default 10,000 for adaptive methods, unlimited for fixed ones. */
  maxSteps?: number;
  /**
   * Step attempts per sample in one GPU dispatch, at most. Default: chosen
   * from the problem size so a dispatch stays short (about 4e7 flops), and
   * then allowed to grow up to 16× over a solve's dispatches (1×, 2×, 4×, …),
   * so a long solve needs few dispatches; a value given here is never exceeded.
   */
  stepsPerDispatch?: number;
  /**
   * How adaptive methods choose step sizes. `'per-sample'` (default): every
   * sample has its own steps and error control (as torchode does), so a hard
   * sample does not slow the easy ones and finished samples cost nothing.
   * `'batch'`: one step size for the whole batch, from the RMS error over all
   * samples (as torchdiffeq does). Every sample then shares one time grid —
   * useful to reproduce torchdiffeq's discretisation, or when all samples are
   * alike — at the price of every sample taking the steps the hardest one
   * needs, and three dispatches per step. Fixed-step methods ignore it (their
   * grid is shared anyway).
   */
  stepControl?: StepControl;
  /** The step-size controller of adaptive methods (default: the PI controller below). */
  controller?: ControllerOptions;
  /**
   * Return without any host wait (default false). The solve records a fixed
   * budget of dispatches (`dispatchBudget`) in one submit and reads nothing
   * back; once every sample has finished, the rest of the budget costs
   * almost nothing (empty dispatches). The outputs can feed further GPU work
   * at once (a loss, `backward` with `deferred: true`); `await sol.check()`
   * reads the outcome later (one host wait) and throws `OdeSolveError` if a
   * sample failed or had not finished within the budget ('unfinished').
   * Until then `sol.summary` has NaN counts.
   */
  deferred?: boolean;
  /**
   * Dispatches a deferred solve records; the k-th (from 0) advances every
   * running sample by up to stepsPerDispatch · min(2^k, 16) attempts when
   * stepsPerDispatch is automatic (its value otherwise), so a few cover a
   * long solve (batch step control: one shared attempt each).
   * Default: enough for `maxSteps` attempts (fixed-step methods: for the
   * whole grid), at most 512. With batch-shared step control each unit is one
   * attempt of the whole batch (three dispatches and a probe), so set it
   * near the attempts the solve needs.
   */
  dispatchBudget?: number;
}

/**
 * The step-size controller of adaptive methods: a PI controller (Gustafsson;
 * Söderlind) in diffrax's parametrisation. After an accepted step with error
 * norm e (and e_prev the last accepted one), the next step is
 * h · clamp(safety · e^−(pcoeff+icoeff)/q · e_prev^(pcoeff/q), factorMin, factorMax),
 * q the order of the error estimate plus one; no growth right after a
 * rejection; a rejected step shrinks by clamp(safety · e^(−1/q), factorMin, 1).
 */
export interface ControllerOptions {
  /** Proportional coefficient. Default 0.4. */
  pcoeff?: number;
  /** Integral coefficient. Default 0.3. `{ pcoeff: 0, icoeff: 1 }` is the classic I controller (torchdiffeq's). */
  icoeff?: number;
  /** Safety factor in (0, 1]. Default 0.9. */
  safety?: number;
  /** Smallest step-size factor, in (0, 1). Default 0.2. */
  factorMin?: number;
  /** Largest step-size factor, > 1. Default 10. */
  factorMax?: number;
}

/** The default controller: diffrax's recommended PI gains. */
export const DEFAULT_CONTROLLER: Readonly<Required<ControllerOptions>> = Object.freeze({
  pcoeff: 0.4,
  icoeff: 0.3,
  safety: 0.9,
  factorMin: 0.2,
  factorMax: 10,
});

/** Validates a controller and turns it into the kernels' exponents for error order q. */
export function resolveController(c: ControllerOptions | undefined, q: number, argument = 'options.controller'): ControllerValues {
  if (c !== undefined && (typeof c !== 'object' || c === null)) throw new ArgumentError(argument, c, 'an object');
  const v = { ...DEFAULT_CONTROLLER, ...c };
  const check = (key: keyof ControllerOptions, ok: boolean, expected: string) => {
    if (!ok) throw new ArgumentError(`${argument}.${key}`, v[key], expected);
  };
  const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  check('pcoeff', finite(v.pcoeff) && v.pcoeff >= 0, 'a finite number ≥ 0');
  check('icoeff', finite(v.icoeff) && v.icoeff >= 0 && v.pcoeff + v.icoeff > 0, 'a finite number ≥ 0, with pcoeff + icoeff > 0');
  check('safety', finite(v.safety) && v.safety > 0 && v.safety <= 1, 'a number in (0, 1]');
  check('factorMin', finite(v.factorMin) && v.factorMin > 0 && v.factorMin < 1, 'a number in (0, 1)');
  check('factorMax', finite(v.factorMax) && v.factorMax > 1, 'a finite number > 1');
  return {
    beta1: (v.pcoeff + v.icoeff) / q,
    beta2: v.pcoeff / q,
    safety: v.safety,
    factor_min: v.factorMin,
    factor_max: v.factorMax,
  };
}

/** Step-size control mode of adaptive methods. */
export type StepControl = 'per-sample' | 'batch';

/** Options after defaults are applied. */
export interface ResolvedOdeintOptions {
  readonly method: MethodName;
  readonly rtol: number;
  readonly atol: number;
  readonly stepSize: number;
  readonly firstStep: number;
  readonly maxSteps: number;
  readonly stepsPerDispatch: number;
  readonly stepControl: StepControl;
  /** The controller as given (defaults filled in), and as the kernels use it. */
  readonly controller: Readonly<Required<ControllerOptions>>;
  readonly controllerValues: ControllerValues;
  readonly deferred: boolean;
  /** The dispatch budget asked for (deferred solves), or 0 for the default. */
  readonly dispatchBudget: number;
  /**
   * The largest multiple of stepsPerDispatch one dispatch may run:
   * DISPATCH_GROWTH when stepsPerDispatch was chosen automatically, 1 when given.
   */
  readonly dispatchGrowth: number;
}

/** Totals of a solve, known without another host wait. */
export interface SolveSummary {
  /** Function evaluations over all samples. */
  readonly nfe: number;
  /** Largest function-evaluation count of one sample. */
  readonly maxNfe: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Host waits, submits and dispatches this solve issued. */
  readonly hostWaits: number;
  readonly submits: number;
  readonly dispatches: number;
}

/** Per-sample statistics (`solution.stats()`). */
export interface SolveStats {
  readonly nfe: Uint32Array;
  readonly accepted: Uint32Array;
  readonly rejected: Uint32Array;
  /** 'done' or the failure kind, per sample. */
  readonly status: readonly ('done' | FailureKind | 'running')[];
  /** Time reached by each sample. */
  readonly tReached: Float64Array;
  /** Number of outputs written by each sample. */
  readonly outputsWritten: Uint32Array;
  readonly total: { nfe: number; accepted: number; rejected: number; maxNfe: number };
}

/**
 * The smallest relative tolerance webode accepts: float32 carries 24 bits
 * (unit round-off 6e-8), so an error estimate below ~1e-7 relative is noise.
 * Smaller requests are raised to it with a console warning.
 */
export const MIN_RTOL = 1e-7;

const warned = new Set<string>();
function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  console.warn(message);
}

/** Throws unless `batch` samples at `perWorkgroup` per workgroup fit one dispatch dimension. */
export function checkDispatch(rt: Runtime, argument: string, received: unknown, batch: number, perWorkgroup: number): void {
  const limit = rt.limits.maxComputeWorkgroupsPerDimension;
  if (Math.ceil(batch / perWorkgroup) > limit) {
    throw new ArgumentError(
      argument,
      received,
      `a batch of at most ${limit * perWorkgroup} samples (the adapter's maxComputeWorkgroupsPerDimension = ${limit} workgroups of ${perWorkgroup}); split the batch`,
    );
  }
}

const DEFAULT_MAX_STEPS = 10_000;
const UNLIMITED_STEPS = 0xffffffff;
/** Work per dispatch (floating-point operations) the default `stepsPerDispatch` aims at. */
const TARGET_FLOPS_PER_DISPATCH = 4e7;
const MAX_STEPS_PER_DISPATCH = 256;

function isPositiveFinite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

/** Validates and converts the output times; throws ArgumentError. */
export function validateTimes(t: ArrayLike<number>): Float64Array {
  if (!t || typeof t.length !== 'number') throw new ArgumentError('t', t, 'an array of output times');
  if (t.length < 1) throw new ArgumentError('t', t, 'at least one output time');
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`t[${i}]`, v, 'a finite number');
    out[i] = v;
  }
  if (out.length > 1) {
    const dir = Math.sign(out[1] - out[0]);
    for (let i = 1; i < out.length; i++) {
      // Strictly monotonic in float32 too, since the kernel compares float32 times.
      const step = Math.fround(out[i]) - Math.fround(out[i - 1]);
      if (dir === 0 || Math.sign(step) !== dir) {
        throw new ArgumentError(
          't',
          t,
          `strictly increasing or strictly decreasing times (distinct in float32); t[${i - 1}] = ${out[i - 1]}, t[${i}] = ${out[i]}`,
        );
      }
    }
  }
  return out;
}

/** Applies defaults and validates the options; throws ArgumentError naming the option. */
export function resolveOptions(
  options: OdeintOptions,
  work: { batch: number; flopsPerEvaluation: number },
): ResolvedOdeintOptions & { tableau: Tableau } {
  if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
  const tableau = getTableau(options.method ?? 'dopri5', 'options.method');
  let rtol = options.rtol ?? 1e-6;
  const atol = options.atol ?? 1e-7;
  if (!isPositiveFinite(rtol)) throw new ArgumentError('options.rtol', rtol, 'a finite number > 0');
  if (!isPositiveFinite(atol)) throw new ArgumentError('options.atol', atol, 'a finite number > 0');
  if (rtol < MIN_RTOL) {
    warnOnce(
      'rtol',
      `webode: options.rtol = ${rtol} is below what float32 arithmetic can honour; using rtol = ${MIN_RTOL} instead`,
    );
    rtol = MIN_RTOL;
  }
  let stepSize = 0;
  if (!tableau.adaptive) {
    if (options.stepSize === undefined) {
      throw new ArgumentError('options.stepSize', undefined, `a step size for the fixed-step method ${tableau.name}`);
    }
    if (typeof options.stepSize !== 'number' || !Number.isFinite(options.stepSize) || options.stepSize === 0) {
      throw new ArgumentError('options.stepSize', options.stepSize, 'a finite, non-zero step size');
    }
    stepSize = Math.abs(options.stepSize);
  } else if (options.stepSize !== undefined) {
    throw new ArgumentError('options.stepSize', options.stepSize, `undefined: ${tableau.name} is adaptive (use firstStep)`);
  }
  let firstStep = 0;
  if (options.firstStep !== undefined) {
    if (!tableau.adaptive) throw new ArgumentError('options.firstStep', options.firstStep, 'undefined for a fixed-step method');
    if (typeof options.firstStep !== 'number' || !Number.isFinite(options.firstStep) || options.firstStep === 0) {
      throw new ArgumentError('options.firstStep', options.firstStep, 'a finite, non-zero step size');
    }
    firstStep = Math.abs(options.firstStep);
  }
  const maxSteps = options.maxSteps ?? (tableau.adaptive ? DEFAULT_MAX_STEPS : UNLIMITED_STEPS);
  if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > UNLIMITED_STEPS) {
    throw new ArgumentError('options.maxSteps', maxSteps, 'an integer ≥ 1');
  }
  const stepControl = options.stepControl ?? 'per-sample';
  if (stepControl !== 'per-sample' && stepControl !== 'batch') {
    throw new ArgumentError('options.stepControl', stepControl, "'per-sample' or 'batch'");
  }
  let stepsPerDispatch = options.stepsPerDispatch;
  const dispatchGrowth = stepsPerDispatch === undefined ? DISPATCH_GROWTH : 1;
  if (stepsPerDispatch === undefined) {
    // An attempt evaluates every stage but the first (carried over from the last step).
    const perAttempt = Math.max(1, work.batch * (tableau.stages - 1) * work.flopsPerEvaluation);
    stepsPerDispatch = Math.max(1, Math.min(MAX_STEPS_PER_DISPATCH, Math.floor(TARGET_FLOPS_PER_DISPATCH / perAttempt)));
  } else if (!Number.isInteger(stepsPerDispatch) || stepsPerDispatch < 1) {
    throw new ArgumentError('options.stepsPerDispatch', stepsPerDispatch, 'an integer ≥ 1');
  }
  const deferred = options.deferred ?? false;
  if (typeof deferred !== 'boolean') throw new ArgumentError('options.deferred', deferred, 'true or false');
  let dispatchBudget = 0;
  if (options.dispatchBudget !== undefined) {
    if (!deferred) throw new ArgumentError('options.dispatchBudget', options.dispatchBudget, 'undefined unless deferred is true');
    dispatchBudget = options.dispatchBudget;
    if (!Number.isInteger(dispatchBudget) || dispatchBudget < 1 || dispatchBudget > MAX_DISPATCH_BUDGET) {
      throw new ArgumentError('options.dispatchBudget', dispatchBudget, `an integer in [1, ${MAX_DISPATCH_BUDGET}]`);
    }
  }
  return {
    method: tableau.name,
    rtol,
    atol,
    stepSize,
    firstStep,
    maxSteps,
    stepsPerDispatch,
    stepControl: tableau.adaptive ? stepControl : 'per-sample',
    controller: { ...DEFAULT_CONTROLLER, ...options.controller },
    controllerValues: resolveController(options.controller, tableau.errorOrder),
    deferred,
    dispatchBudget,
    dispatchGrowth,
    tableau,
  };
}

/** The default dispatch budget of a deferred solve is at most this. */
export const DEFAULT_DISPATCH_BUDGET_CAP = 512;
/** A deferred solve records at most this many dispatches (an explicit `dispatchBudget` included). */
export const MAX_DISPATCH_BUDGET = 65_536;

/**
 * Units of work a deferred solve records: the explicit budget, or enough for
 * every sample to finish or hit maxSteps (fixed-step methods: the whole grid
 * between the output times, a step more per interval for round-off), capped
 * at DEFAULT_DISPATCH_BUDGET_CAP. Per-sample units grow up to dispatchGrowth (`deferredScale`).
 */
export function deferredUnits(opts: ResolvedOdeintOptions & { tableau: Tableau }, times: ArrayLike<number>): number {
  if (opts.dispatchBudget > 0) return opts.dispatchBudget;
  let attempts = opts.maxSteps;
  if (!opts.tableau.adaptive) {
    attempts = 0;
    for (let i = 1; i < times.length; i++) attempts += Math.ceil(Math.abs(times[i] - times[i - 1]) / opts.stepSize) + 1;
  }
  // Batch step control: a unit is one shared attempt.
  if (opts.stepControl === 'batch') return Math.min(DEFAULT_DISPATCH_BUDGET_CAP, attempts + 1);
  return Math.min(DEFAULT_DISPATCH_BUDGET_CAP, deferredUnitsCovering(Math.ceil(attempts / opts.stepsPerDispatch), opts.dispatchGrowth));
}

const FAILURE_OF_STATUS: Record<number, FailureKind> = {
  [STATUS.NONFINITE]: 'nonfinite',
  [STATUS.UNDERFLOW]: 'step-underflow',
  [STATUS.MAXSTEPS]: 'max-steps',
  [STATUS.TAPE]: 'tape-overflow',
};

/** The failure of a sample left with this status (not done): a still-running sample is 'unfinished'. */
export function failureOfStatus(status: number): FailureKind {
  return FAILURE_OF_STATUS[status] ?? 'unfinished';
}

/** The result of `odeint`: outputs on the GPU, statistics on request. */
export class Solution {
  /** Outputs [T][B][D] on the GPU; `y[0]` is y0. */
  readonly y: Tensor;
  /** The output times as given. */
  readonly t: Float64Array;
  readonly batch: number;
  readonly dim: number;
  readonly f: MLP;
  readonly options: ResolvedOdeintOptions;
  /** True for a deferred solve (see `OdeintOptions.deferred`). */
  readonly deferred: boolean;
  private totals: SolveSummary;
  private samples: GPUBuffer | null;
  /** A deferred solve's report (SUMMARY words, on the GPU) until `check()` has read it. */
  private report: GPUBuffer | null;
  private checked: Promise<SolveSummary> | null = null;

  /** @internal Made by `odeint`. */
  constructor(init: {
    y: Tensor;
    t: Float64Array;
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
    this.batch = init.batch;
    this.dim = init.dim;
    this.f = init.f;
    this.options = init.options;
    this.totals = init.summary;
    this.samples = init.samples;
    this.report = init.report ?? null;
    this.deferred = this.report !== null;
  }

  /** @internal The per-sample solver state (`SAMPLE` structs, [B]), which the reverse solve starts from. */
  samplesBuffer(): GPUBuffer {
    if (!this.samples) throw new DestroyedError('Solution');
    return this.samples;
  }

  /** The solve's totals; a deferred solve's counts are NaN until `check()` has resolved. */
  get summary(): SolveSummary {
    return this.totals;
  }

  /**
   * @internal The report buffer of a deferred solve (SUMMARY words), for
   * callers that read or gate on it on the GPU; null once checked or destroyed.
   */
  get reportBuffer(): GPUBuffer | null {
    return this.report;
  }

  /**
   * Reads a deferred solve's outcome (one host wait; one more, for the
   * per-sample detail, on failure), fills in `summary` and throws
   * `OdeSolveError` if a sample failed or had not finished within the
   * dispatch budget. A solve that waited returns its summary at once.
   */
  check(): Promise<SolveSummary> {
    if (!this.report) {
      if (!this.samples) return Promise.reject(new DestroyedError('Solution'));
      return Promise.resolve(this.totals);
    }
    this.checked ??= this.readReport(this.report);
    return this.checked;
  }

  private async readReport(report: GPUBuffer): Promise<SolveSummary> {
    const rt = this.y.runtime;
    const values = SUMMARY.unpack(new DataView(await rt.readBuffer(report, 0, SUMMARY.byteSize)));
    this.totals = {
      ...this.totals,
      nfe: values.nfe_total,
      maxNfe: values.nfe_max,
      accepted: values.accepted,
      rejected: values.rejected,
    };
    rt.destroyBuffer(report);
    this.report = null;
    if (values.running > 0 || values.failed > 0) throw new OdeSolveError(await this.failures(), this, this.batch);
    return this.totals;
  }

  /** Every sample that failed or has not finished (one host wait). */
  private async failures(): Promise<SampleFailure[]> {
    const stats = await this.stats();
    const failures: SampleFailure[] = [];
    stats.status.forEach((st, sample) => {
      if (st !== 'done') failures.push({ sample, kind: st === 'running' ? 'unfinished' : st, t: stats.tReached[sample] });
    });
    return failures;
  }

  /** Reads the per-sample statistics (one host wait). */
  async stats(): Promise<SolveStats> {
    if (!this.samples) throw new DestroyedError('Solution');
    const rt = this.y.runtime;
    const bytes = await rt.readBuffer(this.samples, 0, this.batch * SAMPLE.stride);
    return parseSamples(bytes, this.batch);
  }

  /**
   * Gradients of a loss L through this solve by the adjoint method: `dLdy`
   * holds ∂L/∂y for every output, [T][B][D] (a Float32Array or a GPU tensor).
   * Returns dL/dy0 and dL/dθ as GPU tensors.
   */
  backward(dLdy: ArrayLike<number> | Tensor, options: BackwardOptions = {}): Promise<Gradients> {
    return backward(this, dLdy, options);
  }

  /** Frees the outputs and the per-sample state. Idempotent. */
  destroy(): void {
    const rt = this.y.runtime;
    this.y.destroy();
    if (this.samples) rt.destroyBuffer(this.samples);
    if (this.report) rt.destroyBuffer(this.report);
    this.samples = null;
    this.report = null;
  }
}

/** Parses `batch` entries of a per-sample state buffer. */
export function parseSamples(bytes: ArrayBuffer, batch: number): SolveStats {
  const view = new DataView(bytes);
  const nfe = new Uint32Array(batch);
  const accepted = new Uint32Array(batch);
  const rejected = new Uint32Array(batch);
  const outputsWritten = new Uint32Array(batch);
  const tReached = new Float64Array(batch);
  const status: ('done' | FailureKind | 'running')[] = [];
  const o = (k: Parameters<typeof SAMPLE.offset>[0]) => SAMPLE.offset(k);
  let tn = 0;
  let ta = 0;
  let tr = 0;
  let mx = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * SAMPLE.stride;
    nfe[b] = view.getUint32(base + o('n_fe'), true);
    accepted[b] = view.getUint32(base + o('n_accepted'), true);
    rejected[b] = view.getUint32(base + o('n_rejected'), true);
    outputsWritten[b] = view.getUint32(base + o('out_idx'), true);
    tReached[b] = view.getFloat32(base + o('t_hi'), true) + view.getFloat32(base + o('t_lo'), true);
    const s = view.getUint32(base + o('status'), true);
    status.push(s === STATUS.DONE ? 'done' : (FAILURE_OF_STATUS[s] ?? 'running'));
    tn += nfe[b];
    ta += accepted[b];
    tr += rejected[b];
    mx = Math.max(mx, nfe[b]);
  }
  return { nfe, accepted, rejected, status, tReached, outputsWritten, total: { nfe: tn, accepted: ta, rejected: tr, maxNfe: mx } };
}

/**
 * Integrates dz/dt = f(t, z) from `t[0]` through every output time, for every
 * sample of the batch, on the GPU. Each sample takes its own adaptive steps.
 *
 * @param f  the vector field (an `MLP`)
 * @param y0 initial states: B×D float32 values (B inferred), or a GPU `Tensor`
 * @param t  strictly monotonic output times (increasing or decreasing), T ≥ 1
 * @returns the `Solution` once every sample has finished; rejects with
 *   `OdeSolveError` (failing samples, times reached, the partial solution)
 *   on a numerical failure, and with `ArgumentError` on bad input before any GPU work.
 */
export async function odeint(
  f: MLP,
  y0: ArrayLike<number> | Tensor,
  t: ArrayLike<number>,
  options: OdeintOptions = {},
): Promise<Solution> {
  if (!f || typeof f !== 'object' || !('spec' in f)) throw new ArgumentError('f', f, 'an MLP');
  const rt = f.runtime;
  rt.check();
  const D = f.stateDim;
  const y0Len = y0 instanceof Tensor ? y0.size : y0 && typeof y0.length === 'number' ? y0.length : -1;
  if (y0Len <= 0 || y0Len % D !== 0) {
    throw new ArgumentError('y0', y0, `a non-empty array whose length is a multiple of the state dimension ${D}`);
  }
  if (!(y0 instanceof Tensor)) {
    for (let i = 0; i < y0Len; i++) {
      if (typeof y0[i] !== 'number') throw new ArgumentError(`y0[${i}]`, y0[i], 'a number');
    }
  }
  const B = y0Len / D;
  const times = validateTimes(t);
  const T = times.length;
  const resolved = resolveOptions(options, { batch: B, flopsPerEvaluation: mlpFlops(f.spec) });
  const { tableau, ...opts } = resolved;
  if (y0 instanceof Tensor) y0.checkUsableOn(rt, 'y0');
  checkDispatch(rt, 'y0', y0, B, INTEGRATE_WORKGROUP);
  // Every buffer of the solve must fit one binding: check them all before allocating any.
  const batchMode = resolved.stepControl === 'batch';
  const maxBinding = rt.limits.maxStorageBufferBindingSize;
  // Per sample: f at the current point; batch mode keeps every stage and y_{n+1}.
  const stageBytes = B * D * 4 * (batchMode ? kSlots(tableau) + 1 : 1);
  const buffers: [string, number][] = [
    ['outputs (T·B·D·4)', T * B * D * 4],
    ['per-sample solver state', (B + 2) * SAMPLE.stride],
    ['stage buffer', stageBytes],
  ];
  for (const [what, bytes] of buffers) {
    if (bytes > maxBinding) {
      throw new ArgumentError(
        'y0',
        y0,
        `a batch whose ${what} of ${bytes} bytes fits the adapter's maxStorageBufferBindingSize of ${maxBinding} bytes; split the batch`,
      );
    }
  }

  const before = { ...rt.counters };
  const device = rt.device;
  const theta = f.params;
  const dir = T > 1 ? Math.sign(times[T - 1] - times[0]) : 1;
  const params: ParamsValues = {
    batch: B,
    n_out: T,
    steps_per_dispatch: opts.stepsPerDispatch,
    max_steps: opts.maxSteps,
    t0: times[0],
    t_end: times[T - 1],
    dir,
    rtol: opts.rtol,
    atol: opts.atol,
    h_fixed: dir * opts.stepSize,
    first_step: opts.firstStep,
    ...opts.controllerValues,
  };

  const spec = { mlp: f.spec, tableau };
  const { pipeline: layout, bindGroup: bindGroupLayout } = integrateLayouts(device);
  const entry = (e: IntegrateEntry) =>
    rt.pipeline(integrateKey(spec, e), `${e} ${tableau.name}`, () => ({ code: integrateWgsl(spec), entryPoint: e, layout }));

  // Buffers of this solve. The outputs and per-sample state belong to the
  // Solution; everything else is freed when the solve ends.
  const scratch: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(label, bytes, usage);
    scratch.push(b);
    return b;
  };
  let y: Tensor | null = null;
  let samples: GPUBuffer | null = null;
  try {
    y = Tensor.zeros(rt, [T, B, D], 'solution y');
    // Batch mode keeps the shared controller state and its last decision after the samples.
    samples = rt.createBuffer(
      'solve samples',
      (B + (batchMode ? 2 : 0)) * SAMPLE.stride,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    );
    const uniform = make('solve params', PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, PARAMS.pack(params));
    const tout = make('solve output times', T * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(tout, 0, Float32Array.from(times));
    let y0Buffer: GPUBuffer;
    if (y0 instanceof Tensor) {
      y0Buffer = y0.buffer;
    } else {
      y0Buffer = make('solve y0', B * D * 4, TENSOR_USAGE);
      const f32 = y0 instanceof Float32Array ? y0 : Float32Array.from(y0);
      device.queue.writeBuffer(y0Buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    }
    const ycur = make('solve y current', B * D * 4, GPUBufferUsage.STORAGE);
    const kbuf = make('solve stages', stageBytes, GPUBufferUsage.STORAGE);

    const solveBuffers = [uniform, theta.buffer, y0Buffer, tout, y.buffer, samples, ycur, kbuf];
    const bindGroup = bindBuffers(device, 'integrate bind group', bindGroupLayout, solveBuffers);
    const workgroups = integrateWorkgroups(B);

    // A unit of work: per-sample mode, one dispatch advancing every running
    // sample by up to stepsPerDispatch attempts; batch mode, one shared attempt
    // (three dispatches), after the start-up pair in the first chunk.
    let started = false;
    // Growing dispatches: a bind group per step-attempt scale, each with its own uniform.
    const scaledGroup = scaledBindGroups(
      rt,
      'integrate',
      bindGroupLayout,
      solveBuffers,
      bindGroup,
      (scale) => PARAMS.pack({ ...params, steps_per_dispatch: scale * opts.stepsPerDispatch }),
      make,
    );
    const record = (pass: GPUComputePassEncoder, units: number, indirect: GPUBuffer, scale = 1): number => {
      pass.setBindGroup(0, batchMode ? bindGroup : scaledGroup(scale));
      if (!batchMode) {
        pass.setPipeline(entry('integrate'));
        for (let i = 0; i < units; i++) pass.dispatchWorkgroupsIndirect(indirect, 0);
        return units;
      }
      let dispatches = 0;
      if (!started) {
        pass.setPipeline(entry('batch_init'));
        pass.dispatchWorkgroups(workgroups);
        pass.setPipeline(entry('batch_control'));
        pass.dispatchWorkgroups(1);
        dispatches += 2;
        started = true;
      }
      const attempt = entry('batch_attempt');
      const control = entry('batch_control');
      const commit = entry('batch_commit');
      for (let i = 0; i < units; i++) {
        pass.setPipeline(attempt);
        pass.dispatchWorkgroupsIndirect(indirect, 0);
        pass.setPipeline(control);
        pass.dispatchWorkgroups(1);
        pass.setPipeline(commit);
        pass.dispatchWorkgroupsIndirect(indirect, 0);
      }
      return dispatches + 3 * units;
    };
    const drive = {
      label: `odeint ${tableau.name}`,
      batch: B,
      samples,
      workgroups,
      record,
      maxScale: batchMode ? 1 : opts.dispatchGrowth,
    };
    const counts = () => ({
      hostWaits: rt.counters.hostWaits - before.hostWaits,
      submits: rt.counters.submits - before.submits,
      dispatches: rt.counters.dispatches - before.dispatches,
    });
    if (opts.deferred) {
      const report = createReport(rt, 'solve report'); // the Solution owns it
      try {
        driveDeferred(rt, drive, deferredUnits(resolved, times), report);
      } catch (e) {
        rt.destroyBuffer(report);
        throw e;
      }
      const summary: SolveSummary = { nfe: NaN, maxNfe: NaN, accepted: NaN, rejected: NaN, ...counts() };
      return new Solution({ y, t: times, batch: B, dim: D, f, options: opts, summary, samples, report });
    }
    const totals = batchMode ? await driveToCompletion(rt, drive) : await driveInRounds(rt, drive);
    const summary: SolveSummary = {
      nfe: totals.nfe_total,
      maxNfe: totals.nfe_max,
      accepted: totals.accepted,
      rejected: totals.rejected,
      ...counts(),
    };
    const solution = new Solution({ y, t: times, batch: B, dim: D, f, options: opts, summary, samples });
    if (totals.failed > 0) {
      const stats = await solution.stats();
      const failures: SampleFailure[] = [];
      stats.status.forEach((st, sample) => {
        if (st !== 'done' && st !== 'running') failures.push({ sample, kind: st, t: stats.tReached[sample] });
      });
      throw new OdeSolveError(failures, solution, B);
    }
    return solution;
  } catch (e) {
    if (!(e instanceof OdeSolveError)) {
      y?.destroy();
      if (samples) rt.destroyBuffer(samples);
    }
    throw e;
  } finally {
    for (const b of scratch) rt.destroyBuffer(b);
  }
}

