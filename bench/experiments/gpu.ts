/**
 * Experiment helpers: a device with the adapter's own limits, pipelines with
 * their compile time, timed dispatch runs, readback, the FMA-peak kernel (the
 * same kernel as bench/limits.ts, rebuilt here so its runs can be interleaved
 * with the variants' runs), and the diff measures.
 */
import { StructLayout, fillTemplate } from '../../src/kernels/layout';
import fmaSource from '../shaders/fma.wgsl?raw';
import { gpuIdle, timed } from '../timing';

export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo | null;
  readonly errors: string[];
}

export async function openGpu(): Promise<Gpu> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no adapter');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'experiments',
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxUniformBufferBindingSize: l.maxUniformBufferBindingSize,
    },
  });
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  return { device, adapterInfo: adapter.info ?? null, errors };
}

export function buffer(device: GPUDevice, label: string, size: number, usage: number, data?: ArrayBufferView): GPUBuffer {
  const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage });
  if (data) device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
}

/** Creates a pipeline and reports compile errors; returns it with its creation time (ms). */
export async function compile(device: GPUDevice, label: string, code: string, entry: string): Promise<{ pipeline: GPUComputePipeline; ms: number }> {
  const t0 = performance.now();
  const module = device.createShaderModule({ label, code });
  const info = await module.getCompilationInfo();
  const errs = info.messages.filter((m) => m.type === 'error');
  if (errs.length) {
    const lines = code.split('\n');
    throw new Error(`${label}: ${errs.map((m) => `${m.lineNum}:${m.linePos} ${m.message} | ${lines[m.lineNum - 1]}`).join('\n')}`);
  }
  device.pushErrorScope('validation');
  const pipeline = await device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint: entry } });
  const e = await device.popErrorScope();
  if (e) throw new Error(`${label}: ${e.message}`);
  return { pipeline, ms: performance.now() - t0 };
}

/** n dispatches of one pipeline in one pass, one submit, one wait; milliseconds. */
export function runN(device: GPUDevice, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: number, n: number): Promise<number> {
  return timed(async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(workgroups);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await gpuIdle(device);
  });
}

export async function readback(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

// ---- FMA peak (bench/limits.ts's kernel: 8 vec4 chains × 4 unrolled, 2048×64 invocations) ----
const FMA_CHAINS = 8;
const FMA_UNROLL = 4;
const FMA_WG = 64;
const FMA_WORKGROUPS = 2048;
const FMA_FLOPS_PER_ITER = FMA_CHAINS * FMA_UNROLL * 4 * 2;
const FMA_PARAMS = new StructLayout('FmaParams', [
  ['iters', 'u32'],
  ['a', 'f32'],
  ['b', 'f32'],
] as const);

export class FmaPeak {
  private constructor(
    private readonly device: GPUDevice,
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
    private readonly uniform: GPUBuffer,
  ) {}

  static async create(device: GPUDevice): Promise<FmaPeak> {
    const chains = Array.from({ length: FMA_CHAINS }, (_, j) => j);
    const code = fillTemplate(fmaSource, {
      PARAMS_STRUCT: FMA_PARAMS.wgsl(),
      WG: FMA_WG,
      INIT: chains.map((j) => `  var c${j} = vec4<f32>(s + ${4 * j}.0, s + ${4 * j + 1}.0, s + ${4 * j + 2}.0, s + ${4 * j + 3}.0);`).join('\n'),
      BODY: Array.from({ length: FMA_UNROLL }, () => chains.map((j) => `    c${j} = fma(c${j}, a, b);`).join('\n')).join('\n'),
      SUM: chains.map((j) => `c${j}`).join(' + '),
    });
    const { pipeline } = await compile(device, 'fma peak', code, 'fma_peak');
    const uniform = buffer(device, 'fma params', FMA_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const sink = buffer(device, 'fma sink', FMA_WG * FMA_WORKGROUPS * 16, GPUBufferUsage.STORAGE);
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [uniform, sink].map((b, binding) => ({ binding, resource: { buffer: b } })),
    });
    return new FmaPeak(device, pipeline, bindGroup, uniform);
  }

  /** One dispatch of `iters` iterations; milliseconds. */
  run(iters: number): Promise<number> {
    this.device.queue.writeBuffer(this.uniform, 0, FMA_PARAMS.pack({ iters, a: 0.999, b: 0.001 }));
    return runN(this.device, this.pipeline, this.bindGroup, FMA_WORKGROUPS, 1);
  }

  static flops(iters: number): number {
    return FMA_WG * FMA_WORKGROUPS * iters * FMA_FLOPS_PER_ITER;
  }
}

/** Diff of `v` against the reference `ref`: elementwise relative (floored at 1e-2·rms(ref)) and normwise. */
export function diff(v: Float32Array, ref: Float32Array | Float64Array): { rel: number; norm: number; finite: boolean } {
  let ss = 0;
  let mref = 0;
  for (let i = 0; i < ref.length; i++) {
    ss += ref[i] * ref[i];
    mref = Math.max(mref, Math.abs(ref[i]));
  }
  const floor = 1e-2 * Math.sqrt(ss / ref.length);
  let rel = 0;
  let mabs = 0;
  let finite = true;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(v[i])) finite = false;
    const d = Math.abs(v[i] - ref[i]);
    mabs = Math.max(mabs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(ref[i]), floor));
  }
  return { rel: finite ? rel : Infinity, norm: finite ? mabs / mref : Infinity, finite };
}
