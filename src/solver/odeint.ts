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
import { ArgumentError, OdeSolveError } from '../errors';
import type { MLP } from '../field/mlp';
import {
  INTEGRATE_WORKGROUP,
  kSlots,
  PARAMS,
  type ParamsValues,
  SAMPLE,
  integrateKernel,
  integrateWorkgroups,
} from '../kernels/integrate';
import { INTEGRATE_LANES, integrateLanesFit, integrateLanesKernel, integrateLanesWorkgroups, laneWorkgroup, lanesMinBatch } from '../kernels/integrate-lanes';
import type { Tableau } from '../methods/tableau';
import { mlpFlops } from '../mlp/mlp';
import type { AdapterKind, Runtime } from '../runtime/runtime';
import { TENSOR_USAGE, Tensor } from '../runtime/tensor';
import {
  type DriveSpec,
  createReport,
  driveDeferred,
  driveInRounds,
  driveToCompletion,
  reportCounts,
  scaledBinds,
} from './driver';
import {
  type IntegrateKernel,
  type OdeintOptions,
  type ResolvedOdeintOptions,
  checkDispatch,
  deferredUnits,
  integrationDirection,
  isPerSampleTimes,
  resolveOptions,
  solverValues,
  validateSampleTimes,
  validateTimes,
} from './options';
import { Solution, type SolveSummary, countersSince } from './solution';
import { failuresOf } from './status';

/**
 * Integrates dz/dt = f(t, z) from `t[0]` through every output time, for every
 * sample of the batch, on the GPU. Each sample takes its own adaptive steps.
 *
 * @param f  the vector field (an `MLP`)
 * @param y0 initial states: B×D float32 values (B inferred), or a GPU `Tensor`
 * @param t  strictly monotonic output times (increasing or decreasing), T ≥ 1,
 *   shared by the batch; or per sample, B rows of T times (`number[][]` or
 *   `Float32Array[]`), all in the same direction, sample b starting at
 *   `t[b][0]` and its output i at `t[b][i]` (one-sample kernel, per-sample
 *   step control), or a `Tensor` of shape [B, T] (read to the host first to
 *   be checked: one host wait more)
 * @returns the `Solution` once every sample has finished; rejects with
 *   `OdeSolveError` (failing samples, times reached, the partial solution)
 *   on a numerical failure, and with `ArgumentError` on bad input before any GPU work.
 */
export async function odeint(
  f: MLP,
  y0: ArrayLike<number> | Tensor,
  t: ArrayLike<number> | readonly ArrayLike<number>[] | Tensor,
  options: OdeintOptions = {},
): Promise<Solution> {
  if (!f || typeof f !== 'object' || !('spec' in f)) throw new ArgumentError('f', f, 'an MLP');
  const rt = f.runtime;
  // Counted from here: a Tensor of times is read first.
  const before = { ...rt.counters };
  const problem = checkProblem(f, y0, t instanceof Tensor ? await timesTensorRows(f, t) : t, options);
  const scratch: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(label, bytes, usage);
    scratch.push(b);
    return b;
  };
  let kept: Bound | null = null;
  try {
    kept = allocate(problem, make);
    const drive = integration(problem, kept, make);
    const made = (summary: SolveSummary, report?: GPUBuffer) =>
      new Solution({ y: kept!.y, samples: kept!.samples, t: problem.times, sampleTimes: problem.sampleTimes, batch: problem.B, dim: problem.D, f, options: problem.opts, summary, report });
    if (problem.opts.deferred) return startDeferred(problem, drive, before, made);
    return await solveWaiting(problem, drive, before, made);
  } catch (e) {
    // A failed solve hands its outputs to the OdeSolveError's partial solution; anything else frees them.
    if (!(e instanceof OdeSolveError) && kept) {
      kept.y.destroy();
      rt.destroyBuffer(kept.samples);
    }
    throw e;
  } finally {
    for (const b of scratch) rt.destroyBuffer(b);
  }
}

/**
 * Per-sample times given as a Tensor [B, T]: its shape checked, then its
 * values read to the host (one host wait), where they are checked as rows.
 */
