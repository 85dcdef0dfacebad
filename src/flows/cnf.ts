/**
 * Continuous normalizing flows (FFJORD, Grathwohl et al. 2019) on an MLP
 * vector field: data x at t0, the base N(0, I) at t1,
 *
 *   z(t0) = x,  dz/dt = f(t, z; θ),  l(t0) = 0,  dl/dt = tr(∂f/∂z)  (or εᵀ(∂f/∂z)ε),
 *   log p(x) = log N(z(t1); 0, I) + l(t1).
 *
 * The augmented state [z, l, (kinetic), (jacobian)] is integrated by the
 * per-sample RK kernel (src/kernels/cnf-integrate.ts) with its field from
 * src/mlp/trace.ts; two small kernels (src/kernels/cnf-density.ts) build
 * the augmented initial states and turn the solution into z, log p and the
 * regularisers' integrals. Options, the driver (rounds, deferred budgets),
 * sample status and failures are the forward solve's (src/solver/).
 */
import { ArgumentError, DestroyedError, OdeSolveError } from '../errors';
import { MLP, mulberry32 } from '../field/mlp';
import { cnfDensityKernel, DENSITY_PARAMS, densityWorkgroups } from '../kernels/cnf-density';
import { cnfIntegrateKernel } from '../kernels/cnf-integrate';
import { INTEGRATE_WORKGROUP, PARAMS, SAMPLE, integrateWorkgroups } from '../kernels/integrate';
import { activationEntry } from '../mlp/activations';
import { mlpFlops } from '../mlp/mlp';
import { type CnfFieldSpec, type TraceKind, cnfFieldFloats, cnfStateWidth, cnfVjpFloats } from '../mlp/trace';
import { WGSL_FUNCTION_FLOATS } from '../mlp/plan';
import type { Runtime } from '../runtime/runtime';
import { TENSOR_USAGE, Tensor } from '../runtime/tensor';
import { type DriveSpec, type SummaryValues, createReport, driveDeferred, driveInRounds, reportCounts, scaledBinds } from '../solver/driver';
import {
  type OdeintOptions,
  type ResolvedOdeintOptions,
  checkDispatch,
  deferredUnits,
  resolveOptions,
  solverValues,
} from '../solver/options';
import { SolveRecord } from '../solver/record';
import { type SolveSummary, countersSince } from '../solver/solution';
import { type SolveStats, failuresOf } from '../solver/status';
import type { Tableau } from '../methods/tableau';
import { type FlowBackwardOptions, FlowGradients, flowBackward } from './cnf-backward';

/** Options of `new CNF(f, options)`. */
export interface CNFOptions {
  /** Time of the data. Default 0. */
  t0?: number;
  /** Time of the base distribution N(0, I). Default 1. */
  t1?: number;
  /** `'exact'` (default): tr(∂f/∂z) from D forward-mode sweeps; `'hutchinson'`: εᵀ(∂f/∂z)ε from one. */
  trace?: TraceKind;
  /** Weight of the kinetic-energy regulariser ∫‖f‖² dt (Finlay et al. 2020); 0 or absent: not carried. */
  kinetic?: number;
  /**
   * Weight of the Jacobian regulariser: ∫‖∂f/∂z‖²_F dt with the exact trace
   * (from the same D sweeps), ∫‖(∂f/∂z)ε‖² dt with Hutchinson's (the JVP
   * with ε, whose mean over ε is the Frobenius norm); 0 or absent: not carried.
   */
  jacobian?: number;
  /** Seed of the first call's noise when none is given (each call without `seed` takes the next). Default 0. */
  seed?: number;
}

/** Distribution of Hutchinson's ε. */
export type NoiseKind = 'rademacher' | 'gaussian';

/** Options of `flow.logProb`: the solve's options (`odeint`'s), and the noise of the Hutchinson trace. */
export interface LogProbOptions extends OdeintOptions {
  /** Hutchinson's ε per sample, [B][D], fixed over the solve. Default: drawn from a seeded generator. Checked but unused with the exact trace. */
  noise?: ArrayLike<number> | Tensor;
  /** Seed of the drawn noise. Default: the flow's next seed. */
  seed?: number;
  /** Distribution of the drawn noise. Default `'rademacher'`. */
  noiseKind?: NoiseKind;
}

