/**
 * The options of a solve: their types and defaults, their validation (a
 * typed `ArgumentError` naming the option, before any GPU work), and the one
 * packing of the solver fields every integration kernel's uniform carries
 * (forward, adjoint and backprop alike; one convention for the direction).
 */
import { ArgumentError } from '../errors';
import { type MethodName, type Tableau, getTableau } from '../methods/tableau';
import type { AdapterKind, Runtime } from '../runtime/runtime';
import type { ControllerValues, SolverValues } from '../wgsl/rk';
import { deferredUnitsCovering, dispatchGrowth as growthFor } from './driver';

/**
 * The options of a reverse (gradient) solve that `solution.backward` and
 * `flowDensity.backward` share; unset ones come from the forward solve.
 */
export interface ReverseSolveOptions {
  /** Runge–Kutta method of the reverse solve. Default: the forward solve's. */
  method?: OdeintOptions['method'];
  /** Relative tolerance of an adaptive reverse solve. Default: the forward solve's. */
  rtol?: number;
  /** Absolute tolerance of an adaptive reverse solve. Default: the forward solve's. */
  atol?: number;
  /** Step size of a fixed-step reverse solve (an ArgumentError with an adaptive method). Default: the forward solve's. */
  stepSize?: number;
  /**
   * First step of an adaptive reverse solve (its magnitude, clipped to the
   * first segment). Default: per sample, the step size its forward solve
   * ended with (the initial-step heuristic where that is unknown), not the
   * forward's option.
   */
  firstStep?: number;
  /** Step attempts per sample before failing. Default: the forward solve's. */
  maxSteps?: number;
  /** Step attempts per sample in one GPU dispatch, at most. Default: from the problem size. */
  stepsPerDispatch?: number;
  /** Step-size controller of an adaptive reverse solve (a name or settings, as `OdeintOptions.controller`). Default: the forward solve's. */
  controller?: Controller;
  /** Dispatches per chunk of samples of a deferred reverse solve. Default as `OdeintOptions.dispatchBudget`. */
  dispatchBudget?: number;
}

/**
 * The options of a reverse solve from those asked for and its forward
 * solve's: method, tolerances, maxSteps and controller default to the
 * forward's, and so does the step size when the reverse method is fixed-step
 * (a step size given for an adaptive one is passed on, for `resolveOptions`
 * to reject); firstStep, stepsPerDispatch and the dispatch budget are the
 * reverse solve's own.
 */
export function reverseSolveOptions(options: ReverseSolveOptions & { deferred?: boolean }, fwd: ResolvedOdeintOptions): OdeintOptions {
  const method = options.method ?? fwd.method;
  const adaptive = getTableau(method, 'options.method').adaptive;
  return {
    method,
    rtol: options.rtol ?? fwd.rtol,
    atol: options.atol ?? fwd.atol,
    stepSize: adaptive ? options.stepSize : (options.stepSize ?? (fwd.stepSize || undefined)),
    firstStep: options.firstStep,
    maxSteps: options.maxSteps ?? fwd.maxSteps,
    stepsPerDispatch: options.stepsPerDispatch,
    controller: options.controller ?? fwd.controller,
    deferred: options.deferred,
    dispatchBudget: options.dispatchBudget,
  };
}

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
   * from the problem size so an ordinary dispatch stays short (about 4e7
   * flops), then allowed 16× that in every dispatch of a per-sample solve
   * (256× on a CPU adapter, whose dispatches hold up no display), so a long
   * solve needs few dispatches (one that finishes early ends early); a
   * value given here is never exceeded.
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
  /**
   * How the integration kernel maps samples to the GPU (per-sample step
   * control): `'invocation'` integrates one sample per invocation;
   * `'lanes'` four per invocation, as the lanes of vec4 values, each with its
   * own time, step size, controller state and status, so every parameter
   * loaded serves four samples. Both take the same steps and give the same
   * float32 results. Default, where the MLP fits: on a CPU adapter
   * (SwiftShader; `Runtime.adapterKind`) `'lanes'` from 64 samples
   * (measured 1.4–3.5× faster there), on a GPU from 65,536 (so that B/4
   * invocations still fill it; chosen from that count, not measured);
   * `'invocation'` below and with `stepControl: 'batch'`. `'lanes'` needs
   * `stepControl: 'per-sample'` and an MLP whose four-lane arrays fit WGSL's
   * 8 KiB of function memory.
   */
  kernel?: IntegrateKernel;
  /**
   * The step-size controller of adaptive methods: `'PI'` (the default,
   * pcoeff 0.4, icoeff 0.3), `'I'` (the classic integral controller:
   * pcoeff 0, icoeff 1, as torchdiffeq and torchode take steps), or the
   * gains and limits themselves (`ControllerOptions`, unset fields from the
   * default).
   */
  controller?: Controller;
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
   * Dispatches a deferred solve records; each advances every running sample
   * by up to 16 · stepsPerDispatch attempts when stepsPerDispatch is
   * automatic (256 · stepsPerDispatch on a CPU adapter; stepsPerDispatch
   * when given), so a few cover a long solve
   * (batch step control: one shared attempt each).
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

