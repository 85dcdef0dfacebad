/**
 * `sol.backward(dLdy)`: gradients of a loss through a solve, entirely on the
 * GPU. This module validates the request and builds the continuous-adjoint
 * kernel; `mode: 'backprop'` builds the discrete one (./backprop.ts); both
 * run through the shared chunked runner (./gradients.ts).
 *
 * The adjoint: every sample integrates [z, a] backwards with its own adaptive
 * steps, one sample per invocation (adjoint.wgsl, its parameter
 * adjoint in a row of its own) or four in lockstep lanes sharing one row
 * (adjoint-lanes.wgsl, the default where it fits); a deterministic
 * reduction sums the rows into dL/dθ. GPU memory is independent of the
 * number of steps.
 */
import { ADJOINT_PARAMS, ADJOINT_WORKGROUP, adjointKernel as adjointDefinition, adjointRows } from '../kernels/adjoint';
import { ADJOINT_LANES, LANES_MIN_BATCH, adjointLanesFit, adjointLanesKernel, laneRows } from '../kernels/adjoint-lanes';
import { laneWorkgroup } from '../kernels/integrate-lanes';
import { WORKGROUP_MAX_BATCH, WORKGROUP_MIN_PARAMS, adjointWorkgroupFits, adjointWorkgroupKernel } from '../kernels/adjoint-workgroup';
import { mlpFlops, mlpOffsets, stateDim } from '../mlp/mlp';
import { backpropKernel } from './backprop';
import { ArgumentError, DestroyedError } from '../errors';
import type { Gradients } from './gradients';
import { DEFAULT_GRADIENT_BUDGET, type GradientKernel, chunkSize, runGradients } from './runner';
import { type ReverseSolveOptions, deferredUnits, integrationDirection, resolveOptions, reverseSolveOptions, solverValues } from '../solver/options';
import { type Solution, provideGradientSolve } from '../solver/solution';
import { getTableau } from '../methods/tableau';
import { Tensor, checkGivenValues } from '../runtime/tensor';

/** Options of `solution.backward`. Defaults come from the forward solve. */
export interface BackwardOptions extends ReverseSolveOptions {
  /**
   * `'adjoint'` (default): the continuous adjoint, memory independent of the
   * number of steps. `'backprop'`: exact reverse-mode gradients of the forward
   * discretisation (its own steps, taken as constants), with checkpointing so
   * memory grows as √steps; method, tolerances and step sizes are the forward
   * solve's (setting them is an error).
   */
  mode?: 'adjoint' | 'backprop';
  /**
   * Return without any host wait (adjoint mode only; default false): the
   * gradient solve records a fixed dispatch budget and reads nothing back, as
   * `OdeintOptions.deferred` describes; `await g.check()` reads its outcome.
   * The gradients can feed an optimizer at once. The check covers the
   * gradient solve only: a deferred forward solve needs its own `sol.check()`
   * (a gradient solve that waits checks it first).
   */
  deferred?: boolean;
  /**
   * How the adjoint kernel maps samples to the GPU (adjoint mode only; same
   * mathematics and step-size decisions, float32 rounding differs):
   * `'workgroup'` gives each sample a workgroup whose invocations share every
   * MLP evaluation (the default for 1 or 2 samples of an MLP with at least
   * 1,024 parameters, where it fits);
   * `'lanes'` steps four samples per invocation in lockstep as the lanes of
   * vec4 values, each with its own step size, so every parameter loaded
   * serves four samples and the four share one parameter-adjoint row (the
   * default from 8 samples, where it fits); `'invocation'` gives every sample
   * an invocation of its own (any MLP). The README lists which MLPs fit.
   */
  kernel?: AdjointKernel;
  /**
   * Bytes the per-sample gradient memory (a row of P floats per sample, plus a
   * few state vectors; in backprop mode also the checkpoint tape) may take
   * before the batch is processed in chunks of samples. Default: 256 MiB.
   */
  memoryBudget?: number;
  /**
   * Compute dL/dt at the output times (`g.t`; default true): one MLP
   * evaluation per output and sample after the reverse solve, and a
   * reduction over the batch. false skips both (training loops need only
   * dL/dy0 and dL/dθ); `g.t` then throws `ArgumentError`.
   */
  timeGradient?: boolean;
}

/** The adjoint kernels (see `BackwardOptions.kernel`). */
export type AdjointKernel = 'workgroup' | 'lanes' | 'invocation';