/** Options of `flow.sample`: as `logProb`'s (the noise serves the Hutchinson trace of the reverse solve). */
export type SampleOptions = LogProbOptions;

/** Activations whose σ'' is smooth enough for a flow (its gradients need second derivatives of the MLP). */
export function flowActivationOk(f: MLP): boolean {
  return activationEntry(f.activation).smoothSecond;
}

/** The outputs of one flow solve on the GPU, its totals, and its per-sample statistics on request. */
class FlowSolve {
  /** log p [B] of the data points (`logProb`) or of the samples (`sample`). */
  readonly logp: Tensor;
  /** The regularisers' integrals [B], where the flow carries them. */
  readonly reg: {
    /** ∫‖f‖² dt per sample [B] (kinetic-energy regulariser); null when the flow's `kinetic` weight is 0. */
    readonly kinetic: Tensor | null;
    /** ∫‖∂f/∂z‖²_F dt (exact trace) or ∫‖(∂f/∂z)ε‖² dt (Hutchinson) per sample [B]; null when the flow's `jacobian` weight is 0. */
    readonly jacobian: Tensor | null;
  };
  /** Hutchinson's ε [B][D] used (given or drawn); null with the exact trace. */
  readonly noise: Tensor | null;
  /** Number of samples B: rows of the data (`logProb`) or of the base points (`sample`). */
  readonly batch: number;
  /** The solve's options with every default filled in. */
  readonly options: ResolvedOdeintOptions;
  /** True when the solve was deferred (no host wait): `summary` has NaN counts until `check()`. */
  readonly deferred: boolean;
  protected readonly ends: Tensor;
  protected readonly aug: Tensor;
  protected readonly flow: CNF;
  protected readonly times: readonly number[];
  protected readonly tableau: Tableau;
  protected readonly record: SolveRecord;
  protected readonly rt: Runtime;

  /** @internal */
  constructor(init: FlowInit) {
    this.rt = init.rt;
    this.flow = init.flow;
    this.times = init.times;
    this.tableau = init.tableau;
    this.aug = init.aug;
    this.ends = init.ends;
    this.logp = init.logp;
    this.reg = init.reg;
    this.noise = init.noise;
    this.batch = init.batch;
    this.options = init.options;
    this.record = new SolveRecord(init.rt, init.batch, init, 'flow result');
    this.deferred = this.record.deferred;
  }

  /** The solve's totals (NaN counts for a deferred solve until `check()`). */
  get summary(): SolveSummary {
    return this.record.summary;
  }

  /**
   * @internal The report buffer of a deferred solve (SUMMARY words), for
   * callers that gate on it on the GPU (`FlowTrainer`); null once checked or destroyed.
   */
  get reportBuffer(): GPUBuffer | null {
    return this.record.reportBuffer;
  }

  /** Reads a deferred solve's outcome (one host wait); throws `OdeSolveError` if a sample failed or did not finish. */
  check(): Promise<SolveSummary> {
    return this.record.check(this);
  }

  /** Per-sample statistics of the solve (one host wait). */
  stats(): Promise<SolveStats> {
    return this.record.stats();
  }

  /** Frees every output. Idempotent. */
  destroy(): void {
    for (const t of [this.ends, this.aug, this.logp, this.reg.kinetic, this.reg.jacobian, this.noise]) t?.destroy();
    this.record.destroy();
  }
}

/** The result of `flow.logProb(x)`: log p(x) [B], z(t1) [B][D], the regularisers. */
export class FlowDensity extends FlowSolve {
  /** z(t1) [B][D], the data points mapped to the base. */
  get z(): Tensor {
    return this.ends;
  }

  /**
   * Gradients of L = Σ_b dLdlogp_b·logp_b + Σ_b (w_k·kinetic_b + w_j·jacobian_b)
   * (w: the flow's regulariser weights) by the adjoint of the augmented
   * system: dL/dθ [P] and dL/dx [B][D]. Per-sample adaptive reverse steps,
   * the parameter adjoint outside the error norm (seminorm); the same ε as
   * the forward solve. Options as `solution.backward`'s (adjoint mode, one
   * sample per invocation). One host wait; none when deferred.
   */
  async backward(dLdlogp: ArrayLike<number> | Tensor, options: FlowBackwardOptions = {}): Promise<FlowGradients> {
    return flowBackward(this, dLdlogp, options, {
      rt: this.rt,
      flow: this.flow,
      times: this.times,
      tableau: this.tableau,
      aug: this.aug,
      samples: () => this.record.samplesBuffer(),
    });
  }
}

