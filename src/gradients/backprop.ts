/**
 * `sol.backward(dLdy, { mode: 'backprop' })`: exact gradients of the forward
 * discretisation (every accepted Runge–Kutta step differentiated in reverse,
 * step sizes taken as constants), with checkpointing every k ≈ √N steps so
 * GPU memory grows as √N, not N. See backprop.wgsl; the chunked run
 * is shared with the adjoint (./gradients.ts).
 */
import { BACKPROP_PARAMS, BACKPROP_WORKGROUP, backpropKernel as backpropDefinition, backpropWords } from '../kernels/backprop';
import type { BackwardOptions } from './adjoint';
import { ArgumentError } from '../errors';
import type { GradientKernel } from './runner';
import { integrationDirection, solverValues } from '../solver/options';
import type { Solution } from '../solver/solution';
import { getTableau } from '../methods/tableau';

/** The backprop kernel for `sol`; reads the forward's per-sample step counts (one host wait) to size the tape. */
export async function backpropKernel(sol: Solution, options: BackwardOptions, budget: number): Promise<GradientKernel> {
  const f = sol.f;
  const rt = f.runtime;
  const fwd = sol.options;
  if (fwd.stepControl !== 'per-sample') {
    throw new ArgumentError('options.mode', 'backprop', "a forward solve with stepControl 'per-sample'");
  }
  for (const k of ['method', 'rtol', 'atol', 'stepSize', 'firstStep', 'maxSteps', 'controller'] as const) {
    if (options[k] !== undefined) {
      throw new ArgumentError(`options.${k}`, options[k], "undefined: backprop mode differentiates the forward solve's own steps");
    }
  }
  const tableau = getTableau(fwd.method);
  const spec = sol.sampleTimes ? { mlp: f.spec, tableau, perSampleTimes: true } : { mlp: f.spec, tableau };
  const storage = Object.values(backpropDefinition.bindings(spec)).filter((b) => b.access !== 'uniform').length;
  if (rt.limits.maxStorageBuffersPerShaderStage < storage) {
    throw new ArgumentError(
      'options.mode',
      'backprop',
      `a device allowing ${storage} storage buffers per shader stage (this one allows maxStorageBuffersPerShaderStage = ${rt.limits.maxStorageBuffersPerShaderStage}); use mode 'adjoint'`,
    );
  }
  const stepsPerDispatch = options.stepsPerDispatch ?? fwd.stepsPerDispatch;
  if (!Number.isInteger(stepsPerDispatch) || stepsPerDispatch < 1) {
    throw new ArgumentError('options.stepsPerDispatch', stepsPerDispatch, 'an integer ≥ 1');
  }
  const { batch: B, dim: D } = sol;
  const T = sol.t.length;

  // Size the tape from the forward solve's step counts: segments of k ≈ √N steps.
  const stats = await sol.stats();
  const N = Math.max(1, ...stats.accepted);
  const segLen = Math.max(1, Math.ceil(Math.sqrt(N)));
  // Checkpoints for N steps, with slack in case the replay takes a few more.
  const nCkpt = Math.ceil((1.25 * N) / segLen) + 2;
  const words = backpropWords(D);
  const tapeBytes = 4 * (nCkpt * words.checkpoint + segLen * words.record);
  if (tapeBytes > budget) {
    throw new ArgumentError(
      'options.memoryBudget',
      budget,
      `at least ${tapeBytes} bytes: one sample's checkpoint tape for ${N} steps (k = ${segLen})`,
    );
  }

  const dir = integrationDirection(sol.t, 'forward');
  return {
    label: `backprop ${tableau.name}`,
    kernel: rt.kernel(backpropDefinition, spec),
    entry: 'backprop',
    workgroupSize: BACKPROP_WORKGROUP,
    uniformBytes: BACKPROP_PARAMS.byteSize,
    // Its dispatches run at most stepsPerDispatch attempts: the replayed segments are bounded per dispatch.
    maxScale: 1,
    scratch: [
      { binding: 'work', label: 'work', bytesPerSample: 4 * words.work, clear: false },
      { binding: 'tape', label: 'tape', bytesPerSample: tapeBytes, clear: false },
    ],
    steps: { accepted: stats.total.accepted, rejected: stats.total.rejected },
    params: (count, offset) =>
      BACKPROP_PARAMS.pack({
        ...solverValues({ ...fwd, stepsPerDispatch }, T, dir),
        batch: count,
        offset,
        total: B,
        n_params: f.parameterCount,
        seg_len: segLen,
        n_ckpt: nCkpt,
        t0: sol.t[0],
        t_end: sol.t[T - 1],
      }),
  };
}
