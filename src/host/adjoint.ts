/**
 * `sol.backward(dLdy)`: gradients of a loss through a solve by the adjoint
 * method, entirely on the GPU.
 *
 * Every sample integrates [z, a] backwards with its own adaptive steps
 * (shaders/adjoint.wgsl) and accumulates its parameter adjoint in its own row
 * of an accumulator; a deterministic two-pass reduction (shaders/reduce.wgsl)
 * sums the rows into dL/dθ. A batch whose accumulator rows would exceed the
 * memory budget is processed in chunks of samples, each reduced into the
 * same dL/dθ in order. GPU memory is independent of the number of steps.
 */
import {
  ADJOINT_PARAMS,
  ADJOINT_WORKGROUP,
  type AdjointParamsValues,
  REDUCE_PARAMS,
  REDUCE_ROWS,
  REDUCE_WORKGROUP,
  adjointKey,
  adjointLayout,
  adjointWgsl,
  reduceKey,
  reduceLayout,
  reduceWgsl,
} from '../kernels/adjoint';
import { bindBuffers } from '../kernels/layout';
import { mlpFlops } from '../kernels/mlp';
import { SAMPLE } from '../kernels/rk';
import { backpropGradients } from './backprop';
import { runSampleChunk } from './driver';
import { getTableau } from './tableau';
import { ArgumentError, DestroyedError, OdeSolveError, type SampleFailure } from './errors';
import type { Runtime } from './runtime';
import { type OdeintOptions, type Solution, resolveOptions } from './solve';
import { Tensor } from './tensor';

/** Options of `solution.backward`. Defaults come from the forward solve. */
export interface BackwardOptions {
  /** Method of the reverse solve. Default: the forward solve's. */
  method?: OdeintOptions['method'];
  rtol?: number;
  atol?: number;
  /** Step size of a fixed-step reverse solve. Default: the forward solve's. */
  stepSize?: number;
  firstStep?: number;
  maxSteps?: number;
  stepsPerDispatch?: number;
  /**
   * `'adjoint'` (default): the continuous adjoint, memory independent of the
   * number of steps. `'backprop'`: exact reverse-mode gradients of the forward
   * discretisation (its own steps, taken as constants), with checkpointing so
   * memory grows as √steps; method, tolerances and step sizes are the forward
   * solve's (setting them is an error).
   */
  mode?: 'adjoint' | 'backprop';
  /**
   * Bytes the per-sample parameter accumulators (B·P floats) may take before
   * the batch is processed in chunks. Default: 256 MiB or the adapter's
   * storage binding limit, whichever is smaller.
   */
  memoryBudget?: number;
}

/** Totals of a backward solve. */
export interface BackwardSummary {
  readonly nfe: number;
  readonly maxNfe: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly hostWaits: number;
  readonly submits: number;
  readonly dispatches: number;
  /** Chunks of samples the batch was split into. */
  readonly chunks: number;
}

/** Gradients of the loss, on the GPU. */
export class Gradients {
  /** dL/dy0, [B, D]. */
  readonly y0: Tensor;
  /** dL/dθ, [P], in the layout of `MLP.setParameters`. */
  readonly params: Tensor;
  readonly summary: BackwardSummary;

  /** @internal Made by `backward`. */
  constructor(y0: Tensor, params: Tensor, summary: BackwardSummary) {
    this.y0 = y0;
    this.params = params;
    this.summary = summary;
  }

  /** Frees both tensors. Idempotent. */
  destroy(): void {
    this.y0.destroy();
    this.params.destroy();
  }
}

const DEFAULT_BUDGET = 256 * 1024 * 1024;

/** The two pipelines of the deterministic parameter-gradient reduction. */
export interface ReducePipelines {
  readonly partial: GPUComputePipeline;
  readonly total: GPUComputePipeline;
}

export function reducePipelines(rt: Runtime): ReducePipelines {
  const layout = reduceLayout(rt.device).pipeline;
  const make = (entryPoint: 'partial' | 'total') =>
    rt.pipeline(`${reduceKey()}|${entryPoint}`, `reduce ${entryPoint}`, () => ({ code: reduceWgsl(), entryPoint, layout }));
  return { partial: make('partial'), total: make('total') };
}

