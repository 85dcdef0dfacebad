/**
 * `sol.backward(dLdy, { mode: 'backprop' })`: exact gradients of the forward
 * discretisation (every accepted Runge–Kutta step differentiated in reverse,
 * step sizes taken as constants), with checkpointing every k ≈ √N steps so
 * GPU memory grows as √N, not N. See shaders/backprop.wgsl.
 */
import { REDUCE_PARAMS, REDUCE_ROWS, reduceLayout } from '../kernels/adjoint';
import {
  BACKPROP_BINDINGS,
  BACKPROP_PARAMS,
  BACKPROP_WORKGROUP,
  type BackpropParamsValues,
  backpropKey,
  backpropWgsl,
  backpropWords,
} from '../kernels/backprop';
import { bindBuffers, explicitLayout } from '../kernels/layout';
import { SAMPLE } from '../kernels/rk';
import { type BackwardOptions, type BackwardSummary, Gradients, recordReduce, reducePipelines } from './adjoint';
import { runSampleChunk } from './driver';
import { ArgumentError, OdeSolveError, type SampleFailure } from './errors';
import { getTableau } from './tableau';
import type { Solution } from './solve';
import { Tensor } from './tensor';

const DEFAULT_BUDGET = 256 * 1024 * 1024;

export async function backpropGradients(
  sol: Solution,
  cot: GPUBuffer,
  options: BackwardOptions,
  release: () => void,
): Promise<Gradients> {
  const f = sol.f;
  const rt = f.runtime;
  const device = rt.device;
  const fwd = sol.options;
  if (fwd.stepControl !== 'per-sample') {
    throw new ArgumentError('options.mode', 'backprop', "a forward solve with stepControl 'per-sample'");
  }
  for (const k of ['method', 'rtol', 'atol', 'stepSize', 'firstStep'] as const) {
    if (options[k] !== undefined) {
      throw new ArgumentError(`options.${k}`, options[k], "undefined: backprop mode differentiates the forward solve's own steps");
    }
  }
  const { batch: B, dim: D } = sol;
  const T = sol.t.length;
  const P = f.parameterCount;
  const tableau = getTableau(fwd.method);
  const before = { ...rt.counters };

  // Size the tape from the forward solve's step counts: k ≈ √N steps per segment.
  const stats = await sol.stats();
  const N = Math.max(1, ...stats.accepted);
  const segLen = Math.max(1, Math.ceil(Math.sqrt(N)));
  // Checkpoints for N steps, with slack in case the replay takes a few more.
  const nCkpt = Math.ceil((1.25 * N) / segLen) + 2;
  const words = backpropWords(D);
  const perSample = 4 * (nCkpt * words.checkpoint + segLen * words.record + words.work + P);
  const budget = options.memoryBudget ?? Math.min(DEFAULT_BUDGET, rt.limits.maxStorageBufferBindingSize);
  const chunk = Math.max(
    1,
    Math.floor(
      Math.min(
        B,
        budget / perSample,
        rt.limits.maxStorageBufferBindingSize / (4 * P),
        rt.limits.maxComputeWorkgroupsPerDimension * BACKPROP_WORKGROUP,
      ),
    ),
  );
  const stepsPerDispatch = options.stepsPerDispatch ?? fwd.stepsPerDispatch;
  if (!Number.isInteger(stepsPerDispatch) || stepsPerDispatch < 1) {
    throw new ArgumentError('options.stepsPerDispatch', stepsPerDispatch, 'an integer ≥ 1');
  }

  const spec = { mlp: f.spec, tableau };
  const layout = explicitLayout(device, 'backprop', BACKPROP_BINDINGS);
  const pipeline = rt.pipeline(backpropKey(spec), `backprop ${tableau.name}`, () => ({
    code: backpropWgsl(spec),
    entryPoint: 'backprop',
    layout: layout.pipeline,
  }));
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
    const uniform = make('backprop params', BACKPROP_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const tout = make('backprop output times', T * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(tout, 0, Float32Array.from(sol.t));
    const samples = make('backprop samples', chunk * SAMPLE.stride, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const work = make('backprop work', chunk * words.work * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const tape = make('backprop tape', chunk * (nCkpt * words.checkpoint + segLen * words.record) * 4, GPUBufferUsage.STORAGE);
    const acc = make('backprop parameter accumulators', chunk * P * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const part = make('backprop partial sums', Math.ceil(chunk / REDUCE_ROWS) * P * 4, GPUBufferUsage.STORAGE);
    const redUniform = make('reduce params', REDUCE_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const bindGroup = bindBuffers(device, 'backprop bind group', layout.bindGroup, [
      uniform,
      f.params.buffer,
      sol.y.buffer, // row 0 of the outputs is y0
      tout,
      cot,
      samples,
      work,
      tape,
      acc,
      gy0.buffer,
    ]);
    const redGroup = bindBuffers(device, 'reduce bind group', reduceLayout(device).bindGroup, [redUniform, acc, part, gth.buffer]);
    const dir = T > 1 ? Math.sign(sol.t[T - 1] - sol.t[0]) : 1;

    let nfe = 0;
    let maxNfe = 0;
    let chunks = 0;
    const failures: SampleFailure[] = [];
    for (let offset = 0; offset < B; offset += chunk) {
      const count = Math.min(chunk, B - offset);
      chunks++;
      const params: BackpropParamsValues = {
        batch: count,
        offset,
        total: B,
        n_out: T,
        steps_per_dispatch: stepsPerDispatch,
        max_steps: fwd.maxSteps,
        n_params: P,
        seg_len: segLen,
        n_ckpt: nCkpt,
        dir,
        rtol: fwd.rtol,
        atol: fwd.atol,
        h_fixed: dir * fwd.stepSize,
        first_step: fwd.firstStep,
        t0: sol.t[0],
        t_end: sol.t[T - 1],
      };
      device.queue.writeBuffer(uniform, 0, BACKPROP_PARAMS.pack(params));
      device.queue.writeBuffer(redUniform, 0, REDUCE_PARAMS.pack({ rows: count, n_params: P, parts: Math.ceil(count / REDUCE_ROWS) }));
      const { totals, failures: failed } = await runSampleChunk(rt, {
        label: `backprop ${tableau.name}`,
        pipeline,
        bindGroup,
        samples,
        clear: [work, acc],
        count,
        offset,
        workgroupSize: BACKPROP_WORKGROUP,
      });
      nfe += totals.nfe_total;
      maxNfe = Math.max(maxNfe, totals.nfe_max);
      if (failed.length) {
        failures.push(...failed);
        break;
      }
      recordReduce(rt, reduce, redGroup, P, count);
    }
    const summary: BackwardSummary = {
      nfe,
      maxNfe,
      accepted: stats.total.accepted,
      rejected: stats.total.rejected,
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
    release();
  }
}