async function timesTensorRows(f: MLP, t: Tensor): Promise<Float32Array[]> {
  if (t.shape.length !== 2 || t.shape[0] < 1 || t.shape[1] < 1) {
    throw new ArgumentError('t', t, `a Tensor of shape [B, T] (one row of output times per sample), got shape [${t.shape.join(', ')}]`);
  }
  f.runtime.check();
  t.checkUsableOn(f.runtime, 't');
  const [B, T] = t.shape;
  const values = await t.read();
  return Array.from({ length: B }, (_, b) => values.subarray(b * T, (b + 1) * T));
}

/** A problem checked before any GPU work. */
interface Problem {
  readonly f: MLP;
  readonly rt: Runtime;
  readonly y0: ArrayLike<number> | Tensor;
  readonly B: number;
  readonly D: number;
  /** The output times (T): the shared ones, or sample 0's with per-sample times. */
  readonly times: Float64Array;
  /** Per-sample output times ([B] rows of T), or null when the batch shares `times`. */
  readonly sampleTimes: readonly Float64Array[] | null;
  readonly opts: ResolvedOdeintOptions;
  readonly tableau: Tableau;
  readonly batchMode: boolean;
  /** Bytes of the stage buffer: f at the current point per sample; batch mode keeps every stage and y_{n+1}. */
  readonly stageBytes: number;
  /** The kernel's uniform at the usual step attempts per dispatch. */
  readonly params: ParamsValues;
}

/** Validates every argument and every buffer size of the solve; throws ArgumentError naming what is wrong. */
function checkProblem(
  f: MLP,
  y0: ArrayLike<number> | Tensor,
  t: ArrayLike<number> | readonly ArrayLike<number>[],
  options: OdeintOptions,
): Problem {
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
  const sampleTimes = isPerSampleTimes(t) ? validateSampleTimes(t, B) : null;
  const times = sampleTimes ? sampleTimes[0] : validateTimes(t as ArrayLike<number>);
  const T = times.length;
  const { tableau, ...asked } = resolveOptions(options, { batch: B, flopsPerEvaluation: mlpFlops(f.spec), adapter: rt.adapterKind });
  if (sampleTimes) checkSampleTimesOptions(asked);
  const opts: ResolvedOdeintOptions = { ...asked, kernel: sampleTimes ? 'invocation' : integrateKernelKind(f.spec, tableau, B, asked, rt.adapterKind) };
  if (y0 instanceof Tensor) y0.checkUsableOn(rt, 'y0');
  checkDispatch(rt, 'y0', y0, B, opts.kernel === 'lanes' ? INTEGRATE_LANES * laneWorkgroup(rt.adapterKind, B) : INTEGRATE_WORKGROUP);
  const batchMode = opts.stepControl === 'batch';
  const stageBytes = B * D * 4 * (batchMode ? kSlots(tableau) + 1 : 1);
  // Every buffer of the solve must fit one binding: check them all before allocating any.
  const maxBinding = rt.limits.maxStorageBufferBindingSize;
  const sizes: [string, number][] = [
    ['outputs (T·B·D·4)', T * B * D * 4],
    ['output times (B·T·4)', sampleTimes ? B * T * 4 : 0],
    ['per-sample solver state', (B + 2) * SAMPLE.stride],
    ['stage buffer', stageBytes],
  ];
  for (const [what, bytes] of sizes) {
    if (bytes > maxBinding) {
      throw new ArgumentError(
        'y0',
        y0,
        `a batch whose ${what} of ${bytes} bytes fits the adapter's maxStorageBufferBindingSize of ${maxBinding} bytes; split the batch`,
      );
    }
  }
  const params: ParamsValues = {
    ...solverValues(opts, T, integrationDirection(times, 'forward')),
    batch: B,
    t0: times[0],
    t_end: times[T - 1],
  };
  return { f, rt, y0, B, D, times, sampleTimes, opts, tableau, batchMode, stageBytes, params };
}

/**
 * Options that cannot go with per-sample times: batch-shared step control
 * (one shared step cannot land on every sample's own times) and the lane
 * kernel (it reads shared times). Fixed-step methods always step per sample.
 */
function checkSampleTimesOptions(opts: ResolvedOdeintOptions): void {
  if (opts.stepControl === 'batch') {
    throw new ArgumentError('options.stepControl', opts.stepControl, "'per-sample' with per-sample output times (samples with different times cannot share steps)");
  }
  if (opts.kernel === 'lanes') {
    throw new ArgumentError('options.kernel', opts.kernel, "'invocation' or unset with per-sample output times");
  }
}

