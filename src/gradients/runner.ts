/**
 * What the two gradient modes share: the runner
 * that takes a per-sample gradient kernel (the continuous adjoint or the
 * discrete backprop) through a batch in chunks of samples — buffers, the
 * chunk loop, the deterministic reduction of the per-sample parameter rows
 * into dL/dθ, totals and failures.
 *
 * Every gradient kernel binds the buffers of src/kernels/gradient-bindings.ts
 * by name: its uniform, θ, the forward outputs y [T][B][D], the output
 * times, the cotangents dL/dy [T][B][D], the per-sample solver state, its
 * own per-sample scratch buffers, the per-sample parameter rows (P floats
 * each) and dL/dy0 [B][D].
 */
import { REDUCE_PARAMS, REDUCE_ROWS, reduceKernel, reduceWorkgroups } from '../kernels/reduce';
import type { GradientBinding } from '../kernels/gradient-bindings';
import { SAMPLE } from '../wgsl/rk';
import { SEED_PARAMS, seedKernel, seedWorkgroups } from '../kernels/seed';
import { TIME_GRADIENT_PARAMS, timeGradientKernel, timeGradientWorkgroups } from '../kernels/time-gradient';
import type { BoundKernel, Kernel } from '../runtime/kernel';
import { type SampleChunk, createReport, recordSampleChunk, runSampleChunk, scaledBinds } from '../solver/driver';
import { OdeSolveError, type SampleFailure } from '../errors';
import type { Runtime } from '../runtime/runtime';
import type { Solution } from '../solver/solution';
import { countersSince } from '../solver/solution';
import { type BackwardSummary, Gradients } from './gradients';
import { Tensor } from '../runtime/tensor';

/** Default bytes of per-sample gradient memory before the batch is split into chunks. */
export const DEFAULT_GRADIENT_BUDGET = 256 * 1024 * 1024;

/** A per-sample gradient kernel, as the runner needs it. */
export interface GradientKernel {
  readonly label: string;
  /** The kernel on this device (a gradient kernel's definition for the solve's spec) and its entry point. */
  readonly kernel: Kernel<GradientBinding | string, string>;
  readonly entry: string;
  /** Samples per workgroup of its dispatches. */
  readonly workgroupSize: number;
  /**
   * Samples per invocation (default 1): each invocation owns one parameter
   * row, and its samples' per-sample buffers are allocated for whole
   * invocations.
   */
  readonly samplesPerInvocation?: number;
  readonly uniformBytes: number;
  /**
   * The uniform of a chunk of `count` samples starting at global index
   * `offset`; with `stepsScale`, its dispatches allow that many times the
   * usual step attempts (deferred solves).
   */
  params(count: number, offset: number, stepsScale?: number): ArrayBuffer;
  /** Its own per-sample buffers, by binding name. */
  readonly scratch: readonly { readonly binding: string; readonly label: string; readonly bytesPerSample: number; readonly clear: boolean }[];
  /** Units per chunk of a deferred solve (0 or absent: run to completion, reading summaries). */
  readonly deferredUnits?: number;
  /** The largest step-attempt multiple of a dispatch (1 when its uniform ignores `stepsScale`). */
  readonly maxScale: number;
  /** Step attempts per sample an ordinary dispatch allows, when known (sizes the first round of a waiting solve). */
  readonly attemptsPerUnit?: number;
  /** Step attempts per sample the solve is expected to need at most, when known (`DriveSpec.expectedAttempts`). */
  readonly expectedAttempts?: number;
  /** Step totals to report instead of the kernel's own (backprop reports the forward's steps). */
  readonly steps?: { readonly accepted: number; readonly rejected: number };
  /**
   * Start each sample with the step size its forward solve ended with as its
   * first step (the seed kernel fills the chunk's samples); otherwise they
   * start zeroed.
   */
  readonly seedFirstStep?: boolean;
  /** Skip dL/dt (`g.t` then throws): a flow's augmented system has no per-output time gradient, and `BackwardOptions.timeGradient: false` asks for none. Default false. */
  readonly noTimeGradient?: boolean;
  /** Buffers of the kernel's own bound as they are (a flow's noise). */
  readonly extra?: Readonly<Record<string, GPUBuffer>>;
}

