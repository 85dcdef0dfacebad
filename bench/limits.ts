/**
 * Table 1: the adapter's own limits, measured in the same run as everything
 * else — the roofline the other figures are divided by. Peak FMA rate, copy
 * bandwidth, the fixed cost of a dispatch and of a submit, and the round trip
 * of a host wait.
 */
import type { Runtime } from '../src/index';
import { StructLayout, fillTemplate } from '../src/wgsl/layout';
import { defineKernel, storage, uniform } from '../src/wgsl/kernel';
import copySource from './shaders/copy.wgsl?raw';
import fmaSource from './shaders/fma.wgsl?raw';
import tinySource from './shaders/tiny.wgsl?raw';
import { type SectionResult, ms, sig } from './table';
import { type Sample, calibrate, gpuIdle, repeat, timed } from './timing';

/** Independent vec4 accumulator chains per invocation: enough to cover FMA latency on GPUs and SIMD CPUs alike. */
const FMA_CHAINS = 8;
/** Copies of the chain block per loop iteration, so loop overhead is small next to the FMAs. */
const FMA_UNROLL = 4;
const FMA_WG = 64;
/** Workgroups of the FMA kernel: many per core so every SIMD lane of every core is busy. */
const FMA_WORKGROUPS = 2048;
/** Floating-point operations of one loop iteration of one invocation (an FMA counts 2). */
const FMA_FLOPS_PER_ITER = FMA_CHAINS * FMA_UNROLL * 4 * 2;

const COPY_WG = 64;
const COPY_WORKGROUPS = 1024;
/** Bytes of each copy buffer: far beyond any cache. */
const COPY_BYTES = 64 * 1024 * 1024;

/** How long one calibrated run lasts. */
const TARGET_MS = 200;

const FMA_PARAMS = new StructLayout('FmaParams', [
  ['iters', 'u32'],
  ['a', 'f32'],
  ['b', 'f32'],
] as const);

const COPY_PARAMS = new StructLayout('CopyParams', [
  ['count', 'u32'],
  ['stride', 'u32'],
] as const);

const fmaKernel = defineKernel({
  name: 'bench-fma',
  bindings: () => ({ P: uniform(FMA_PARAMS), sink: storage('read_write', 'vec4<f32>') }),
  entryPoints: ['fma_peak'],
  wgsl: (_spec: null, decls) => fmaWgsl(decls),
});

const copyKernel = defineKernel({
  name: 'bench-copy',
  bindings: () => ({ P: uniform(COPY_PARAMS), src: storage('read', 'vec4<f32>'), dst: storage('read_write', 'vec4<f32>') }),
  entryPoints: ['copy'],
  wgsl: (_spec: null, decls) => fillTemplate(copySource, { BINDINGS: decls, WG: COPY_WG }),
});

const tinyKernel = defineKernel({
  name: 'bench-tiny',
  bindings: () => ({ sink: storage('read_write', 'u32') }),
  entryPoints: ['tiny'],
  wgsl: (_spec: null, decls) => fillTemplate(tinySource, { BINDINGS: decls }),
});

function fmaWgsl(decls: string): string {
  const chains = Array.from({ length: FMA_CHAINS }, (_, j) => j);
  return fillTemplate(fmaSource, {
    BINDINGS: decls,
    WG: FMA_WG,
    INIT: chains.map((j) => `  var c${j} = vec4<f32>(s + ${4 * j}.0, s + ${4 * j + 1}.0, s + ${4 * j + 2}.0, s + ${4 * j + 3}.0);`).join('\n'),
    BODY: Array.from({ length: FMA_UNROLL }, () => chains.map((j) => `    c${j} = fma(c${j}, a, b);`).join('\n')).join('\n'),
    SUM: chains.map((j) => `c${j}`).join(' + '),
  });
}

/** The figures later tables divide by. */
export interface Limits {
  /** Peak float32 rate, GFLOP/s (FMA = 2 flops). */
  readonly fmaGflops: number;
  readonly copyGBs: number;
  readonly bufferCopyGBs: number;
  readonly dispatchMs: number;
  readonly submitMs: number;
  readonly mapAsyncMs: number;
  readonly workDoneMs: number;
}

interface Measured {
  readonly limits: Limits;
  readonly samples: Record<string, Sample & { unitsPerRun: number }>;
}