/** The result of `flow.sample(z1)`: x = z(t0) [N][D] and its log p [N]. */
export class FlowSamples extends FlowSolve {
  /** The samples x = z(t0) [N][D]. */
  get x(): Tensor {
    return this.ends;
  }
}

interface FlowInit {
  rt: Runtime;
  flow: CNF;
  times: readonly number[];
  tableau: Tableau;
  aug: Tensor;
  ends: Tensor;
  logp: Tensor;
  reg: { kinetic: Tensor | null; jacobian: Tensor | null };
  noise: Tensor | null;
  batch: number;
  options: ResolvedOdeintOptions;
  summary: SolveSummary;
  samples: GPUBuffer;
  report?: GPUBuffer;
}

/** A continuous normalizing flow on an MLP vector field (see the file header). */
export class CNF {
  /** The vector field f(t, z; θ): its parameters are the flow's θ, its state dimension is D. */
  readonly f: MLP;
  /** Time of the data. Default 0. */
  readonly t0: number;
  /** Time of the base distribution N(0, I). Default 1. */
  readonly t1: number;
  /** How dl/dt = tr(∂f/∂z) is computed: `'exact'` (D sweeps) or `'hutchinson'` (one, with ε). Default `'exact'`. */
  readonly trace: TraceKind;
  /** Regulariser weights (0: not carried). */
  readonly weights: {
    /** Weight of the kinetic-energy regulariser ∫‖f‖² dt (≥ 0). Default 0. */
    readonly kinetic: number;
    /** Weight of the Jacobian regulariser ∫‖∂f/∂z‖²_F dt, or its Hutchinson estimate ∫‖(∂f/∂z)ε‖² dt (≥ 0). Default 0. */
    readonly jacobian: number;
  };
  /** The compile-time spec of the augmented field. */
  readonly field: CnfFieldSpec;
  private nextSeed: number;

  constructor(f: MLP, options: CNFOptions = {}) {
    if (!(f instanceof MLP)) throw new ArgumentError('f', f, 'an MLP');
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    if (!flowActivationOk(f)) {
      throw new ArgumentError('f.activation', f.activation, 'an activation with a smooth second derivative for a flow (tanh, softplus, sigmoid, silu, identity)');
    }
    const t0 = options.t0 ?? 0;
    const t1 = options.t1 ?? 1;
    if (typeof t0 !== 'number' || !Number.isFinite(t0)) throw new ArgumentError('options.t0', t0, 'a finite time');
    if (typeof t1 !== 'number' || !Number.isFinite(t1) || Math.fround(t1) === Math.fround(t0)) {
      throw new ArgumentError('options.t1', t1, 'a finite time other than t0 (distinct in float32)');
    }
    const trace = options.trace ?? 'exact';
    if (trace !== 'exact' && trace !== 'hutchinson') throw new ArgumentError('options.trace', trace, "'exact' or 'hutchinson'");
    const weight = (name: 'kinetic' | 'jacobian'): number => {
      const w = options[name] ?? 0;
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new ArgumentError(`options.${name}`, w, 'a finite weight ≥ 0');
      return w;
    };
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new ArgumentError('options.seed', seed, 'an integer');
    this.f = f;
    this.t0 = t0;
    this.t1 = t1;
    this.trace = trace;
    this.weights = { kinetic: weight('kinetic'), jacobian: weight('jacobian') };
    this.field = { mlp: f.spec, trace, kinetic: this.weights.kinetic > 0, jacobian: this.weights.jacobian > 0 };
    // The largest function a flow generates: its field (forward) or that field's VJP (backward).
    const floats = Math.max(cnfFieldFloats(f.spec), cnfVjpFloats(f.spec));
    if (floats > WGSL_FUNCTION_FLOATS) {
      throw new ArgumentError('f.layers', f.layers, `hidden widths whose flow kernels fit WGSL's function memory (7·Σ hidden + 4·D ≤ ${WGSL_FUNCTION_FLOATS} floats; these need ${floats})`);
    }
    this.nextSeed = seed;
  }

