/**
 * `flowDensity.backward(dLdlogp)`: gradients of a flow's loss by the adjoint
 * of its augmented system, on the GPU. The cotangent kernel seeds the
 * adjoint at t1 (src/kernels/cnf-cotangent.ts); the reverse solve is the
 * one-sample adjoint kernel's template with the flow's reverse-over-forward
 * VJP (src/kernels/cnf-adjoint.ts), run by the gradient runner (chunks,
 * seeded first steps, deterministic reduction of dL/dθ, failures, deferred
 * budgets); `extract` takes dL/dx out of the augmented dL/ds(t0).
 */
import { ArgumentError, DestroyedError } from '../errors';
import type { Gradients } from '../gradients/gradients';
import { DEFAULT_GRADIENT_BUDGET, type GradientKernel, chunkSize, runGradients } from '../gradients/runner';
import { ADJOINT_PARAMS, ADJOINT_WORKGROUP } from '../kernels/adjoint';
import { cnfAdjointKernel, cnfAdjointStateFloats } from '../kernels/cnf-adjoint';
import { COTANGENT_PARAMS, COTANGENT_WORKGROUP, cnfCotangentKernel } from '../kernels/cnf-cotangent';
import type { Tableau } from '../methods/tableau';
import { mlpFlops } from '../mlp/mlp';
import { cnfStateWidth } from '../mlp/trace';
import type { Runtime } from '../runtime/runtime';
import { Tensor, checkGivenValues } from '../runtime/tensor';
import { type ReverseSolveOptions, deferredUnits, resolveOptions, reverseSolveOptions, solverValues } from '../solver/options';
import { Solution } from '../solver/solution';
import type { BackwardSummary } from '../gradients/gradients';
import type { CNF, FlowDensity } from './cnf';

/** Options of `flowDensity.backward`. Defaults come from the forward solve. */
export interface FlowBackwardOptions extends ReverseSolveOptions {
  /** Return without a host wait (`await g.check()` reads the outcome). */
  deferred?: boolean;
  /** Bytes of per-sample gradient memory before the batch is split into chunks. Default 256 MiB. */
  memoryBudget?: number;
}

/** dL/dθ and dL/dx of a flow's loss. */
export class FlowGradients {
  /** dL/dθ [P] (the `setParameters` layout). */
  readonly params: Tensor;
  /** dL/dx [B][D]. */
  readonly x: Tensor;
  private readonly inner: Gradients;

  /** @internal */
  constructor(inner: Gradients, x: Tensor) {
    this.inner = inner;
    this.params = inner.params;
    this.x = x;
  }

  /** The reverse solve's totals (NaN counts for a deferred solve until `check()`). */
  get summary(): BackwardSummary {
    return this.inner.summary;
  }

  /** @internal A deferred solve's report (SUMMARY words) until checked; null otherwise (`FlowTrainer` gates on it). */
  get reportBuffer(): GPUBuffer | null {
    return this.inner.reportBuffer;
  }

  /** Reads a deferred solve's outcome (one host wait); throws `OdeSolveError` on failure. */
  check(): Promise<BackwardSummary> {
    return this.inner.check();
  }

  /** Frees the gradients. Idempotent. */
  destroy(): void {
    this.inner.destroy();
    this.x.destroy();
  }
}

/** What the backward needs of a `FlowDensity`. */
export interface FlowForward {
  readonly rt: Runtime;
  readonly flow: CNF;
  readonly times: readonly number[];
  readonly tableau: Tableau;
  readonly aug: Tensor;
  samples(): GPUBuffer;
}

