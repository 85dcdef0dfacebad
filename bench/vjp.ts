/**
 * A standalone VJP kernel for table 2 and the GPU profile (table 1c).
 *
 * webode has no standalone VJP kernel: its VJPs (src/kernels/vjp.ts) are
 * fused into the adjoint's stage kernel. This module wraps the very same
 * generated `mlp_vjp` in a one-sample-per-invocation kernel:
 *   vjp_z      loads z and a cotangent v, writes f(z) and vᵀ∂f/∂z
 *              (`mlp_vjp(t, 1.0, false)`: forward sweep + backward sweep);
 *   vjp_theta  the same, and adds vᵀ∂f/∂θ to the sample's own row of P
 *              floats of `acc` (`mlp_vjp(t, 1.0, true)`, between `acc_load()`
 *              and `acc_store()`: for P ≤ 1,024 the row lives in private memory
 *              during the dispatch, as in the adjoint kernel).
 * Layout: zv [B][2D] (z, then v), out [B][2D] (f, then vᵀ∂f/∂z), acc [B][P].
 */
import { type Runtime, mulberry32 } from '../src/index';
import { EVAL_PARAMS } from '../src/kernels/mlp-forward';
import { defineKernel, kernelWgsl, storage, uniform } from '../src/wgsl/kernel';
import type { BoundKernel } from '../src/runtime/kernel';
import { type MlpSpec, mlpFlops, mlpLabel, mlpOffsets, stateDim } from '../src/mlp/mlp';
import { LOCAL_ACCUMULATOR_MAX, vjpWgsl } from '../src/mlp/vjp';
import { gpuIdle, timed } from './timing';

export const VJP_WORKGROUP = 64;
export type VjpKind = 'z' | 'theta';

/** Both VJP kernels of an MLP: entry points `vjp_z` and `vjp_theta` over one bind group. */
export const benchVjpKernel = defineKernel({
  name: 'bench-vjp',
  bindings: () => ({
    U: uniform(EVAL_PARAMS),
    theta: storage('read'),
    zv: storage('read'),
    out: storage('read_write'),
    acc: storage('read_write'),
  }),
  entryPoints: ['vjp_z', 'vjp_theta'],
  wgsl: (spec: MlpSpec, decls) => vjpModule(spec, decls),
});

export function benchVjpWgsl(spec: MlpSpec): string {
  return kernelWgsl(benchVjpKernel, spec);
}

function vjpModule(spec: MlpSpec, decls: string): string {
  const D = stateDim(spec);
  const { count: P } = mlpOffsets(spec.layers);
  return `// bench: standalone VJP kernels of ${mlpLabel(spec)} (bench/vjp.ts)
${decls}

const D: u32 = ${D}u;
const NP: u32 = ${P}u;

var<private> vjp_in: array<f32, ${2 * D}>;
var<private> vjp_out: array<f32, ${2 * D}>;
var<private> acc_base: u32;
var<private> vjp_gt: f32;

${vjpWgsl(spec, { input: 'vjp_in', output: 'vjp_out', negate: false })}

fn load(b: u32) { for (var i = 0u; i < 2u * D; i++) { vjp_in[i] = zv[b * 2u * D + i]; } }
fn store(b: u32) { for (var i = 0u; i < 2u * D; i++) { out[b * 2u * D + i] = vjp_out[i]; } }

@compute @workgroup_size(${VJP_WORKGROUP})
fn vjp_z(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= U.batch) { return; }
  load(b);
  mlp_vjp(U.t, 1.0, false);
  store(b);
}

@compute @workgroup_size(${VJP_WORKGROUP})
fn vjp_theta(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= U.batch) { return; }
  acc_base = b * NP;
  acc_load();
  load(b);
  mlp_vjp(U.t, 1.0, true);
  acc_store();
  store(b);
}
`;
}

/** Flops per sample: forward and backward sweep (2·in·out per layer each), plus 2·P for the θ part. */
export function vjpFlops(spec: MlpSpec, kind: VjpKind): number {
  return 2 * mlpFlops(spec) + (kind === 'theta' ? 2 * mlpOffsets(spec.layers).count : 0);
}