  /** State dimension D. */
  get dim(): number {
    return this.f.stateDim;
  }

  /**
   * log p(x) of every row of `x` ([B][D]): integrates the augmented state from
   * t0 to t1 on the GPU (one host wait; none when deferred). Rejects with
   * `OdeSolveError` on a numerical failure (per sample, with the time reached)
   * and with `ArgumentError` on bad input before any GPU work.
   */
  async logProb(x: ArrayLike<number> | Tensor, options: LogProbOptions = {}): Promise<FlowDensity> {
    const p = this.problem('x', x, options, 'density');
    return (await this.run(p)) as FlowDensity;
  }

  /**
   * Samples: maps base points z1 ([N][D], or `{ count, seed }` to draw them
   * from N(0, I) with a seeded generator) from t1 back to t0, with their log p
   * (log N(z1) − ∫_{t1}^{t0} tr dt).
   */
  async sample(z1: ArrayLike<number> | Tensor | { count: number; seed?: number }, options: SampleOptions = {}): Promise<FlowSamples> {
    let points: ArrayLike<number> | Tensor;
    if (z1 && typeof z1 === 'object' && 'count' in z1 && !(z1 instanceof Tensor)) {
      const { count, seed = 0 } = z1;
      if (!Number.isInteger(count) || count < 1) throw new ArgumentError('z1.count', count, 'an integer ≥ 1');
      if (!Number.isInteger(seed)) throw new ArgumentError('z1.seed', seed, 'an integer');
      points = drawNoise(count * this.dim, seed, 'gaussian');
    } else {
      points = z1 as ArrayLike<number> | Tensor;
    }
    const p = this.problem('z1', points, options, 'samples');
    return (await this.run(p)) as FlowSamples;
  }

  /** Validates a call (before any GPU work). */
  private problem(argument: string, points: ArrayLike<number> | Tensor, options: LogProbOptions, kind: 'density' | 'samples'): FlowProblem {
    const f = this.f;
    const rt = f.runtime;
    rt.check();
    if (f.isDestroyed) throw new DestroyedError('MLP');
    const D = this.dim;
    const B = checkRows(argument, points, D, rt);
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    const { noise, seed, noiseKind, ...solveOptions } = options;
    const sweeps = this.trace === 'exact' ? D + 1 : 2;
    const { tableau, ...opts } = resolveOptions(solveOptions, { batch: B, flopsPerEvaluation: sweeps * mlpFlops(f.spec), adapter: rt.adapterKind });
    if (opts.kernel === 'lanes') throw new ArgumentError('options.kernel', opts.kernel, "'invocation' or unset: flows integrate one sample per invocation");
    if (opts.stepControl === 'batch') throw new ArgumentError('options.stepControl', opts.stepControl, "'per-sample' for flows");
    const kindOfNoise = noiseKind ?? 'rademacher';
    if (kindOfNoise !== 'rademacher' && kindOfNoise !== 'gaussian') throw new ArgumentError('options.noiseKind', noiseKind, "'rademacher' or 'gaussian'");
    if (seed !== undefined && !Number.isInteger(seed)) throw new ArgumentError('options.seed', seed, 'an integer');
    // Noise is checked whatever the trace (so one call site serves both), and used by Hutchinson's.
    if (noise !== undefined) {
      const n = checkRows('options.noise', noise, D, rt);
      if (n !== B) throw new ArgumentError('options.noise', noise, `${B}×${D} values (one ε per sample)`);
    }
    let eps: ArrayLike<number> | Tensor | null = null;
    if (this.trace === 'hutchinson') eps = noise ?? drawNoise(B * D, seed ?? this.nextSeed++, kindOfNoise);
    checkDispatch(rt, argument, points, B, INTEGRATE_WORKGROUP);
    const NA = cnfStateWidth(this.field);
    const maxBinding = rt.limits.maxStorageBufferBindingSize;
    const bytes = 2 * B * NA * 4;
    if (bytes > maxBinding) {
      throw new ArgumentError(argument, points, `a batch whose augmented outputs (${bytes} bytes) fit the adapter's maxStorageBufferBindingSize of ${maxBinding} bytes; split the batch`);
    }
    const times = kind === 'density' ? [this.t0, this.t1] : [this.t1, this.t0];
    return { flow: this, rt, points, eps, B, D, NA, opts: { ...opts, kernel: 'invocation' }, tableau, times, kind };
  }