/** The gradient solve behind `FlowDensity.backward` (see there). */
export async function flowBackward(
  r: FlowDensity,
  dLdlogp: ArrayLike<number> | Tensor,
  options: FlowBackwardOptions,
  fw: FlowForward,
): Promise<FlowGradients> {
  if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
  // `solution.backward`'s kernel and mode options do not apply: flows have the one-sample adjoint only.
  const extra = options as { kernel?: unknown; mode?: unknown };
  if (extra.kernel !== undefined && extra.kernel !== 'invocation') {
    throw new ArgumentError('options.kernel', extra.kernel, "undefined or 'invocation': a flow's adjoint runs one sample per invocation");
  }
  if (extra.mode !== undefined && extra.mode !== 'adjoint') throw new ArgumentError('options.mode', extra.mode, "undefined or 'adjoint' for flows");
  const { rt, flow } = fw;
  rt.check();
  if (fw.aug.isDestroyed) throw new DestroyedError('flow result');
  const f = flow.f;
  const B = r.batch;
  const D = flow.dim;
  const NA = cnfStateWidth(flow.field);
  checkGivenValues(rt, 'dLdlogp', dLdlogp, B, `${B} values: dL/dlog p of every sample`);
  const { tableau, ...opts } = resolveOptions(
    reverseSolveOptions(options, r.options),
    // Per evaluation: the forward pass, one tangent pass and its reverse per sweep, the primal reverse.
    { batch: B, flopsPerEvaluation: (flow.trace === 'exact' ? 2 * D + 2 : 4) * mlpFlops(f.spec), adapter: rt.adapterKind },
  );
  const budget = options.memoryBudget ?? Math.min(DEFAULT_GRADIENT_BUDGET, rt.limits.maxStorageBufferBindingSize);
  if (!(typeof budget === 'number' && budget > 0 && Number.isFinite(budget))) {
    throw new ArgumentError('options.memoryBudget', budget, 'a positive number of bytes');
  }
  if (r.deferred && !opts.deferred) await r.check();

  const times = Float64Array.from(fw.times);
  const dir = -Math.sign(times[1] - times[0]);
  const P = f.parameterCount;
  const scratch: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(label, bytes, usage);
    scratch.push(b);
    return b;
  };
  try {
    const device = rt.device;
    let dlogp: GPUBuffer;
    if (dLdlogp instanceof Tensor) {
      dlogp = dLdlogp.buffer;
    } else {
      dlogp = make('flow dL/dlog p', B * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(dlogp, 0, Float32Array.from(dLdlogp));
    }
    const cot = make('flow cotangents', 2 * B * NA * 4, GPUBufferUsage.STORAGE);
    const uniform = make('flow cotangent params', COTANGENT_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, COTANGENT_PARAMS.pack({ batch: B, wk: flow.weights.kinetic, wj: flow.weights.jacobian }));
    const noise = r.noise?.buffer ?? make('flow unused noise', 16, GPUBufferUsage.STORAGE);
    const sol = new Solution({ y: fw.aug, t: times, batch: B, dim: NA, f, options: r.options, summary: r.summary, samples: fw.samples() });
    const submit = (label: string, entry: 'cotangent' | 'extract', gaug: GPUBuffer, gx: GPUBuffer) => {
      const bound = rt.kernel(cnfCotangentKernel, flow.field).bind({ P: uniform, out: fw.aug.buffer, dlogp, cot, gaug, gx }, `${label} bind group`);
      const enc = device.createCommandEncoder({ label });
      const pass = enc.beginComputePass({ label });
      bound.dispatch(pass, entry, Math.ceil(B / COTANGENT_WORKGROUP));
      pass.end();
      rt.submit([enc.finish()]);
    };
    const unusedIn = make('flow unused input', 16, GPUBufferUsage.STORAGE);
    const unusedOut = make('flow unused output', 16, GPUBufferUsage.STORAGE);
    submit('flow cotangent', 'cotangent', unusedIn, unusedOut);
    const kernel: GradientKernel = {
      label: `flow adjoint ${tableau.name}`,
      kernel: rt.kernel(cnfAdjointKernel, { field: flow.field, tableau }),
      entry: 'adjoint',
      workgroupSize: ADJOINT_WORKGROUP,
      uniformBytes: ADJOINT_PARAMS.byteSize,
      params: (count, offset, stepsScale = 1) =>
        ADJOINT_PARAMS.pack({ ...solverValues(opts, 2, dir, stepsScale), batch: count, offset, total: B, n_params: P }),
      scratch: [{ binding: 'state', label: 'state', bytesPerSample: 4 * cnfAdjointStateFloats(flow.field), clear: false }],
      deferredUnits: opts.deferred ? deferredUnits({ ...opts, tableau }, times) : 0,
      maxScale: opts.dispatchGrowth,
      seedFirstStep: tableau.adaptive && opts.firstStep === 0,
      noTimeGradient: true,
      extra: { noise },
    };
    const chunk = chunkSize(rt, kernel, B, P, budget);
    const g = await runGradients(sol, cot, kernel, chunk, kernel.deferredUnits ?? 0);
    let gx: Tensor;
    try {
      gx = Tensor.zeros(rt, [B, D], 'flow dL/dx');
    } catch (e) {
      g.destroy();
      throw e;
    }
    submit('flow dL/dx', 'extract', g.y0.buffer, gx.buffer);
    return new FlowGradients(g, gx);
  } finally {
    for (const b of scratch) rt.destroyBuffer(b);
  }
}
