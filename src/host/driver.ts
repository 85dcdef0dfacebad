/**
 * Runs a per-sample solve to completion without a host wait per step.
 *
 * The caller records "units" of work into a compute pass (the forward kernel:
 * dispatches that each advance every running sample by up to
 * stepsPerDispatch attempts; batch mode: one shared attempt; the adjoint: like
 * the forward kernel). The driver submits chunks of units, each followed by
 * the summary kernel and a copy of its few words to a mappable buffer. Two
 * chunks are in flight at a time, so the GPU never idles while the host reads
 * a summary; chunk lengths double up to a cap, so a solve of N steps costs
 * O(log N) host waits, and after the last sample finishes at most one extra
 * chunk of early-exiting dispatches runs.
 */
import { SUMMARY, SUMMARY_PARAMS, type SummaryField, summaryKey, summaryWgsl } from '../kernels/summary';
import { SAMPLE } from '../kernels/rk';
import type { SampleFailure } from './errors';
import type { Runtime } from './runtime';
import { parseSamples } from './solve';

export interface DriveSpec {
  readonly label: string;
  /** Samples the summary folds (the first `batch` entries of `samples`). */
  readonly batch: number;
  readonly samples: GPUBuffer;
  /** Workgroups of a per-sample dispatch. */
  readonly workgroups: number;
  /**
   * Records `units` units of work into `pass` (pipelines and bind groups
   * included); per-sample dispatches use `dispatchWorkgroupsIndirect(indirect, 0)`,
   * which the summary zeroes once no sample runs. Returns the dispatches recorded.
   */
  record(pass: GPUComputePassEncoder, units: number, indirect: GPUBuffer): number;
  readonly firstChunk: number;
  readonly maxChunk: number;
}

/** The summary words after the run, by field. */
export type SummaryValues = Readonly<Record<SummaryField, number>>;

export async function driveToCompletion(rt: Runtime, spec: DriveSpec): Promise<SummaryValues> {
  const device = rt.device;
  const summaryPipeline = rt.pipeline(summaryKey(), 'summary', () => ({ code: summaryWgsl(), entryPoint: 'summarize' }));
  const owned: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(label, bytes, usage);
    owned.push(b);
    return b;
  };
  try {
    const uniform = make(`${spec.label} summary params`, SUMMARY_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, SUMMARY_PARAMS.pack({ batch: spec.batch, workgroups: spec.workgroups }));
    const indirect = make(
      `${spec.label} indirect dispatch`,
      12,
      GPUBufferUsage.INDIRECT | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    );
    device.queue.writeBuffer(indirect, 0, new Uint32Array([spec.workgroups, 1, 1]));
    const summary = make(`${spec.label} summary`, SUMMARY.byteSize, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const readbacks = [0, 1].map(() =>
      make(`${spec.label} summary readback`, SUMMARY.byteSize, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    );
    const summaryGroup = device.createBindGroup({
      label: `${spec.label} summary bind group`,
      layout: summaryPipeline.getBindGroupLayout(0),
      entries: [spec.samples, summary, uniform, indirect].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });

    const submitChunk = (units: number, readback: GPUBuffer) => {
      const encoder = device.createCommandEncoder({ label: `${spec.label} chunk of ${units}` });
      const pass = encoder.beginComputePass({ label: spec.label });
      const dispatches = spec.record(pass, units, indirect);
      pass.setPipeline(summaryPipeline);
      pass.setBindGroup(0, summaryGroup);
      pass.dispatchWorkgroups(1);
      pass.end();
      encoder.copyBufferToBuffer(summary, 0, readback, 0, SUMMARY.byteSize);
      rt.counters.dispatches += dispatches + 1;
      rt.submit([encoder.finish()]);
    };

    let chunk = spec.firstChunk;
    submitChunk(chunk, readbacks[0]);
    chunk = Math.min(chunk * 2, spec.maxChunk);
    submitChunk(chunk, readbacks[1]);
    const inflight = [readbacks[0], readbacks[1]];
    for (;;) {
      const rb = inflight.shift();
      if (!rb) throw new Error('webode: internal error: no chunk in flight');
      await rt.wait(rb.mapAsync(GPUMapMode.READ));
      const values = SUMMARY.unpack(new DataView(rb.getMappedRange().slice(0)));
      rb.unmap();
      if (values.running === 0) return values;
      chunk = Math.min(chunk * 2, spec.maxChunk);
      submitChunk(chunk, rb);
      inflight.push(rb);
    }
  } finally {
    for (const b of owned) rt.destroyBuffer(b);
  }
}

/** One chunk of samples of a gradient solve (adjoint or backprop), run to completion. */
export interface SampleChunk {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  /** The per-sample state of the chunk (zeroed here first). */
  readonly samples: GPUBuffer;
  /** Other buffers zeroed before the chunk starts. */
  readonly clear: readonly GPUBuffer[];
  /** Samples in the chunk and the global index of its first one. */
  readonly count: number;
  readonly offset: number;
  readonly workgroupSize: number;
}

/**
 * Zeroes the chunk's state, runs its single-entry-point kernel to completion
 * (one indirect dispatch per unit) and returns the totals and the failing
 * samples (global indices; reading them costs one more host wait, only on failure).
 */
export async function runSampleChunk(
  rt: Runtime,
  chunk: SampleChunk,
): Promise<{ totals: SummaryValues; failures: SampleFailure[] }> {
  const clear = rt.device.createCommandEncoder({ label: `${chunk.label} reset` });
  for (const b of [chunk.samples, ...chunk.clear]) clear.clearBuffer(b);
  rt.submit([clear.finish()]);
  const totals = await driveToCompletion(rt, {
    label: chunk.label,
    batch: chunk.count,
    samples: chunk.samples,
    firstChunk: 2,
    maxChunk: 64,
    workgroups: Math.ceil(chunk.count / chunk.workgroupSize),
    record: (pass, units, indirect) => {
      pass.setPipeline(chunk.pipeline);
      pass.setBindGroup(0, chunk.bindGroup);
      for (let i = 0; i < units; i++) pass.dispatchWorkgroupsIndirect(indirect, 0);
      return units;
    },
  });
  const failures: SampleFailure[] = [];
  if (totals.failed > 0) {
    const stats = parseSamples(await rt.readBuffer(chunk.samples, 0, chunk.count * SAMPLE.stride), chunk.count);
    stats.status.forEach((st, i) => {
      if (st !== 'done' && st !== 'running') failures.push({ sample: chunk.offset + i, kind: st, t: stats.tReached[i] });
    });
  }
  return { totals, failures };
}