/**
 * The integration kernel of a solve: the option; else 'lanes' where the MLP
 * fits the lane kernel from `lanesMinBatch(adapter)` samples — 64 on a CPU
 * adapter (measured faster from there: INTEGRATE_LANES_MIN_BATCH), 65,536
 * on a GPU (so that B/4 invocations still fill it:
 * INTEGRATE_LANES_MIN_BATCH_GPU) — 'invocation' below or where it does not
 * fit. Batch step control always uses the one-sample kernel's batch entry
 * points.
 */
export function integrateKernelKind(
  spec: MLP['spec'],
  tableau: Tableau,
  batch: number,
  opts: ResolvedOdeintOptions,
  adapter: AdapterKind,
): IntegrateKernel {
  if (opts.stepControl === 'batch') return 'invocation';
  if (opts.kernel === undefined) return batch >= lanesMinBatch(adapter) && integrateLanesFit(spec, tableau) ? 'lanes' : 'invocation';
  const kind = opts.kernel;
  if (kind === 'lanes' && !integrateLanesFit(spec, tableau)) {
    throw new ArgumentError('options.kernel', kind, "'invocation' for this MLP (its 4-lane arrays exceed WGSL's 8 KiB of function memory)");
  }
  return kind;
}

/** The buffers of a solve the Solution keeps: the outputs and the per-sample state. */
interface SolveBuffers {
  readonly y: Tensor;
  readonly samples: GPUBuffer;
}

/** The kernel's buffers of one solve, by binding name. */
interface Bound extends SolveBuffers {
  readonly all: Readonly<Record<'P' | 'theta' | 'y0' | 'tout' | 'out' | 'samples' | 'ycur' | 'kbuf', GPUBuffer>>;
}

/**
 * Allocates and fills the solve's buffers: the Solution's (outputs; per-sample
 * state, with the shared controller state and its last decision after the
 * samples in batch mode) and scratch made by `make`, freed when the solve ends.
 */