  /** Records (and, unless deferred, runs to completion) one flow solve. */
  private async run(p: FlowProblem): Promise<FlowSolve> {
    const { rt, B, D, NA } = p;
    const before = { ...rt.counters };
    const scratch: GPUBuffer[] = [];
    const owned: Tensor[] = [];
    const temps: Tensor[] = [];
    const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
      const b = rt.createBuffer(label, bytes, usage);
      scratch.push(b);
      return b;
    };
    const tensor = (t: Tensor) => {
      owned.push(t);
      return t;
    };
    let samples: GPUBuffer | null = null;
    let result: FlowSolve;
    try {
      const device = rt.device;
      const upload = (label: string, data: ArrayLike<number> | Tensor, shape: number[]): GPUBuffer =>
        {
        if (data instanceof Tensor) return data.buffer;
        const t = Tensor.fromArray(rt, data, shape, label);
        temps.push(t);
        return t.buffer;
      };
      const xBuf = upload('flow points', p.points, [B, D]);
      const noise = p.eps ? (p.eps instanceof Tensor ? p.eps : tensor(Tensor.fromArray(rt, p.eps, [B, D], 'flow noise'))) : null;
      const ends = tensor(Tensor.zeros(rt, [B, D], p.kind === 'density' ? 'flow z(t1)' : 'flow samples'));
      const logp = tensor(Tensor.zeros(rt, [B], 'flow log p'));
      const kin = p.flow.field.kinetic ? tensor(Tensor.zeros(rt, [B], 'flow kinetic')) : null;
      const jac = p.flow.field.jacobian ? tensor(Tensor.zeros(rt, [B], 'flow jacobian')) : null;
      // Stand-ins for bindings a flow does not use (writable ones may not alias).
      const dummy = make('flow unused', 16, GPUBufferUsage.STORAGE);
      const dummyKin = kin ? null : make('flow unused kinetic', 16, GPUBufferUsage.STORAGE);
      const dummyJac = jac ? null : make('flow unused jacobian', 16, GPUBufferUsage.STORAGE);
      samples = rt.createBuffer('flow samples state', B * SAMPLE.stride, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const params = { ...solverValues(p.opts, 2, Math.sign(p.times[1] - p.times[0])), batch: B, t0: p.times[0], t_end: p.times[1] };
      const uniform = make('flow params', PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(uniform, 0, PARAMS.pack(params));
      const tout = make('flow times', 8, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(tout, 0, Float32Array.from(p.times));
      const aug0 = make('flow augmented y0', B * NA * 4, TENSOR_USAGE);
      // Kept with the result: the adjoint lands on it at t1 and t0.
      const aug = tensor(Tensor.zeros(rt, [2, B, NA], 'flow augmented outputs'));
      const out = aug.buffer;
      const ycur = make('flow y current', B * NA * 4, GPUBufferUsage.STORAGE);
      const kbuf = make('flow stages', B * NA * 4, GPUBufferUsage.STORAGE);
      const densityUniform = make('flow density params', DENSITY_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const rows = p.kind === 'density' ? { base_row: 1, end_row: 1, sign: 1 } : { base_row: 0, end_row: 1, sign: -1 };
      device.queue.writeBuffer(densityUniform, 0, DENSITY_PARAMS.pack({ batch: B, ...rows }));
      const density = rt.kernel(cnfDensityKernel, p.flow.field).bind(
        { P: densityUniform, x: xBuf, aug0, out, z: ends.buffer, logp: logp.buffer, kin: kin?.buffer ?? dummyKin!, jac: jac?.buffer ?? dummyJac! },
        'flow density bind group',
      );
      const submitOne = (label: string, entry: 'augment' | 'density') => {
        const enc = device.createCommandEncoder({ label });
        const pass = enc.beginComputePass({ label });
        density.dispatch(pass, entry, densityWorkgroups(B));
        pass.end();
        rt.submit([enc.finish()]);
      };
      submitOne('flow augment', 'augment');
      const all = { P: uniform, theta: p.flow.f.params.buffer, y0: aug0, tout, out, samples, ycur, kbuf, noise: noise?.buffer ?? dummy };
      const kernel = rt.kernel(cnfIntegrateKernel, { field: p.flow.field, tableau: p.tableau });
      const scaled = scaledBinds(
        rt,
        'flow integrate',
        () => kernel.bind(all, 'flow integrate bind group'),
        (P, label) => kernel.bind({ ...all, P }, label),
        (scale) => PARAMS.pack({ ...params, steps_per_dispatch: scale * p.opts.stepsPerDispatch }),
        make,
      );
      const drive: DriveSpec = {
        label: `flow ${p.tableau.name}`,
        batch: B,
        samples,
        workgroups: integrateWorkgroups(B),
        record: (pass, units, indirect, scale = 1) => {
          const k = scaled(scale);
          for (let i = 0; i < units; i++) k.dispatchIndirect(pass, 'integrate', indirect, 0);
        },
        maxScale: p.opts.dispatchGrowth,
      };
      const Made = p.kind === 'density' ? FlowDensity : FlowSamples;
      const init = { rt, flow: p.flow, times: p.times, tableau: p.tableau, aug, ends, logp, reg: { kinetic: kin, jacobian: jac }, noise: p.eps instanceof Tensor ? null : noise, batch: B, options: p.opts, samples };
      if (p.opts.deferred) {
        const report = createReport(rt, 'flow report');
        try {
          driveDeferred(rt, drive, deferredUnits({ ...p.opts, tableau: p.tableau }, p.times), report);
          submitOne('flow density', 'density');
        } catch (e) {
          rt.destroyBuffer(report);
          throw e;
        }
        result = new Made({ ...init, summary: { nfe: NaN, maxNfe: NaN, accepted: NaN, rejected: NaN, ...countersSince(rt, before) }, report });
        return result;
      }
      const totals: SummaryValues = await driveInRounds(rt, drive);
      submitOne('flow density', 'density');
      result = new Made({ ...init, summary: { ...reportCounts(totals), ...countersSince(rt, before) } });
      if (totals.failed > 0) throw new OdeSolveError(failuresOf(await result.stats(), { unfinished: false }), result, B);
      return result;
    } catch (e) {
      // A failed solve hands its outputs to the OdeSolveError; anything else frees them.
      if (!(e instanceof OdeSolveError)) {
        for (const t of owned) t.destroy();
        if (samples) rt.destroyBuffer(samples);
      }
      throw e;
    } finally {
      for (const b of scratch) rt.destroyBuffer(b);
      for (const t of temps) t.destroy();
    }
  }
}

interface FlowProblem {
  readonly flow: CNF;
  readonly rt: Runtime;
  readonly points: ArrayLike<number> | Tensor;
  readonly eps: ArrayLike<number> | Tensor | null;
  readonly B: number;
  readonly D: number;
  readonly NA: number;
  readonly opts: ResolvedOdeintOptions;
  readonly tableau: ReturnType<typeof resolveOptions>['tableau'];
  readonly times: readonly number[];
  readonly kind: 'density' | 'samples';
}

/** Rows of a [B][D] argument (throws ArgumentError). */
function checkRows(argument: string, v: ArrayLike<number> | Tensor, D: number, rt: Runtime): number {
  const n = v instanceof Tensor ? v.size : v && typeof (v as ArrayLike<number>).length === 'number' ? (v as ArrayLike<number>).length : -1;
  if (n <= 0 || n % D !== 0) throw new ArgumentError(argument, v, `a non-empty array whose length is a multiple of the state dimension ${D}`);
  if (v instanceof Tensor) {
    v.checkUsableOn(rt, argument);
  } else {
    for (let i = 0; i < n; i++) if (typeof v[i] !== 'number') throw new ArgumentError(`${argument}[${i}]`, v[i], 'a number');
  }
  return n / D;
}

/** n values of seeded noise: Rademacher ±1, or standard normal (Box–Muller on mulberry32). */
export function drawNoise(n: number, seed: number, kind: NoiseKind): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(n);
  if (kind === 'rademacher') {
    for (let i = 0; i < n; i++) out[i] = rng() < 0.5 ? -1 : 1;
    return out;
  }
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng();
    const u2 = rng();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