/** The named controllers: `'PI'` (the default) and `'I'`. */
export type ControllerName = 'PI' | 'I';

/** A controller: by name, or its gains and limits. */
export type Controller = ControllerName | ControllerOptions;

/**
 * The named controllers' settings. `'PI'` is the default: on the bench's
 * work-precision problems it reached a given error with 8–16% fewer
 * evaluations per sample than `'I'` (bench/RESULTS.md, table 7b); `'I'`
 * takes fewer steps at a given tolerance, with larger errors.
 */
export const CONTROLLERS: Readonly<Record<ControllerName, Readonly<Required<ControllerOptions>>>> = Object.freeze({
  PI: DEFAULT_CONTROLLER,
  I: Object.freeze({ ...DEFAULT_CONTROLLER, pcoeff: 0, icoeff: 1 }),
});

/** A controller's settings, defaults filled in; throws ArgumentError for an unknown name or a non-object. */
export function controllerSettings(c: Controller | undefined, argument = 'options.controller'): Readonly<Required<ControllerOptions>> {
  if (c === undefined) return DEFAULT_CONTROLLER;
  if (typeof c === 'string') {
    if (c === 'PI' || c === 'I') return CONTROLLERS[c];
    throw new ArgumentError(argument, c, "'PI', 'I' or an object of controller settings");
  }
  if (typeof c !== 'object' || c === null) throw new ArgumentError(argument, c, "'PI', 'I' or an object of controller settings");
  return { ...DEFAULT_CONTROLLER, ...c };
}