/** Both VJP kernels of one spec over one batch, with their buffers. */
export class VjpKernels {
  readonly rt: Runtime;
  readonly spec: MlpSpec;
  readonly batch: number;
  readonly paramCount: number;
  readonly zv: Float32Array;
  readonly out: GPUBuffer;
  readonly acc: GPUBuffer;
  private readonly kernel: BoundKernel<'vjp_z' | 'vjp_theta'>;
  private readonly owned: GPUBuffer[];
  readonly workgroups: number;

  /** `theta` is the MLP's parameter buffer; z and v are seeded uniform in ±1. */
  constructor(rt: Runtime, spec: MlpSpec, theta: GPUBuffer, batch: number, { withAcc = true }: { withAcc?: boolean } = {}) {
    this.rt = rt;
    this.spec = spec;
    this.batch = batch;
    const device = rt.device;
    const D = stateDim(spec);
    this.paramCount = mlpOffsets(spec.layers).count;
    const S = GPUBufferUsage.STORAGE;
    const uniform = rt.createBuffer('bench vjp params', EVAL_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, EVAL_PARAMS.pack({ batch, t: 0 }));
    const rng = mulberry32(7);
    this.zv = Float32Array.from({ length: batch * 2 * D }, () => 2 * rng() - 1);
    const zvBuf = rt.createBuffer('bench vjp z, v', this.zv.byteLength, S | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(zvBuf, 0, this.zv);
    this.out = rt.createBuffer('bench vjp out', batch * 2 * D * 4, S | GPUBufferUsage.COPY_SRC);
    // The z kernel never touches acc; without θ rows a 16-byte stand-in is bound.
    this.acc = rt.createBuffer('bench vjp acc', withAcc ? batch * this.paramCount * 4 : 16, S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.owned = [uniform, zvBuf, this.out, this.acc];
    this.kernel = rt.kernel(benchVjpKernel, spec).bind({ U: uniform, theta, zv: zvBuf, out: this.out, acc: this.acc }, 'bench vjp');
    this.workgroups = Math.ceil(batch / VJP_WORKGROUP);
  }

  /** Records `n` dispatches of one kernel in a new pass of `encoder`. */
  record(encoder: GPUCommandEncoder, kind: VjpKind, n: number): void {
    const pass = encoder.beginComputePass({ label: `bench vjp_${kind}` });
    for (let i = 0; i < n; i++) this.kernel.dispatch(pass, `vjp_${kind}`, this.workgroups);
    pass.end();
  }

  /** Milliseconds for `n` dispatches in one pass, one submit, one wait. */
  run(kind: VjpKind, n: number): Promise<number> {
    const device = this.rt.device;
    return timed(async () => {
      const encoder = device.createCommandEncoder({ label: `bench vjp_${kind}` });
      this.record(encoder, kind, n);
      device.queue.submit([encoder.finish()]);
      await gpuIdle(device);
    });
  }

  /** Zeroes the accumulators, runs one θ dispatch (untimed). */
  async freshTheta(): Promise<void> {
    const encoder = this.rt.device.createCommandEncoder({ label: 'bench vjp check' });
    encoder.clearBuffer(this.acc);
    this.record(encoder, 'theta', 1);
    this.rt.device.queue.submit([encoder.finish()]);
    await gpuIdle(this.rt.device);
  }

  destroy(): void {
    for (const b of this.owned) this.rt.destroyBuffer(b);
  }
}

/**
 * Float64 reference of one sample: f(z), vᵀ∂f/∂z and vᵀ∂f/∂θ (the same
 * clamped tanh as the kernels; activation tanh only, no time input).
 */
export function vjpReference(spec: MlpSpec, theta: Float32Array, z: ArrayLike<number>, v: ArrayLike<number>) {
  if (spec.activation !== 'tanh' || spec.timeInput) throw new Error('vjpReference: tanh MLPs without time input only');
  const { layers, count } = mlpOffsets(spec.layers);
  const xs: number[][] = [Array.from(z)];
  const us: number[][] = [];
  let f: number[] = [];
  layers.forEach((Ly, l) => {
    const y: number[] = [];
    for (let o = 0; o < Ly.outWidth; o++) {
      let s = theta[Ly.bias + o];
      for (let i = 0; i < Ly.inWidth; i++) s += theta[Ly.weight + o * Ly.inWidth + i] * xs[l][i];
      y.push(s);
    }
    if (l === layers.length - 1) f = y;
    else {
      us.push(y);
      xs.push(y.map((u) => Math.tanh(Math.max(-9.1, Math.min(9.1, u)))));
    }
  });
  const gtheta = new Float64Array(count);
  let d = Array.from(v);
  for (let l = layers.length - 1; l >= 0; l--) {
    const Ly = layers[l];
    for (let o = 0; o < Ly.outWidth; o++) {
      gtheta[Ly.bias + o] += d[o];
      for (let i = 0; i < Ly.inWidth; i++) gtheta[Ly.weight + o * Ly.inWidth + i] += d[o] * xs[l][i];
    }
    const back: number[] = [];
    for (let i = 0; i < Ly.inWidth; i++) {
      let s = 0;
      for (let o = 0; o < Ly.outWidth; o++) s += theta[Ly.weight + o * Ly.inWidth + i] * d[o];
      back.push(l > 0 ? s * (Math.abs(us[l - 1][i]) < 9.1 ? 1 - xs[l][i] ** 2 : 0) : s);
    }
    d = back;
  }
  return { f, gz: d, gtheta };
}

/** max|a − b| / max|b|. */
export function normRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den > 0 ? num / den : num;
}

/**
 * Checks both kernels against the float64 reference on a few samples: f and
 * vᵀ∂f/∂z from the θ dispatch's `out` (the z kernel runs the same code
 * without accumulation), and the θ row of the first and last sample after one
 * dispatch on zeroed accumulators. Returns the worst norm-wise relative
 * difference of each, per sample (max|Δ| / max|reference| of the vector).
 */
export async function checkVjp(k: VjpKernels, theta: Float32Array, hasAcc: boolean): Promise<{ z: number; theta: number; samples: number[] }> {
  const rt = k.rt;
  const D = stateDim(k.spec);
  const B = k.batch;
  const samples = [...new Set([0, 1, B >> 1, B - 1])];
  let worstZ = 0;
  let worstT = 0;
  // The z kernel's own output first.
  const encoder = rt.device.createCommandEncoder({ label: 'bench vjp check z' });
  k.record(encoder, 'z', 1);
  rt.device.queue.submit([encoder.finish()]);
  const outZ = new Float32Array(await rt.readBuffer(k.out, 0, B * 2 * D * 4));
  for (const b of samples) {
    const z = k.zv.subarray(b * 2 * D, b * 2 * D + D);
    const v = k.zv.subarray(b * 2 * D + D, b * 2 * D + 2 * D);
    const ref = vjpReference(k.spec, theta, z, v);
    worstZ = Math.max(worstZ, normRelDiff(outZ.subarray(b * 2 * D, b * 2 * D + D), ref.f));
    worstZ = Math.max(worstZ, normRelDiff(outZ.subarray(b * 2 * D + D, b * 2 * D + 2 * D), ref.gz));
  }
  if (hasAcc) {
    await k.freshTheta();
    for (const b of [samples[0], samples[samples.length - 1]]) {
      const row = new Float32Array(await rt.readBuffer(k.acc, b * k.paramCount * 4, k.paramCount * 4));
      const ref = vjpReference(k.spec, theta, k.zv.subarray(b * 2 * D, b * 2 * D + D), k.zv.subarray(b * 2 * D + D, b * 2 * D + 2 * D));
      worstT = Math.max(worstT, normRelDiff(row, ref.gtheta));
    }
  } else worstT = NaN;
  return { z: worstZ, theta: worstT, samples };
}

export { LOCAL_ACCUMULATOR_MAX };