function allocate(p: Problem, make: (label: string, bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer): Bound {
  const { rt, B, D, times } = p;
  const device = rt.device;
  const T = times.length;
  const y = Tensor.zeros(rt, [T, B, D], 'solution y');
  let samples: GPUBuffer | null = null;
  try {
    samples = rt.createBuffer('solve samples', (B + (p.batchMode ? 2 : 0)) * SAMPLE.stride, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const uniform = make('solve params', PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, PARAMS.pack(p.params));
    const tout = make('solve output times', (p.sampleTimes ? B : 1) * T * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const toutValues = new Float32Array((p.sampleTimes ? B : 1) * T);
    if (p.sampleTimes) p.sampleTimes.forEach((row, b) => toutValues.set(row, b * T));
    else toutValues.set(times);
    device.queue.writeBuffer(tout, 0, toutValues);
    let y0Buffer: GPUBuffer;
    if (p.y0 instanceof Tensor) {
      y0Buffer = p.y0.buffer;
    } else {
      y0Buffer = make('solve y0', B * D * 4, TENSOR_USAGE);
      const f32 = p.y0 instanceof Float32Array ? p.y0 : Float32Array.from(p.y0);
      device.queue.writeBuffer(y0Buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    }
    const ycur = make('solve y current', B * D * 4, GPUBufferUsage.STORAGE);
    const kbuf = make('solve stages', p.stageBytes, GPUBufferUsage.STORAGE);
    return { y, samples, all: { P: uniform, theta: p.f.params.buffer, y0: y0Buffer, tout, out: y.buffer, samples, ycur, kbuf } };
  } catch (e) {
    y.destroy();
    if (samples) rt.destroyBuffer(samples);
    throw e;
  }
}

/**
 * How the driver records the solve. A unit of work: per-sample mode, one
 * dispatch advancing every running sample by up to stepsPerDispatch attempts
 * (a multiple of it in growing dispatches, each scale with a uniform of its
 * own); batch mode, one shared attempt (three dispatches), after the
 * start-up pair in the first chunk.
 */
function integration(p: Problem, bound: Bound, make: (label: string, bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer): DriveSpec {
  const { rt, tableau } = p;
  const spec = p.sampleTimes ? { mlp: p.f.spec, tableau, perSampleTimes: true } : { mlp: p.f.spec, tableau };
  if (p.opts.kernel === 'lanes') return laneIntegration(p, bound, make);
  const kernel = rt.kernel(integrateKernel, spec);
  const workgroups = integrateWorkgroups(p.B);
  const scaled = scaledBinds(
    rt,
    'integrate',
    () => kernel.bind(bound.all, 'integrate bind group'),
    (P, label) => kernel.bind({ ...bound.all, P }, label),
    (scale) => PARAMS.pack({ ...p.params, steps_per_dispatch: scale * p.opts.stepsPerDispatch }),
    make,
  );
  let started = false;
  const record = (pass: GPUComputePassEncoder, units: number, indirect: GPUBuffer, scale = 1): void => {
    if (!p.batchMode) {
      const k = scaled(scale);
      for (let i = 0; i < units; i++) k.dispatchIndirect(pass, 'integrate', indirect, 0);
      return;
    }
    // Batch mode has no growing dispatches: its kernel is bound at scale 1.
    const integrate = scaled(1);
    if (!started) {
      integrate.dispatch(pass, 'batch_init', workgroups);
      integrate.dispatch(pass, 'batch_control', 1);
      started = true;
    }
    for (let i = 0; i < units; i++) {
      integrate.dispatchIndirect(pass, 'batch_attempt', indirect, 0);
      integrate.dispatch(pass, 'batch_control', 1);
      integrate.dispatchIndirect(pass, 'batch_commit', indirect, 0);
    }
  };
  return {
    label: `odeint ${tableau.name}`,
    batch: p.B,
    samples: bound.samples,
    workgroups,
    record,
    maxScale: p.batchMode ? 1 : p.opts.dispatchGrowth,
    attemptsPerUnit: p.batchMode ? undefined : p.opts.stepsPerDispatch,
  };
}

/** How the driver records a solve on the lane kernel (per-sample step control): as the one-sample kernel's, four samples per invocation. */
function laneIntegration(p: Problem, bound: Bound, make: (label: string, bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer): DriveSpec {
  const { rt, tableau } = p;
  const workgroup = laneWorkgroup(rt.adapterKind, p.B);
  const kernel = rt.kernel(integrateLanesKernel, { mlp: p.f.spec, tableau, workgroup });
  const scaled = scaledBinds(
    rt,
    'integrate lanes',
    () => kernel.bind(bound.all, 'integrate lanes bind group'),
    (P, label) => kernel.bind({ ...bound.all, P }, label),
    (scale) => PARAMS.pack({ ...p.params, steps_per_dispatch: scale * p.opts.stepsPerDispatch }),
    make,
  );
  return {
    label: `odeint ${tableau.name} lanes`,
    batch: p.B,
    samples: bound.samples,
    workgroups: integrateLanesWorkgroups(p.B, workgroup),
    record: (pass, units, indirect, scale = 1) => {
      const k = scaled(scale);
      for (let i = 0; i < units; i++) k.dispatchIndirect(pass, 'integrate', indirect, 0);
    },
    maxScale: p.opts.dispatchGrowth,
    attemptsPerUnit: p.opts.stepsPerDispatch,
  };
}

type MakeSolution = (summary: SolveSummary, report?: GPUBuffer) => Solution;

/** A deferred solve: records its dispatch budget and returns at once; the Solution owns the report. */
function startDeferred(p: Problem, drive: DriveSpec, before: Runtime['counters'], made: MakeSolution): Solution {
  const report = createReport(p.rt, 'solve report');
  try {
    const units = (times: Float64Array) => deferredUnits({ ...p.opts, tableau: p.tableau }, times);
    driveDeferred(p.rt, drive, Math.max(...(p.sampleTimes ?? [p.times]).map(units)), report);
  } catch (e) {
    p.rt.destroyBuffer(report);
    throw e;
  }
  return made({ nfe: NaN, maxNfe: NaN, accepted: NaN, rejected: NaN, ...countersSince(p.rt, before) }, report);
}

/** A solve that waits: runs to completion, then throws OdeSolveError (with the Solution) if a sample failed. */
async function solveWaiting(p: Problem, drive: DriveSpec, before: Runtime['counters'], made: MakeSolution): Promise<Solution> {
  const totals = p.batchMode ? await driveToCompletion(p.rt, drive) : await driveInRounds(p.rt, drive);
  const solution = made({ ...reportCounts(totals), ...countersSince(p.rt, before) });
  if (totals.failed > 0) throw new OdeSolveError(failuresOf(await solution.stats(), { unfinished: false }), solution, p.B);
  return solution;
}