/** Validates a controller and turns it into the kernels' exponents for error order q. */
export function resolveController(c: Controller | undefined, q: number, argument = 'options.controller'): ControllerValues {
  const v = controllerSettings(c, argument);
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

/** The per-sample integration kernels (see `OdeintOptions.kernel`). */
export type IntegrateKernel = 'lanes' | 'invocation';

/** Options after defaults are applied. */
export interface ResolvedOdeintOptions {
  /** The method. */
  readonly method: MethodName;
  /** Relative tolerance (at least MIN_RTOL). */
  readonly rtol: number;
  /** Absolute tolerance. */
  readonly atol: number;
  /** Step size of a fixed-step method (0 for adaptive ones). */
  readonly stepSize: number;
  /** First step of an adaptive method (0: automatic, per sample). */
  readonly firstStep: number;
  /** Step attempts per sample before failing. */
  readonly maxSteps: number;
  /** Step attempts per dispatch, at most. */
  readonly stepsPerDispatch: number;
  /** Per-sample or batch-shared step control. */
  readonly stepControl: StepControl;
  /** The integration kernel asked for (undefined: chosen by `odeint`); a Solution's options hold the one used. */
  readonly kernel?: IntegrateKernel;
  /** The controller as given (defaults filled in), and as the kernels use it. */
  readonly controller: Readonly<Required<ControllerOptions>>;
  /** @internal The controller's values as the kernels read them. */
  readonly controllerValues: ControllerValues;
  /** Whether the solve returns without a host wait. */
  readonly deferred: boolean;
  /** The dispatch budget asked for (deferred solves), or 0 for the default. */
  readonly dispatchBudget: number;
  /**
   * The largest multiple of stepsPerDispatch one dispatch may run: the
   * adapter's `dispatchGrowth` (16 on a GPU, 256 on a CPU adapter) when
   * stepsPerDispatch was chosen automatically, 1 when given.
   */
  readonly dispatchGrowth: number;
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
export function validateTimes(t: ArrayLike<number>, name = 't'): Float64Array {
  if (!t || typeof t.length !== 'number') throw new ArgumentError(name, t, 'an array of output times');
  if (t.length < 1) throw new ArgumentError(name, t, 'at least one output time');
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${name}[${i}]`, v, 'a finite number');
    out[i] = v;
  }
  if (out.length > 1) {
    const dir = Math.sign(out[1] - out[0]);
    for (let i = 1; i < out.length; i++) {
      // Strictly monotonic in float32 too, since the kernel compares float32 times.
      const step = Math.fround(out[i]) - Math.fround(out[i - 1]);
      if (dir === 0 || Math.sign(step) !== dir) {
        throw new ArgumentError(
          name,
          t,
          `strictly increasing or strictly decreasing times (distinct in float32); ${name}[${i - 1}] = ${out[i - 1]}, ${name}[${i}] = ${out[i]}`,
        );
      }
    }
  }
  return out;
}

/** True when `t` is given per sample: an array of rows (arrays or typed arrays) rather than of numbers. */
export function isPerSampleTimes(t: unknown): t is ArrayLike<ArrayLike<number>> {
  if (!t || typeof t !== 'object' || typeof (t as ArrayLike<unknown>).length !== 'number') return false;
  const first = (t as ArrayLike<unknown>)[0];
  return (t as ArrayLike<unknown>).length > 0 && typeof first === 'object' && first !== null;
}

/**
 * Per-sample output times: `batch` rows of the same length T, each strictly
 * monotonic and finite (checked as `validateTimes` checks shared times, the
 * row named `t[b]`), all in the same direction. Returns the rows.
 */
export function validateSampleTimes(t: ArrayLike<ArrayLike<number>>, batch: number): Float64Array[] {
  if (t.length !== batch) {
    throw new ArgumentError('t', t, `one row of output times per sample of y0 (${batch} rows), got ${t.length} rows`);
  }
  const rows: Float64Array[] = [];
  for (let b = 0; b < t.length; b++) {
    const row = validateTimes(t[b], `t[${b}]`);
    if (b > 0 && row.length !== rows[0].length) {
      throw new ArgumentError(`t[${b}]`, t[b], `${rows[0].length} output times, as t[0] has; got ${row.length}`);
    }
    if (b > 0 && row.length > 1 && integrationDirection(row, 'forward') !== integrationDirection(rows[0], 'forward')) {
      throw new ArgumentError(`t[${b}]`, t[b], `times in the direction of t[0] (${integrationDirection(rows[0], 'forward') > 0 ? 'increasing' : 'decreasing'})`);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Applies defaults and validates the options; throws ArgumentError naming
 * the option. `work` sizes the automatic stepsPerDispatch (the batch and
 * the flops of one evaluation) and, by the adapter's kind, how far it grows.
 */
export function resolveOptions(
  options: OdeintOptions,
  work: { batch: number; flopsPerEvaluation: number; adapter: AdapterKind },
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
  const kernel = options.kernel;
  if (kernel !== undefined && kernel !== 'lanes' && kernel !== 'invocation') {
    throw new ArgumentError('options.kernel', kernel, "'lanes' or 'invocation'");
  }
  if (kernel === 'lanes' && tableau.adaptive && stepControl === 'batch') {
    throw new ArgumentError('options.kernel', kernel, "'invocation' or unset with stepControl 'batch'");
  }
  let stepsPerDispatch = options.stepsPerDispatch;
  const dispatchGrowth = stepsPerDispatch === undefined ? growthFor(work.adapter) : 1;
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
    kernel,
    controller: controllerSettings(options.controller),
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
 * at DEFAULT_DISPATCH_BUDGET_CAP. A per-sample unit allows dispatchGrowth · stepsPerDispatch attempts.
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

/**
 * The sign of time along a solve through the output times `times`: forward
 * from t[0] to t[T−1], or in reverse (the adjoint); a single output time
 * counts as increasing.
 */
export function integrationDirection(times: ArrayLike<number>, way: 'forward' | 'reverse'): number {
  const T = times.length;
  const forward = T > 1 ? Math.sign(times[T - 1] - times[0]) : 1;
  return way === 'forward' ? forward : -forward;
}

/**
 * The solver fields of a kernel's uniform (the RK core's and the
 * controller's) for resolved options, `nOut` output times and direction
 * `dir`; `stepsScale` multiplies the step attempts of one dispatch.
 */
export function solverValues(opts: ResolvedOdeintOptions, nOut: number, dir: number, stepsScale = 1): SolverValues {
  return {
    n_out: nOut,
    steps_per_dispatch: stepsScale * opts.stepsPerDispatch,
    max_steps: opts.maxSteps,
    dir,
    rtol: opts.rtol,
    atol: opts.atol,
    h_fixed: dir * opts.stepSize,
    first_step: opts.firstStep,
    ...opts.controllerValues,
  };
}
