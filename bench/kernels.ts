/**
 * Table 2: the MLP forward kernel, as users call it (`MLP.forward`, which
 * allocates its output and submits per call) and as the kernel alone (many
 * dispatches of the same pipeline in one pass, one wait), in GFLOP/s and as a
 * share of the measured FMA peak. The tanh cost is measured separately: the
 * same kernel with the identity activation, same run.
 */
import { type Activation, MLP, Tensor, type Runtime, mulberry32 } from '../src/index';
import { EVAL_PARAMS, type ForwardShape, forwardShape, forwardWorkgroups, mlpForwardKernel, mlpForwardSpec } from '../src/kernels/mlp-forward';
import type { BoundKernel } from '../src/runtime/kernel';
import { type MlpSpec, mlpFlops } from '../src/mlp/mlp';
import type { Limits } from './limits';
import { type SectionResult, int, ms, pct, sig } from './table';
import { type Sample, calibrate, gpuIdle, interleave, median, progress, repeat, timed } from './timing';
import { type VjpKind, VjpKernels, checkVjp, vjpFlops } from './vjp';

export const KERNEL_LAYERS: readonly (readonly number[])[] = [
  [2, 64, 2],
  [4, 64, 64, 4],
  [2, 512, 2],
];
export const KERNEL_BATCHES: readonly number[] = [1024, 16_384, 65_536];
/** Batches of the VJP rows (B = 65,536 would need 1.24 GB of θ rows for [4, 64, 64, 4], over the 1 GiB binding limit, and a minute of run time). */
export const VJP_BATCHES: readonly number[] = [16_384];
/** Relative tolerance of the VJP kernels against float64 (same arithmetic, different summation order). */
export const VJP_TOLERANCE = 1e-5;
const TARGET_MS = 120;

/** Activation evaluations per sample: one per hidden unit. */
export function activationsPerSample(layers: readonly number[]): number {
  return layers.slice(1, -1).reduce((a, b) => a + b, 0);
}

/** Seeded states in [-scale, scale]. */
export function randomStates(n: number, seed: number, scale = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * rng() - 1) * scale);
}

/**
 * Times the forward kernel alone: `n` dispatches over the batch `z` in one
 * pass, one submit, one wait. Uses the very kernel `MLP.forward` uses (same
 * definition and spec), with one bind group built up front; `shape` times
 * another lane count instead (lanes 1: one sample per invocation, as the
 * solver kernels evaluate the MLP).
 */
export class ForwardKernelTimer {
  private readonly rt: Runtime;
  private readonly kernel: BoundKernel<'forward'>;
  private readonly buffers: GPUBuffer[];
  private readonly workgroups: number;