/** Samples per chunk: all of them unless the per-sample memory exceeds the budget or a limit. */
export function chunkSize(rt: Runtime, kernel: GradientKernel, batch: number, nParams: number, budget: number): number {
  const rowBytes = (4 * nParams) / (kernel.samplesPerInvocation ?? 1);
  const perSample = SAMPLE.stride + rowBytes + kernel.scratch.reduce((s, b) => s + b.bytesPerSample, 0);
  const largest = Math.max(rowBytes, ...kernel.scratch.map((b) => b.bytesPerSample));
  return Math.max(
    1,
    Math.floor(
      Math.min(
        batch,
        budget / perSample,
        rt.limits.maxStorageBufferBindingSize / largest,
        rt.limits.maxComputeWorkgroupsPerDimension * kernel.workgroupSize,
      ),
    ),
  );
}

/**
 * `prepare` of a chunk whose samples start from the forward solve's last
 * step sizes: writes the chunk's uniform now (queue order keeps it ahead of
 * the chunk's submit) and records the seed kernel over the chunk's zeroed
 * samples.
 */
function seedChunk(
  rt: Runtime,
  sol: Solution,
  uniform: GPUBuffer,
  samples: GPUBuffer,
): (count: number, offset: number) => (encoder: GPUCommandEncoder) => void {
  const seed = rt.kernel(seedKernel, null).bind({ P: uniform, forward: sol.samplesBuffer(), samples });
  return (count, offset) => (encoder) => {
    rt.device.queue.writeBuffer(uniform, 0, SEED_PARAMS.pack({ count, offset }));
    const pass = encoder.beginComputePass({ label: 'seed' });
    seed.dispatch(pass, 'seed', seedWorkgroups(count));
    pass.end();
  };
}

/** Submits out += Σ over `rows` rows of `nParams` values (the reduction bound in `reduce`), in a fixed order. */
function submitReduce(rt: Runtime, reduce: BoundKernel<'partial' | 'total'>, nParams: number, rows: number): void {
  const encoder = rt.device.createCommandEncoder({ label: 'parameter gradient reduce' });
  const pass = encoder.beginComputePass({ label: 'reduce' });
  const groups = reduceWorkgroups(nParams, rows);
  reduce.dispatch(pass, 'partial', ...groups.partial);
  reduce.dispatch(pass, 'total', groups.total);
  pass.end();
  rt.submit([encoder.finish()]);
}

/**
 * Submits dL/dt at every output time into `gt` (zeros): per-sample terms
 * from f at each output (time-gradient.wgsl), summed over the batch
 * by the deterministic reduction. Its scratch buffers are freed once the
 * submitted work is done.
 */