/**
 * The gradient solve behind `Solution.backward`: dLdy holds ∂L/∂y for every
 * output, [T][B][D]. Rejects with `OdeSolveError` (global sample indices) on
 * a numerical failure and with `ArgumentError` on bad input before GPU work.
 */
export async function backward(
  sol: Solution,
  dLdy: ArrayLike<number> | Tensor,
  options: BackwardOptions = {},
): Promise<Gradients> {
  if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
  const f = sol.f;
  const rt = f.runtime;
  rt.check();
  if (sol.y.isDestroyed) throw new DestroyedError('Solution');
  const { batch: B, dim: D } = sol;
  const T = sol.t.length;
  const n = T * B * D;
  checkGivenValues(rt, 'dLdy', dLdy, n, `${n} values: ∂L/∂y for every output, shape [T=${T}][B=${B}][D=${D}]`);
  const mode = options.mode ?? 'adjoint';
  if (mode !== 'adjoint' && mode !== 'backprop') throw new ArgumentError('options.mode', mode, "'adjoint' or 'backprop'");
  const timeGradient = options.timeGradient ?? true;
  if (typeof timeGradient !== 'boolean') throw new ArgumentError('options.timeGradient', timeGradient, 'true or false');
  const budget = options.memoryBudget ?? Math.min(DEFAULT_GRADIENT_BUDGET, rt.limits.maxStorageBufferBindingSize);
  if (!(typeof budget === 'number' && budget > 0 && Number.isFinite(budget))) {
    throw new ArgumentError('options.memoryBudget', budget, 'a positive number of bytes');
  }
  if (mode === 'backprop' && options.kernel !== undefined) {
    throw new ArgumentError('options.kernel', options.kernel, "unset in mode 'backprop'");
  }
  if (mode === 'backprop' && (options.deferred === true || options.dispatchBudget !== undefined)) {
    throw new ArgumentError(
      options.deferred === true ? 'options.deferred' : 'options.dispatchBudget',
      options.deferred ?? options.dispatchBudget,
      "unset in mode 'backprop' (it sizes its checkpoint tape from the forward solve's step counts, read back)",
    );
  }
  // A gradient solve that waits first makes sure a deferred forward solve succeeded;
  // a deferred one leaves that to sol.check().
  if (sol.deferred && !(mode === 'adjoint' && options.deferred === true)) await sol.check();
  const solver = mode === 'adjoint' ? adjointKernel(sol, options) : await backpropKernel(sol, options, budget);
  const kernel = timeGradient ? solver : { ...solver, noTimeGradient: true };
  const chunk = chunkSize(rt, kernel, B, f.parameterCount, budget);

  let owned: GPUBuffer | null = null;
  let cot: GPUBuffer;
  if (dLdy instanceof Tensor) {
    cot = dLdy.buffer;
  } else {
    owned = rt.createBuffer('gradient cotangents', n * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const f32 = dLdy instanceof Float32Array ? dLdy : Float32Array.from(dLdy);
    rt.device.queue.writeBuffer(owned, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    cot = owned;
  }
  try {
    return await runGradients(sol, cot, kernel, chunk, kernel.deferredUnits ?? 0);
  } finally {
    if (owned) rt.destroyBuffer(owned);
  }
}

/**
 * Step attempts per sample the reverse solve of `sol` is expected to need
 * at most, which sizes its first round of dispatches: twice the forward
 * solve's (its largest evaluation count over the evaluations of an attempt),
 * plus two per output time (the reverse solve lands on each) and 32.
 * Undefined when the forward's counts are unknown (a deferred solve not yet
 * checked). A reverse solve that needs more takes another round: one more
 * host wait, nothing else.
 */
function expectedReverseAttempts(sol: Solution): number | undefined {
  const maxNfe = sol.summary.maxNfe;
  if (!Number.isFinite(maxNfe)) return undefined;
  const perAttempt = Math.max(1, getTableau(sol.options.method).stages - 1);
  return 2 * Math.ceil(maxNfe / perAttempt) + 2 * sol.t.length + 32;
}

/** The continuous-adjoint kernel for `sol`, with the backward options resolved. */
function adjointKernel(sol: Solution, options: BackwardOptions): GradientKernel {
  const f = sol.f;
  const rt = f.runtime;
  const B = sol.batch;
  const T = sol.t.length;
  const { tableau, ...opts } = resolveOptions(
    reverseSolveOptions(options, sol.options),
    // An augmented evaluation is a forward and a backward sweep, and the θ part: about 3× the MLP.
    { batch: B, flopsPerEvaluation: 3 * mlpFlops(f.spec), adapter: rt.adapterKind },
  );
  const dir = integrationDirection(sol.t, 'reverse');
  const spec = sol.sampleTimes ? { mlp: f.spec, tableau, perSampleTimes: true } : { mlp: f.spec, tableau };
  const D = stateDim(f.spec);
  const kind = adjointKernelKind(f.spec, B, options.kernel);
  // Fixed steps: the budget of the row with the most grid steps.
  const units = () => Math.max(...(sol.sampleTimes ?? [sol.t]).map((times) => deferredUnits({ ...opts, tableau }, times)));
  const shared = {
    label: `adjoint ${tableau.name}`,
    deferredUnits: opts.deferred ? units() : 0,
    maxScale: opts.dispatchGrowth,
    attemptsPerUnit: opts.stepsPerDispatch,
    expectedAttempts: expectedReverseAttempts(sol),
    // Without firstStep, an adaptive reverse solve starts from each sample's last forward step.
    seedFirstStep: tableau.adaptive && opts.firstStep === 0,
    entry: 'adjoint',
    uniformBytes: ADJOINT_PARAMS.byteSize,
    params: (count: number, offset: number, stepsScale = 1) =>
      ADJOINT_PARAMS.pack({ ...solverValues(opts, T, dir, stepsScale), batch: count, offset, total: B, n_params: f.parameterCount }),
  };
  if (kind === 'workgroup') {
    return {
      ...shared,
      kernel: rt.kernel(adjointWorkgroupKernel, spec),
      // One sample per workgroup.
      workgroupSize: 1,
      // Per sample: [z, a] between dispatches.
      scratch: [{ binding: 'state', label: 'state', bytesPerSample: 4 * 2 * D, clear: false }],
    };
  }
  if (kind === 'lanes') {
    const workgroup = laneWorkgroup(rt.adapterKind, B);
    return {
      ...shared,
      kernel: rt.kernel(adjointLanesKernel, { ...spec, workgroup }),
      workgroupSize: workgroup * ADJOINT_LANES,
      samplesPerInvocation: ADJOINT_LANES,
      // Per sample: [z, a] (2·D floats) and, for large P, a quarter of its invocation's step row; zero at the start.
      scratch: [{ binding: 'state', label: 'state', bytesPerSample: 4 * laneRows(f.spec).stateFloatsPerSample, clear: true }],
    };
  }
  return {
    ...shared,
    kernel: rt.kernel(adjointDefinition, spec),
    workgroupSize: ADJOINT_WORKGROUP,
    // Per sample: the current [z, a], f there (4·D floats) and, for large P, the step row.
    scratch: [{ binding: 'state', label: 'state', bytesPerSample: 4 * adjointRows(f.spec).stateFloats, clear: false }],
  };
}

/** The adjoint kernel: the option, else by batch size among the kernels the MLP fits. */
export function adjointKernelKind(spec: Solution['f']['spec'], batch: number, option: BackwardOptions['kernel']): AdjointKernel {
  const fits: Record<AdjointKernel, boolean> = { workgroup: adjointWorkgroupFits(spec), lanes: adjointLanesFit(spec), invocation: true };
  if (option === undefined) {
    if (batch <= WORKGROUP_MAX_BATCH && mlpOffsets(spec.layers).count >= WORKGROUP_MIN_PARAMS && fits.workgroup) return 'workgroup';
    return batch >= LANES_MIN_BATCH && fits.lanes ? 'lanes' : 'invocation';
  }
  if (option !== 'workgroup' && option !== 'lanes' && option !== 'invocation') {
    throw new ArgumentError('options.kernel', option, "'workgroup', 'lanes' or 'invocation'");
  }
  if (!fits[option]) {
    const why =
      option === 'lanes'
        ? `its ${ADJOINT_LANES}-lane arrays exceed WGSL's 8 KiB of function memory`
        : "its vectors or parameter slices exceed the kernel's workgroup or private memory";
    throw new ArgumentError('options.kernel', option, `another kernel for this MLP (${why})`);
  }
  return option;
}

provideGradientSolve(backward);