  constructor(rt: Runtime, spec: MlpSpec, theta: Tensor, z: Tensor, batch: number, shape: ForwardShape = forwardShape(spec)) {
    this.rt = rt;
    const device = rt.device;
    const kernelSpec = mlpForwardSpec(spec, shape);
    const uniform = rt.createBuffer('bench forward params', EVAL_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const out = rt.createBuffer('bench forward out', z.size * 4, GPUBufferUsage.STORAGE);
    this.buffers = [uniform, out];
    device.queue.writeBuffer(uniform, 0, EVAL_PARAMS.pack({ batch, t: 0 }));
    this.kernel = rt.kernel(mlpForwardKernel, kernelSpec).bind({ P: uniform, theta: theta.buffer, z: z.buffer, out }, 'bench forward');
    this.workgroups = forwardWorkgroups(kernelSpec, batch);
  }

  /** Milliseconds for `n` evaluations of the whole batch. */
  run(n: number): Promise<number> {
    const device = this.rt.device;
    return timed(async () => {
      const encoder = device.createCommandEncoder({ label: 'bench forward' });
      const pass = encoder.beginComputePass({ label: 'bench forward' });
      for (let i = 0; i < n; i++) this.kernel.dispatch(pass, 'forward', this.workgroups);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await gpuIdle(device);
    });
  }

  /** Median milliseconds of one evaluation, over calibrated runs. */
  async perEval(targetMs = TARGET_MS): Promise<{ ms: number; sample: Sample; n: number }> {
    const n = await calibrate((k) => this.run(k), targetMs, 2048);
    const sample = await repeat(() => this.run(n), { warmup: 0, repeats: 5, budgetMs: 1_500 });
    return { ms: sample.median / n, sample, n };
  }

  destroy(): void {
    for (const b of this.buffers) this.rt.destroyBuffer(b);
  }
}

/** `n` MLP.forward calls (allocation, bind group, submit each), one wait; outputs destroyed after the clock stops. */
function forwardCalls(f: MLP, z: Tensor, n: number): Promise<number> {
  const outs: Tensor[] = [];
  return timed(async () => {
    for (let i = 0; i < n; i++) outs.push(f.forward(z, 0));
    await gpuIdle(f.runtime.device);
  }).finally(() => {
    for (const o of outs) o.destroy();
  });
}

export interface KernelRow {
  readonly layers: readonly number[];
  readonly batch: number;
  readonly flopsPerSample: number;
  readonly activationsPerSample: number;
  /** Samples per invocation of the forward kernel (K). */
  readonly lanes: number;
  /** One MLP.forward call. */
  readonly callMs: number;
  /** One dispatch of the forward kernel. */
  readonly kernelMs: number;
  /** The same kernel with the identity activation. */
  readonly identityMs: number;
  readonly callGflops: number;
  readonly kernelGflops: number;
  readonly fractionOfPeak: number;
  /** 1 − t(identity)/t(tanh), median of interleaved rounds. */
  readonly tanhShare: number;
}

async function measureOne(rt: Runtime, layers: readonly number[], batch: number, peak: number): Promise<KernelRow> {
  const D = layers[layers.length - 1];
  const make = (activation: Activation) => new MLP(rt, { layers, activation, seed: 1 });
  // Same seed, so the same parameters: only the activation differs.
  const f = make('tanh');
  const fId = make('identity');
  const z = Tensor.fromArray(rt, randomStates(batch * D, 7), [batch, D], 'bench z');
  const timers: ForwardKernelTimer[] = [];
  try {
    const kt = new ForwardKernelTimer(rt, f.spec, f.params, z, batch);
    timers.push(kt);
    const it = new ForwardKernelTimer(rt, fId.spec, fId.params, z, batch);
    timers.push(it);
    const n = await calibrate((k) => kt.run(k), TARGET_MS, 2048);
    await it.run(1); // compiles the identity pipeline
    const nc = await calibrate((k) => forwardCalls(f, z, k), TARGET_MS, 512);
    // Interleaved, so the tanh/identity ratio and the call overhead see the same machine load.
    const { samples, ratios } = await interleave([() => kt.run(n), () => it.run(n), () => forwardCalls(f, z, nc)], {
      repeats: 5,
      minRepeats: 3,
      budgetMs: 2_000,
    });
    const kernelMs = samples[0].median / n;
    const callMs = samples[2].median / nc;
    const flops = mlpFlops(f.spec);
    const rate = (msPerEval: number) => (flops * batch) / (msPerEval * 1e6);
    progress(`kernels: [${layers.join(', ')}] B = ${batch}: ${sig(rate(kernelMs))} GFLOP/s`);
    return {
      layers,
      batch,
      flopsPerSample: flops,
      activationsPerSample: activationsPerSample(layers),
      lanes: forwardShape(f.spec).lanes,
      callMs,
      kernelMs,
      identityMs: samples[1].median / n,
      callGflops: rate(callMs),
      kernelGflops: rate(kernelMs),
      fractionOfPeak: rate(kernelMs) / peak,
      tanhShare: 1 - median(ratios[1]),
    };
  } finally {
    for (const t of timers) t.destroy();
    z.destroy();
    f.destroy();
    fId.destroy();
  }
}

export interface VjpRow {
  readonly kind: VjpKind;
  readonly layers: readonly number[];
  readonly batch: number;
  readonly paramCount: number;
  readonly flopsPerSample: number;
  /** One dispatch of the VJP kernel (many in one pass, one wait). */
  readonly kernelMs: number;
  readonly sample: Sample;
  readonly n: number;
  readonly gflops: number;
  readonly fractionOfPeak: number;
  /** Worst norm-wise relative difference from float64 (f and vᵀ∂f/∂z for 'z'; the θ row for 'theta'). */
  readonly check: number;
}

/** Both VJP kernels (bench/vjp.ts) of one shape and batch: checked against float64, then timed like the forward kernel. */
async function measureVjp(rt: Runtime, layers: readonly number[], batch: number, peak: number): Promise<VjpRow[]> {
  const f = new MLP(rt, { layers, activation: 'tanh', seed: 1 });
  const k = new VjpKernels(rt, f.spec, f.params.buffer, batch);
  try {
    const check = await checkVjp(k, await f.params.read(), true);
    const rows: VjpRow[] = [];
    for (const kind of ['z', 'theta'] as const) {
      const n = await calibrate((m) => k.run(kind, m), TARGET_MS, 512);
      const sample = await repeat(() => k.run(kind, n), { warmup: 0, repeats: 5, minRepeats: 3, budgetMs: 1_500 });
      const kernelMs = sample.median / n;
      const flops = vjpFlops(f.spec, kind);
      const gflops = (flops * batch) / (kernelMs * 1e6);
      progress(`kernels: VJP wrt ${kind} [${layers.join(', ')}] B = ${batch}: ${sig(gflops)} GFLOP/s`);
      rows.push({
        kind,
        layers,
        batch,
        paramCount: k.paramCount,
        flopsPerSample: flops,
        kernelMs,
        sample,
        n,
        gflops,
        fractionOfPeak: gflops / peak,
        check: kind === 'z' ? check.z : check.theta,
      });
    }
    return rows;
  } finally {
    k.destroy();
    f.destroy();
  }
}

export interface KernelsMeasured {
  readonly rows: KernelRow[];
  readonly vjp: VjpRow[];
}

export async function measureKernels(rt: Runtime, limits: Limits): Promise<KernelsMeasured> {
  const rows: KernelRow[] = [];
  for (const layers of KERNEL_LAYERS) {
    for (const batch of KERNEL_BATCHES) rows.push(await measureOne(rt, layers, batch, limits.fmaGflops));
  }
  const vjp: VjpRow[] = [];
  for (const layers of KERNEL_LAYERS) {
    for (const batch of VJP_BATCHES) vjp.push(...(await measureVjp(rt, layers, batch, limits.fmaGflops)));
  }
  return { rows, vjp };
}

/**
 * What bounds the forward kernel if not the FMAs: the generated MLP code
 * loads one θ value (4 bytes) from a storage buffer per K FMAs (2K flops; K
 * samples per invocation), so storage bandwidth B bounds it at K·B / 2
 * GFLOP/s. The bound uses the copy kernel's bandwidth from table 1 — a model,
 * stated as one.
 */
function loadBound(rows: readonly KernelRow[], limits: Limits): string {
  const best = rows.reduce((a, r) => (r.kernelGflops > a.kernelGflops ? r : a));
  const bound = (best.lanes * limits.copyGBs) / 2;
  return (
    `θ loads: the kernel reads one θ value (4 B) from storage per K FMAs (2K flop), so the measured storage bandwidth of ${sig(limits.copyGBs)} GB/s ` +
    `bounds it at K·${sig(limits.copyGBs / 2)} GFLOP/s; its best row (K = ${best.lanes}) reaches ${pct(best.kernelGflops / bound)} of that bound ` +
    `(${sig(bound)} GFLOP/s, ${pct(bound / limits.fmaGflops)} of the FMA peak).`
  );
}

export function kernelsSection({ rows, vjp }: KernelsMeasured, limits: Limits): SectionResult {
  const label = (l: readonly number[]) => `[${l.join(', ')}]`;
  const body = rows.map((r) => [
    'forward',
    label(r.layers),
    int(r.batch),
    int(r.flopsPerSample),
    int(r.activationsPerSample),
    ms(r.callMs),
    sig(r.callGflops),
    ms(r.kernelMs),
    sig(r.kernelGflops),
    pct(r.fractionOfPeak),
    pct(r.tanhShare),
    '',
  ]);
  const vjpBody = (['z', 'theta'] as const).flatMap((kind) =>
    vjp
      .filter((r) => r.kind === kind)
      .map((r) => [
        kind === 'z' ? 'VJP wrt z' : 'VJP wrt θ',
        label(r.layers),
        int(r.batch),
        int(r.flopsPerSample),
        int(activationsPerSample(r.layers)),
        '—',
        '',
        ms(r.kernelMs),
        sig(r.gflops),
        pct(r.fractionOfPeak),
        '',
        `${r.check.toExponential(1)} ${r.check <= VJP_TOLERANCE ? 'ok' : 'FAILED'}`,
      ]),
  );
  const fwd16 = (l: readonly number[], b: number) => rows.find((r) => r.layers.join() === l.join() && r.batch === b);
  const vjpRatios = KERNEL_LAYERS.map((l) => {
    const z = vjp.find((r) => r.kind === 'z' && r.layers.join() === l.join());
    const t = vjp.find((r) => r.kind === 'theta' && r.layers.join() === l.join());
    const fw = z ? fwd16(l, z.batch) : undefined;
    if (!z || !t || !fw) return '';
    return `${label(l)} ${sig(z.kernelMs / fw.kernelMs)}× / ${sig(t.kernelMs / fw.kernelMs)}× (P = ${int(t.paramCount)}${t.paramCount <= 1024 ? ', private row' : ', row in storage'})`;
  }).filter(Boolean);
  const target = rows.find((r) => r.layers.join() === '4,64,64,4' && r.batch === 65_536);
  return {
    data: { rows, vjp, peakGflops: limits.fmaGflops },
    tables: [
      {
        id: '2',
        title: 'Kernels: MLP forward and VJPs',
        columns: [
          'kernel',
          'layers',
          'B',
          'flop/sample',
          'tanh/sample',
          'MLP.forward call',
          'GFLOP/s',
          'kernel only',
          'GFLOP/s',
          '% FMA peak',
          'tanh share',
          'check vs f64',
        ],
        rows: [...body, ...vjpBody],
        notes: [
          `flop/sample counts 2·in·out per Linear layer (mlpFlops); activations are not counted; their share of the kernel time is 1 − t(identity)/t(tanh), the same kernel with the identity activation, median over interleaved runs.`,
          `Forward kernel: K samples per invocation as the lanes of K/4 vec4 groups (src/kernels/lanes.ts), K = ${[...new Set(rows.map((r) => r.lanes))].join(', ')} for these shapes; lane by lane the same arithmetic as one sample per invocation.`,
          `"MLP.forward call" includes its output allocation, bind group and submit (many calls, one wait); "kernel only" is many dispatches of the same pipeline in one pass, one wait. Peak: ${sig(limits.fmaGflops)} GFLOP/s (table 1).`,
          loadBound(rows, limits),
          `VJP rows: bench/vjp.ts wraps the library's generated mlp_vjp (src/kernels/vjp.ts, the code fused into the one-sample adjoint kernel; the four-lane kernel's VJP, src/kernels/adjoint-lanes.ts, is timed only inside the solves of tables 1c and 3a) in a one-sample-per-invocation kernel: load z and a cotangent v, mlp_vjp(t, 1, accumulate), write f and vᵀ∂f/∂z (and, wrt θ, add vᵀ∂f/∂θ to the sample's own row of P floats). flop/sample counts the forward and the backward sweep (2·in·out per layer each), plus 2·P for the θ part. No user-facing call exists, so only "kernel only" is measured.`,
          `VJP time / forward kernel time at the same B (wrt z / wrt θ): ${vjpRatios.join('; ')}.`,
          `check vs f64: f and vᵀ∂f/∂z on samples 0, 1, B/2, B − 1 (VJP wrt z), and vᵀ∂f/∂θ of samples 0 and B − 1 after one dispatch on zeroed rows (VJP wrt θ), against float64 on the host: max|Δ| / max|reference| per vector, tolerance ${VJP_TOLERANCE.toExponential()}.`,
          'The machine may be shared: figures move between runs under load; ratios from interleaved runs (tanh share, call overhead) move least, and a small negative tanh share is noise.',
          target
            ? `Target: [4, 64, 64, 4] at B = 65,536 ≥ 25% of the FMA peak — measured ${pct(target.fractionOfPeak)} (${target.fractionOfPeak >= 0.25 ? 'met' : 'missed'}).`
            : '',
        ].filter(Boolean),
      },
    ],
  };
}