async function fmaPeak(rt: Runtime): Promise<{ gflops: number; sample: Sample; iters: number }> {
  const device = rt.device;
  const invocations = FMA_WG * FMA_WORKGROUPS;
  const uniform = rt.createBuffer('bench fma params', FMA_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const sink = rt.createBuffer('bench fma sink', invocations * 16, GPUBufferUsage.STORAGE);
  try {
    const fma = rt.kernel(fmaKernel, null).bind({ P: uniform, sink }, 'bench fma');
    // a·c + b with a < 1 converges to b/(1−a): values stay finite for any loop length.
    const runIters = (iters: number) =>
      timed(async () => {
        device.queue.writeBuffer(uniform, 0, FMA_PARAMS.pack({ iters, a: 0.999, b: 0.001 }));
        const encoder = device.createCommandEncoder({ label: 'bench fma' });
        const pass = encoder.beginComputePass({ label: 'bench fma' });
        fma.dispatch(pass, 'fma_peak', FMA_WORKGROUPS);
        pass.end();
        device.queue.submit([encoder.finish()]);
        await gpuIdle(device);
      });
    const iters = await calibrate(runIters, 2 * TARGET_MS, 1 << 20);
    // The peak is every other figure's denominator: more repeats than elsewhere.
    const sample = await repeat(() => runIters(iters), { warmup: 0, repeats: 9, budgetMs: 5_000 });
    const flops = invocations * iters * FMA_FLOPS_PER_ITER;
    return { gflops: flops / (sample.median * 1e6), sample, iters };
  } finally {
    rt.destroyBuffer(uniform);
    rt.destroyBuffer(sink);
  }
}

async function copyBandwidth(rt: Runtime): Promise<{ kernel: Sample; buffer: Sample; n: number; nb: number }> {
  const device = rt.device;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = rt.createBuffer('bench copy src', COPY_BYTES, usage);
  const dst = rt.createBuffer('bench copy dst', COPY_BYTES, usage);
  const uniform = rt.createBuffer('bench copy params', COPY_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  try {
    device.queue.writeBuffer(uniform, 0, COPY_PARAMS.pack({ count: COPY_BYTES / 16, stride: COPY_WG * COPY_WORKGROUPS }));
    const copy = rt.kernel(copyKernel, null).bind({ P: uniform, src, dst }, 'bench copy');
    const runKernel = (n: number) =>
      timed(async () => {
        const encoder = device.createCommandEncoder({ label: 'bench copy' });
        const pass = encoder.beginComputePass({ label: 'bench copy' });
        for (let i = 0; i < n; i++) copy.dispatch(pass, 'copy', COPY_WORKGROUPS);
        pass.end();
        device.queue.submit([encoder.finish()]);
        await gpuIdle(device);
      });
    const runBuffer = (n: number) =>
      timed(async () => {
        const encoder = device.createCommandEncoder({ label: 'bench buffer copy' });
        for (let i = 0; i < n; i++) encoder.copyBufferToBuffer(src, 0, dst, 0, COPY_BYTES);
        device.queue.submit([encoder.finish()]);
        await gpuIdle(device);
      });
    const n = await calibrate(runKernel, TARGET_MS, 256);
    const kernel = await repeat(() => runKernel(n), { warmup: 0 });
    const nb = await calibrate(runBuffer, TARGET_MS, 256);
    const buffer = await repeat(() => runBuffer(nb), { warmup: 0 });
    return { kernel, buffer, n, nb };
  } finally {
    for (const b of [src, dst, uniform]) rt.destroyBuffer(b);
  }
}

/**
 * Fixed costs. A dispatch: n tiny dispatches in one pass, minus one, over n−1
 * (each recorded as webode records every dispatch: pipeline, bind group, dispatch).
 * A submit: n submits of one tiny dispatch each (each with its own encoder, as
 * a host-driven step loop would do), minus one submit of n tiny dispatches,
 * over n — so the dispatches themselves cancel.
 */
async function fixedCosts(rt: Runtime) {
  const device = rt.device;
  const sink = rt.createBuffer('bench tiny sink', 16, GPUBufferUsage.STORAGE);
  const staging = rt.createBuffer('bench map staging', 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const src = rt.createBuffer('bench map src', 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  try {
    const tiny = rt.kernel(tinyKernel, null).bind({ sink }, 'bench tiny');
    const encodeTiny = (n: number) => {
      const encoder = device.createCommandEncoder({ label: 'bench tiny' });
      const pass = encoder.beginComputePass({ label: 'bench tiny' });
      for (let i = 0; i < n; i++) tiny.dispatch(pass, 'tiny', 1);
      pass.end();
      return encoder.finish();
    };
    const onePass = (n: number) =>
      timed(async () => {
        device.queue.submit([encodeTiny(n)]);
        await gpuIdle(device);
      });
    const manySubmits = (n: number) =>
      timed(async () => {
        for (let i = 0; i < n; i++) device.queue.submit([encodeTiny(1)]);
        await gpuIdle(device);
      });
    const n = await calibrate(onePass, TARGET_MS, 20_000);
    const passN = await repeat(() => onePass(n));
    const pass1 = await repeat(() => onePass(1), { repeats: 15 });
    const ns = await calibrate(manySubmits, TARGET_MS, 20_000);
    const submitsN = await repeat(() => manySubmits(ns));
    const passNs = await repeat(() => onePass(ns));
    const mapRound = await repeat(
      () =>
        timed(async () => {
          const encoder = device.createCommandEncoder({ label: 'bench map' });
          encoder.copyBufferToBuffer(src, 0, staging, 0, 16);
          device.queue.submit([encoder.finish()]);
          await staging.mapAsync(GPUMapMode.READ);
          staging.unmap();
        }),
      { repeats: 31, warmup: 3 },
    );
    const workDone = await repeat(() => timed(() => gpuIdle(device)), { repeats: 31, warmup: 3 });
    return {
      dispatchMs: (passN.median - pass1.median) / (n - 1),
      submitMs: (submitsN.median - passNs.median) / ns,
      samples: { passN: { ...passN, unitsPerRun: n }, pass1: { ...pass1, unitsPerRun: 1 }, submitsN: { ...submitsN, unitsPerRun: ns }, passNs: { ...passNs, unitsPerRun: ns }, mapRound: { ...mapRound, unitsPerRun: 1 }, workDone: { ...workDone, unitsPerRun: 1 } },
      mapAsyncMs: mapRound.median,
      workDoneMs: workDone.median,
    };
  } finally {
    for (const b of [sink, staging, src]) rt.destroyBuffer(b);
  }
}

export async function measureLimits(rt: Runtime): Promise<Measured> {
  const fma = await fmaPeak(rt);
  const copy = await copyBandwidth(rt);
  const fixed = await fixedCosts(rt);
  // A copy reads and writes every byte once.
  const copyGBs = (2 * COPY_BYTES * copy.n) / (copy.kernel.median * 1e6);
  const bufferCopyGBs = (2 * COPY_BYTES * copy.nb) / (copy.buffer.median * 1e6);
  return {
    limits: {
      fmaGflops: fma.gflops,
      copyGBs,
      bufferCopyGBs,
      dispatchMs: fixed.dispatchMs,
      submitMs: fixed.submitMs,
      mapAsyncMs: fixed.mapAsyncMs,
      workDoneMs: fixed.workDoneMs,
    },
    samples: {
      fma: { ...fma.sample, unitsPerRun: fma.iters },
      copyKernel: { ...copy.kernel, unitsPerRun: copy.n },
      copyBuffer: { ...copy.buffer, unitsPerRun: copy.nb },
      ...fixed.samples,
    },
  };
}

export function limitsSection(m: Measured): SectionResult {
  const L = m.limits;
  const s = m.samples;
  const spread = (k: string) => `${s[k].runs} runs, ${ms(s[k].min)}–${ms(s[k].max)}`;
  return {
    data: m,
    tables: [
      {
        id: '1',
        title: "Adapter limits (this run's roofline)",
        columns: ['quantity', 'value', 'how', 'spread of runs'],
        rows: [
          [
            'peak float32 FMA',
            `${sig(L.fmaGflops)} GFLOP/s`,
            `${FMA_CHAINS} vec4 chains × ${FMA_UNROLL} unrolled, ${FMA_WORKGROUPS}×${FMA_WG} invocations × ${s.fma.unitsPerRun} iterations`,
            spread('fma'),
          ],
          ['storage copy (kernel)', `${sig(L.copyGBs)} GB/s`, `${COPY_BYTES >> 20} MiB read + written, ×${s.copyKernel.unitsPerRun} per run`, spread('copyKernel')],
          ['copyBufferToBuffer', `${sig(L.bufferCopyGBs)} GB/s`, `${COPY_BYTES >> 20} MiB read + written, ×${s.copyBuffer.unitsPerRun} per run`, spread('copyBuffer')],
          ['one dispatch in a pass', ms(L.dispatchMs), `(${s.passN.unitsPerRun} tiny dispatches − 1) / ${s.passN.unitsPerRun - 1}`, spread('passN')],
          ['one submit (own encoder)', ms(L.submitMs), `(${s.submitsN.unitsPerRun} submits − 1 submit of as many dispatches) / ${s.submitsN.unitsPerRun}`, spread('submitsN')],
          ['mapAsync round trip', ms(L.mapAsyncMs), 'copy 16 B, submit, mapAsync, unmap; idle queue', spread('mapRound')],
          ['onSubmittedWorkDone round trip', ms(L.workDoneMs), 'idle queue', spread('workDone')],
        ],
        notes: ['Medians after warm-up. An FMA counts 2 flops; copy bandwidth counts bytes read plus bytes written.'],
      },
    ],
  };
}

/**
 * Table 1b: the FMA peak measured again after everything else. The two
 * figures bracket the run; when they differ much, the machine's load changed
 * during the run and every ratio to the peak is that uncertain.
 */
export async function recheckSection(rt: Runtime, start: Limits): Promise<SectionResult> {
  const end = await fmaPeak(rt);
  return {
    data: { startGflops: start.fmaGflops, endGflops: end.gflops, endSample: end.sample },
    tables: [
      {
        id: '1b',
        title: 'Stability: the FMA peak at the start and at the end of the run',
        columns: ['when', 'peak float32 FMA', 'spread of runs'],
        rows: [
          ['start (table 1)', `${sig(start.fmaGflops)} GFLOP/s`, ''],
          ['end', `${sig(end.gflops)} GFLOP/s`, `${end.sample.runs} runs, ${ms(end.sample.min)}–${ms(end.sample.max)}`],
          ['end / start', `${sig(end.gflops / start.fmaGflops)}×`, ''],
        ],
        notes: ['Far from 1× means the machine was busy with other work during part of the run.'],
      },
    ],
  };
}