/** Submits dL/dθ += Σ over `rows` accumulator rows, in a fixed order. */
export function recordReduce(rt: Runtime, pipes: ReducePipelines, group: GPUBindGroup, nParams: number, rows: number): void {
  const encoder = rt.device.createCommandEncoder({ label: 'parameter gradient reduce' });
  const pass = encoder.beginComputePass({ label: 'reduce' });
  pass.setBindGroup(0, group);
  pass.setPipeline(pipes.partial);
  pass.dispatchWorkgroups(Math.ceil(nParams / REDUCE_WORKGROUP), Math.ceil(rows / REDUCE_ROWS));
  pass.setPipeline(pipes.total);
  pass.dispatchWorkgroups(Math.ceil(nParams / REDUCE_WORKGROUP));
  pass.end();
  rt.counters.dispatches += 2;
  rt.submit([encoder.finish()]);
}

/**
 * The adjoint solve behind `Solution.backward`: dLdy holds ∂L/∂y for every
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
  const rt: Runtime = f.runtime;
  rt.check();
  if (sol.y.isDestroyed) throw new DestroyedError('Solution');
  const { batch: B, dim: D } = sol;
  const T = sol.t.length;
  const P = f.parameterCount;
  const n = T * B * D;
  const len = dLdy instanceof Tensor ? dLdy.size : dLdy && typeof dLdy.length === 'number' ? dLdy.length : -1;
  if (len !== n) throw new ArgumentError('dLdy', dLdy, `${n} values: ∂L/∂y for every output, shape [T=${T}][B=${B}][D=${D}]`);
  if (!(dLdy instanceof Tensor)) {
    for (let i = 0; i < n; i++) {
      const v = dLdy[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`dLdy[${i}]`, v, 'a finite number');
    }
  }
  const mode = options.mode ?? 'adjoint';
  if (mode !== 'adjoint' && mode !== 'backprop') throw new ArgumentError('options.mode', mode, "'adjoint' or 'backprop'");
  if (mode === 'backprop') {
    let owned: GPUBuffer | null = null;
    let cot: GPUBuffer;
    if (dLdy instanceof Tensor) {
      cot = dLdy.buffer;
    } else {
      owned = rt.createBuffer('backprop cotangents', n * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      const f32 = dLdy instanceof Float32Array ? dLdy : Float32Array.from(dLdy);
      rt.device.queue.writeBuffer(owned, 0, f32.buffer, f32.byteOffset, f32.byteLength);
      cot = owned;
    }
    const release = () => {
      if (owned) rt.destroyBuffer(owned);
    };
    try {
      return await backpropGradients(sol, cot, options, release);
    } catch (e) {
      release();
      throw e;
    }
  }
  const fwd = sol.options;
  const method = options.method ?? fwd.method;
  const budget = options.memoryBudget ?? Math.min(DEFAULT_BUDGET, rt.limits.maxStorageBufferBindingSize);
  if (!(typeof budget === 'number' && budget > 0 && Number.isFinite(budget))) {
    throw new ArgumentError('options.memoryBudget', budget, 'a positive number of bytes');
  }
  const chunk = Math.max(
    1,
    Math.floor(
      Math.min(
        B,
        budget / (P * 4),
        rt.limits.maxStorageBufferBindingSize / (P * 4),
        rt.limits.maxComputeWorkgroupsPerDimension * ADJOINT_WORKGROUP,
      ),
    ),
  );
  const probe = getTableau(method, 'options.method');
  const resolved = resolveOptions(
    {
      method,
      rtol: options.rtol ?? fwd.rtol,
      atol: options.atol ?? fwd.atol,
      stepSize: probe.adaptive ? undefined : (options.stepSize ?? (fwd.stepSize || undefined)),
      firstStep: options.firstStep,
      maxSteps: options.maxSteps ?? fwd.maxSteps,
      stepsPerDispatch: options.stepsPerDispatch,
    },
    // An augmented evaluation is a forward and a backward sweep: about 2× (3× with the θ part).
    { batch: Math.min(B, chunk), flopsPerAttempt: (probe.stages - 1) * 3 * mlpFlops(f.spec) },
  );
  const { tableau, ...opts } = resolved;

  const before = { ...rt.counters };
  const device = rt.device;
  const dirBack = T > 1 ? Math.sign(sol.t[0] - sol.t[T - 1]) : -1;
  const spec = { mlp: f.spec, tableau };
  const adjLayout = adjointLayout(device);
  const pipeline = rt.pipeline(adjointKey(spec), `adjoint ${tableau.name}`, () => ({
    code: adjointWgsl(spec),
    entryPoint: 'adjoint',
    layout: adjLayout.pipeline,
  }));
  const redLayout = reduceLayout(device);
  const reduce = reducePipelines(rt);

  const gy0 = Tensor.zeros(rt, [B, D], 'gradient y0');
  const gth = Tensor.zeros(rt, [P], 'gradient params');
  const scratch: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(label, bytes, usage);
    scratch.push(b);
    return b;
  };
  try {
    const uniform = make('adjoint params', ADJOINT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const tout = make('adjoint output times', T * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(tout, 0, Float32Array.from(sol.t));
    let cot: GPUBuffer;
    if (dLdy instanceof Tensor) {
      cot = dLdy.buffer;
    } else {
      cot = make('adjoint cotangents', n * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      const f32 = dLdy instanceof Float32Array ? dLdy : Float32Array.from(dLdy);
      device.queue.writeBuffer(cot, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    }
    const samples = make('adjoint samples', chunk * SAMPLE.stride, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const state = make('adjoint state', chunk * 4 * D * 4, GPUBufferUsage.STORAGE);
    const acc = make('adjoint parameter accumulators', chunk * P * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const parts = Math.ceil(chunk / REDUCE_ROWS);
    const part = make('adjoint partial sums', parts * P * 4, GPUBufferUsage.STORAGE);
    const redUniform = make('reduce params', REDUCE_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const bindGroup = bindBuffers(device, 'adjoint bind group', adjLayout.bindGroup, [
      uniform,
      f.params.buffer,
      sol.y.buffer,
      tout,
      cot,
      samples,
      state,
      acc,
      gy0.buffer,
    ]);
    const redGroup = bindBuffers(device, 'reduce bind group', redLayout.bindGroup, [redUniform, acc, part, gth.buffer]);

    let nfe = 0;
    let maxNfe = 0;
    let accepted = 0;
    let rejected = 0;
    const failures: SampleFailure[] = [];
    let chunks = 0;
    for (let offset = 0; offset < B; offset += chunk) {
      const count = Math.min(chunk, B - offset);
      chunks++;
      const params: AdjointParamsValues = {
        batch: count,
        offset,
        total: B,
        n_out: T,
        steps_per_dispatch: opts.stepsPerDispatch,
        max_steps: opts.maxSteps,
        n_params: P,
        dir: dirBack,
        rtol: opts.rtol,
        atol: opts.atol,
        h_fixed: dirBack * opts.stepSize,
        first_step: opts.firstStep,
      };
      device.queue.writeBuffer(uniform, 0, ADJOINT_PARAMS.pack(params));
      device.queue.writeBuffer(redUniform, 0, REDUCE_PARAMS.pack({ rows: count, n_params: P, parts: Math.ceil(count / REDUCE_ROWS) }));
      const { totals, failures: failed } = await runSampleChunk(rt, {
        label: `adjoint ${tableau.name}`,
        pipeline,
        bindGroup,
        samples,
        clear: [acc],
        count,
        offset,
        workgroupSize: ADJOINT_WORKGROUP,
      });
      nfe += totals.nfe_total;
      maxNfe = Math.max(maxNfe, totals.nfe_max);
      accepted += totals.accepted;
      rejected += totals.rejected;
      if (failed.length) {
        failures.push(...failed);
        break;
      }
      recordReduce(rt, reduce, redGroup, P, count);
    }
    const summary: BackwardSummary = {
      nfe,
      maxNfe,
      accepted,
      rejected,
      hostWaits: rt.counters.hostWaits - before.hostWaits,
      submits: rt.counters.submits - before.submits,
      dispatches: rt.counters.dispatches - before.dispatches,
      chunks,
    };
    const grads = new Gradients(gy0, gth, summary);
    if (failures.length) throw new OdeSolveError(failures, grads, B);
    return grads;
  } catch (e) {
    if (!(e instanceof OdeSolveError)) {
      gy0.destroy();
      gth.destroy();
    }
    throw e;
  } finally {
    for (const b of scratch) rt.destroyBuffer(b);
  }
}