function submitTimeGradient(
  rt: Runtime,
  sol: Solution,
  tout: GPUBuffer,
  cot: GPUBuffer,
  gy0: Tensor,
  gt: Tensor,
): void {
  const device = rt.device;
  const B = sol.batch;
  const T = sol.t.length;
  const parts = Math.ceil(B / REDUCE_ROWS);
  if (sol.sampleTimes) {
    // Per-sample times: each sample's terms are its own dL/dt[b][i], written straight into gt ([B][T]).
    const uniform = rt.createBuffer('time gradient params', TIME_GRADIENT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    try {
      device.queue.writeBuffer(uniform, 0, TIME_GRADIENT_PARAMS.pack({ batch: B, n_out: T }));
      const timeTerms = rt
        .kernel(timeGradientKernel, { ...sol.f.spec, perSampleTimes: true })
        .bind({ P: uniform, theta: sol.f.params.buffer, ysol: sol.y.buffer, tout, cot, gy0: gy0.buffer, terms: gt.buffer }, 'time gradient bind group');
      const encoder = device.createCommandEncoder({ label: 'time gradient' });
      const pass = encoder.beginComputePass({ label: 'time gradient' });
      timeTerms.dispatch(pass, 'time_gradient', timeGradientWorkgroups(B));
      pass.end();
      rt.submit([encoder.finish()]);
    } finally {
      rt.destroyBuffer(uniform);
    }
    return;
  }
  const owned = [
    rt.createBuffer('time gradient params', TIME_GRADIENT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
    rt.createBuffer('time gradient terms', B * T * 4, GPUBufferUsage.STORAGE),
    rt.createBuffer('time gradient partial sums', parts * T * 4, GPUBufferUsage.STORAGE),
    rt.createBuffer('time gradient reduce params', REDUCE_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
  ];
  const [uniform, terms, part, redUniform] = owned;
  try {
    device.queue.writeBuffer(uniform, 0, TIME_GRADIENT_PARAMS.pack({ batch: B, n_out: T }));
    device.queue.writeBuffer(redUniform, 0, REDUCE_PARAMS.pack({ rows: B, n_params: T, parts }));
    const timeTerms = rt
      .kernel(timeGradientKernel, sol.f.spec)
      .bind({ P: uniform, theta: sol.f.params.buffer, ysol: sol.y.buffer, tout, cot, gy0: gy0.buffer, terms }, 'time gradient bind group');
    const encoder = device.createCommandEncoder({ label: 'time gradient' });
    const pass = encoder.beginComputePass({ label: 'time gradient' });
    timeTerms.dispatch(pass, 'time_gradient', timeGradientWorkgroups(B));
    pass.end();
    rt.submit([encoder.finish()]);
    const reduce = rt.kernel(reduceKernel, null).bind({ R: redUniform, acc: terms, part, out: gt.buffer }, 'time gradient reduce bind group');
    submitReduce(rt, reduce, T, B);
  } finally {
    for (const b of owned) rt.destroyBuffer(b);
  }
}

/** The output times of a solve as the kernels read them: [T], or [B][T] with per-sample times. */
export function outputTimes(sol: Solution): Float32Array<ArrayBuffer> {
  const T = sol.t.length;
  if (!sol.sampleTimes) return Float32Array.from(sol.t);
  const out = new Float32Array(sol.batch * T);
  sol.sampleTimes.forEach((row, b) => out.set(row, b * T));
  return out;
}

/** The buffers of a gradient solve, and how to make one chunk of it. */
interface GradientRun {
  readonly rt: Runtime;
  readonly sol: Solution;
  readonly kernel: GradientKernel;
  readonly cot: GPUBuffer;
  readonly tout: GPUBuffer;
  readonly gy0: Tensor;
  readonly gth: Tensor;
  readonly gt: Tensor;
  /** The reduction of a chunk's parameter rows into dL/dθ. */
  readonly reduce: BoundKernel<'partial' | 'total'>;
  /** Parameter rows of a chunk of `count` samples (one per invocation). */
  rowsOf(count: number): number;
  /** Writes the chunk's uniforms and returns it, ready for the driver. */
  chunk(count: number, offset: number): SampleChunk;
  /** Chunks made so far. */
  chunks: number;
}

/**
 * Runs `kernel` over the batch of `sol` in chunks of `chunk` samples, with
 * cotangents `cot`. Rejects with `OdeSolveError` (global sample indices; the
 * partial `Gradients` on the error) if a sample fails.
 *
 * With `deferredUnits` > 0 it records that many units per chunk and returns
 * without a host wait; the outcome is in the Gradients' report (`check()`).
 */
export async function runGradients(
  sol: Solution,
  cot: GPUBuffer,
  kernel: GradientKernel,
  chunk: number,
  deferredUnits = 0,
): Promise<Gradients> {
  const rt = sol.f.runtime;
  const before = { ...rt.counters };
  const gy0 = Tensor.zeros(rt, [sol.batch, sol.dim], 'gradient y0');
  const gth = Tensor.zeros(rt, [sol.f.parameterCount], 'gradient params');
  const gt = Tensor.zeros(rt, sol.sampleTimes ? [sol.batch, sol.t.length] : [sol.t.length], 'gradient t');
  const owned: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(`${kernel.label} ${label}`, bytes, usage);
    owned.push(b);
    return b;
  };
  try {
    const run = prepareRun(sol, cot, kernel, chunk, { gy0, gth, gt }, make);
    if (deferredUnits > 0) return recordDeferred(run, chunk, deferredUnits, before);
    return await runWaiting(run, chunk, before);
  } catch (e) {
    // A failed solve hands its gradients to the OdeSolveError; anything else frees them.
    if (!(e instanceof OdeSolveError)) {
      gy0.destroy();
      gth.destroy();
      gt.destroy();
    }
    throw e;
  } finally {
    for (const b of owned) rt.destroyBuffer(b);
  }
}

/** Allocates a gradient solve's buffers for chunks of up to `chunk` samples (made by `make`, freed by the caller). */
function prepareRun(
  sol: Solution,
  cot: GPUBuffer,
  kernel: GradientKernel,
  chunk: number,
  out: { gy0: Tensor; gth: Tensor; gt: Tensor },
  make: (label: string, bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer,
): GradientRun {
  const f = sol.f;
  const rt = f.runtime;
  const device = rt.device;
  const P = f.parameterCount;
  const uniform = make('params', kernel.uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const tout = make('output times', outputTimes(sol).byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(tout, 0, outputTimes(sol));
  const clearable = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  // One parameter row per invocation; per-sample buffers cover whole invocations.
  const lanes = kernel.samplesPerInvocation ?? 1;
  const rowsOf = (count: number) => Math.ceil(count / lanes);
  const samples = make('samples', chunk * SAMPLE.stride, clearable | GPUBufferUsage.COPY_SRC);
  const scratch = kernel.scratch.map((s) => make(s.label, rowsOf(chunk) * lanes * s.bytesPerSample, clearable));
  const acc = make('parameter rows', rowsOf(chunk) * P * 4, clearable);
  const part = make('partial sums', Math.ceil(rowsOf(chunk) / REDUCE_ROWS) * P * 4, GPUBufferUsage.STORAGE);
  const redUniform = make('reduce params', REDUCE_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const buffers: Record<string, GPUBuffer> = {
    P: uniform,
    theta: f.params.buffer,
    ysol: sol.y.buffer,
    tout,
    cot,
    samples,
    ...Object.fromEntries(kernel.scratch.map((s, i) => [s.binding, scratch[i]])),
    acc,
    gy0: out.gy0.buffer,
    ...kernel.extra,
  };
  // The kernel bound to the scale-1 uniform, made when a chunk first dispatches at that scale (deferred or not growing).
  let bound: BoundKernel<string> | undefined;
  const boundAtScale1 = () => (bound ??= kernel.kernel.bind(buffers, `${kernel.label} bind group`));
  const reduce = rt.kernel(reduceKernel, null).bind({ R: redUniform, acc, part, out: out.gth.buffer }, 'reduce bind group');
  const cleared = [...scratch.filter((_, i) => kernel.scratch[i].clear), acc];
  const seed = kernel.seedFirstStep
    ? seedChunk(rt, sol, make('seed params', SEED_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST), samples)
    : null;
  const run: GradientRun = {
    rt,
    sol,
    kernel,
    cot,
    tout,
    ...out,
    reduce,
    rowsOf,
    chunks: 0,
    chunk: (count, offset) => {
      run.chunks++;
      device.queue.writeBuffer(uniform, 0, kernel.params(count, offset));
      device.queue.writeBuffer(redUniform, 0, REDUCE_PARAMS.pack({ rows: rowsOf(count), n_params: P, parts: Math.ceil(rowsOf(count) / REDUCE_ROWS) }));
      return {
        label: kernel.label,
        entry: kernel.entry,
        samples,
        clear: cleared,
        prepare: seed?.(count, offset),
        count,
        offset,
        workgroupSize: kernel.workgroupSize,
        // Growing dispatches: the chunk's uniform at each step-attempt scale, a buffer of its own.
        scaled: scaledBinds(
          rt,
          'chunk',
          boundAtScale1,
          (P, label) => kernel.kernel.bind({ ...buffers, P }, label),
          (scale) => kernel.params(count, offset, scale),
          make,
        ),
        maxScale: kernel.maxScale,
        attemptsPerUnit: kernel.attemptsPerUnit,
        expectedAttempts: kernel.expectedAttempts,
      };
    },
  };
  return run;
}

/** A deferred gradient solve: records every chunk, its reduction and dL/dt, and returns at once; the Gradients own the report. */
function recordDeferred(run: GradientRun, chunk: number, units: number, before: Runtime['counters']): Gradients {
  const { rt, sol, kernel } = run;
  const B = sol.batch;
  const report = createReport(rt, `${kernel.label} report`);
  try {
    // Chunks run one after another in queue order, reusing the same buffers.
    for (let offset = 0; offset < B; offset += chunk) {
      const count = Math.min(chunk, B - offset);
      recordSampleChunk(rt, run.chunk(count, offset), units, report);
      submitReduce(rt, run.reduce, sol.f.parameterCount, run.rowsOf(count));
    }
    if (!kernel.noTimeGradient) submitTimeGradient(rt, sol, run.tout, run.cot, run.gy0, run.gt);
  } catch (e) {
    rt.destroyBuffer(report);
    throw e;
  }
  const summary = { nfe: NaN, maxNfe: NaN, accepted: NaN, rejected: NaN, ...countersSince(rt, before), chunks: run.chunks };
  return new Gradients(run.gy0, run.gth, run.gt, summary, report, !kernel.noTimeGradient);
}

/** A gradient solve that waits: chunk by chunk to completion, stopping at the first chunk with a failing sample. */
async function runWaiting(run: GradientRun, chunk: number, before: Runtime['counters']): Promise<Gradients> {
  const { rt, sol, kernel } = run;
  const B = sol.batch;
  const totals = { nfe: 0, maxNfe: 0, accepted: 0, rejected: 0 };
  const failures: SampleFailure[] = [];
  for (let offset = 0; offset < B && failures.length === 0; offset += chunk) {
    const count = Math.min(chunk, B - offset);
    const done = await runSampleChunk(rt, run.chunk(count, offset));
    totals.nfe += done.totals.nfe_total;
    totals.maxNfe = Math.max(totals.maxNfe, done.totals.nfe_max);
    totals.accepted += done.totals.accepted;
    totals.rejected += done.totals.rejected;
    failures.push(...done.failures);
    if (failures.length === 0) submitReduce(rt, run.reduce, sol.f.parameterCount, run.rowsOf(count));
  }
  const summary: BackwardSummary = {
    ...totals,
    accepted: kernel.steps?.accepted ?? totals.accepted,
    rejected: kernel.steps?.rejected ?? totals.rejected,
    ...countersSince(rt, before),
    chunks: run.chunks,
  };
  if (failures.length === 0 && !kernel.noTimeGradient) submitTimeGradient(rt, sol, run.tout, run.cot, run.gy0, run.gt);
  const grads = new Gradients(run.gy0, run.gth, run.gt, summary, null, !kernel.noTimeGradient);
  if (failures.length) throw new OdeSolveError(failures, grads, B);
  return grads;
}
