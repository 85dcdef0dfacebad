/**
 * Experiment: GFLOP/s of MLP-forward variants against the library's kernel
 * and the FMA peak, all interleaved in the same rounds (so ratios see the same
 * machine load), with every variant's output checked against the baseline's.
 */
import { mulberry32 } from '../../src/index';
import { type MlpSpec, mlpFlops, mlpOffsets } from '../../src/kernels/mlp';
import { calibrate, median } from '../timing';
import { FmaPeak, type Gpu, buffer, compile, diff, readback, runN } from './gpu';
import { type GenOptions, type Variant, baseline, copyVariant, generate, vec4Weights } from './variants';

export interface Table {
  readonly title: string;
  readonly columns: string[];
  readonly rows: (string | number)[][];
  readonly notes: string[];
}

/** PyTorch nn.Linear default init U(−1/√in, 1/√in), seeded. */
export function initTheta(layers: readonly number[], seed: number): Float32Array {
  const { layers: L, count } = mlpOffsets(layers);
  const rng = mulberry32(seed);
  const th = new Float32Array(count);
  for (const Ly of L) {
    const s = 1 / Math.sqrt(Ly.inWidth);
    for (let i = 0; i < Ly.inWidth * Ly.outWidth; i++) th[Ly.weight + i] = (2 * rng() - 1) * s;
    for (let o = 0; o < Ly.outWidth; o++) th[Ly.bias + o] = (2 * rng() - 1) * s;
  }
  return th;
}

/** float64 reference of the MLP (tanh hidden layers) for samples [0, n). */
export function referenceF64(layers: readonly number[], theta: Float32Array, z: Float32Array, n: number): Float64Array {
  const { layers: L } = mlpOffsets(layers);
  const D = layers[layers.length - 1];
  const IN = layers[0];
  const out = new Float64Array(n * D);
  for (let b = 0; b < n; b++) {
    let x = Array.from({ length: IN }, (_, d) => z[b * IN + d]);
    L.forEach((Ly, l) => {
      const y: number[] = [];
      for (let o = 0; o < Ly.outWidth; o++) {
        let s = theta[Ly.bias + o];
        for (let i = 0; i < Ly.inWidth; i++) s += theta[Ly.weight + o * Ly.inWidth + i] * x[i];
        y.push(l === L.length - 1 ? s : Math.tanh(s));
      }
      x = y;
    });
    for (let d = 0; d < D; d++) out[b * D + d] = x[d];
  }
  return out;
}

type Maker = (spec: MlpSpec, theta: Float32Array) => Variant;
/** A generated variant, keyed by its id. */
const gen = (id: string, desc: string, o: GenOptions): [string, Maker] => [id, (spec, theta) => generate(spec, theta, o, id, desc)];

/** Every variant of the study, by id. */
export const VARIANTS: readonly [string, Maker][] = [
  ['a', (s, t) => baseline(s, t)],
  gen('a~', "this file's generator in the baseline's configuration (sanity)", { style: 'loop', weights: 'rt', lanes: 1, tanh: 'builtin' }),
  gen('b', 'unrolled, constant θ indices (runtime-sized storage θ)', { style: 'unroll', weights: 'rt', lanes: 1, tanh: 'builtin' }),
  gen("b'", 'unrolled, constant indices, fixed-size storage θ array<f32, P>', { style: 'unroll', weights: 'sized', lanes: 1, tanh: 'builtin' }),
  ['c', (s, t) => vec4Weights(s, t, 'builtin', 'c', 'θ as array<vec4<f32>> padded rows, vec4 loads (loops)')],
  gen('d4', '4 samples/inv. as vec4 lanes, scalar θ broadcast (loops)', { style: 'loop', weights: 'rt', lanes: 4, tanh: 'builtin' }),
  gen('d8', '8 samples/inv. as two vec4 lanes (loops)', { style: 'loop', weights: 'rt', lanes: 8, tanh: 'builtin' }),
  gen('e', 'θ in workgroup memory, grid-stride over samples (loops)', { style: 'loop', weights: 'wg', lanes: 1, tanh: 'builtin' }),
  gen('e+b', 'θ in workgroup memory, grid-stride, unrolled', { style: 'unroll', weights: 'wg', lanes: 1, tanh: 'builtin' }),
  gen('f', 'θ in a uniform buffer array<vec4<f32>, N> (loops)', { style: 'loop', weights: 'uniform', lanes: 1, tanh: 'builtin' }),
  gen('f+b', 'θ uniform, unrolled (constant indices)', { style: 'unroll', weights: 'uniform', lanes: 1, tanh: 'builtin' }),
  gen('g', 'baseline structure + fast tanh (rational 13/6)', { style: 'loop', weights: 'rt', lanes: 1, tanh: 'fast' }),
  gen('d4+g', 'vec4 lanes ×4 + fast tanh (loops)', { style: 'loop', weights: 'rt', lanes: 4, tanh: 'fast' }),
  gen('e+d4+g', 'workgroup θ + lanes ×4 + fast tanh (loops)', { style: 'loop', weights: 'wg', lanes: 4, tanh: 'fast' }),
  gen("b'+g", 'unrolled, sized storage θ + fast tanh', { style: 'unroll', weights: 'sized', lanes: 1, tanh: 'fast' }),
  gen('f+b+g', 'unrolled, uniform θ + fast tanh', { style: 'unroll', weights: 'uniform', lanes: 1, tanh: 'fast' }),
  gen('f+b+s+g', 'unrolled, uniform θ, last layer streamed + fast tanh', { style: 'unroll', weights: 'uniform', lanes: 1, tanh: 'fast', stream: true }),
  gen("b'+d4", 'unrolled, sized storage θ, lanes ×4', { style: 'unroll', weights: 'sized', lanes: 4, tanh: 'builtin' }),
  gen("b'+d4+g", 'unrolled, sized storage θ, lanes ×4, fast tanh', { style: 'unroll', weights: 'sized', lanes: 4, tanh: 'fast' }),
  gen('f+b+d4', 'unrolled, uniform θ, lanes ×4', { style: 'unroll', weights: 'uniform', lanes: 4, tanh: 'builtin' }),
  gen('f+b+d4+g', 'unrolled, uniform θ, lanes ×4, fast tanh', { style: 'unroll', weights: 'uniform', lanes: 4, tanh: 'fast' }),
  gen('f+b+s+d4+g', 'unrolled, uniform θ, streamed, lanes ×4, fast tanh', { style: 'unroll', weights: 'uniform', lanes: 4, tanh: 'fast', stream: true }),
  gen('f+b+d8+g', 'unrolled, uniform θ, lanes ×8, fast tanh', { style: 'unroll', weights: 'uniform', lanes: 8, tanh: 'fast' }),
  gen('e+b+d4+g', 'workgroup θ, grid-stride, unrolled, lanes ×4, fast tanh', { style: 'unroll', weights: 'wg', lanes: 4, tanh: 'fast' }),
  gen('f+d4+g', 'uniform θ, lanes ×4, fast tanh (loops)', { style: 'loop', weights: 'uniform', lanes: 4, tanh: 'fast' }),
  ['copy', (s, t) => copyVariant(s, t)],
  gen('a-id', 'baseline structure, identity activation (tanh cost)', { style: 'loop', weights: 'rt', lanes: 1, tanh: 'none' }),
  gen('k+d4+g', 'diagnostic: θ baked as literals, unrolled, lanes ×4, fast tanh', { style: 'unroll', weights: 'const', lanes: 4, tanh: 'fast' }),
  gen('k+g', 'diagnostic: θ baked as literals, unrolled, fast tanh', { style: 'unroll', weights: 'const', lanes: 1, tanh: 'fast' }),
  gen('k+id', 'diagnostic: θ baked, unrolled, identity activation', { style: 'unroll', weights: 'const', lanes: 1, tanh: 'none' }),
  gen('f+b+d4+id', 'unrolled, uniform θ, lanes ×4, identity activation', { style: 'unroll', weights: 'uniform', lanes: 4, tanh: 'none' }),
  gen('e+b+id', 'workgroup θ, grid-stride, unrolled, identity activation', { style: 'unroll', weights: 'wg', lanes: 1, tanh: 'none' }),
  gen('e+b+g', 'workgroup θ, grid-stride, unrolled, fast tanh', { style: 'unroll', weights: 'wg', lanes: 1, tanh: 'fast' }),
  gen('e+b+g+m', 'workgroup θ, grid-stride, unrolled, fast tanh, a + w·x', { style: 'unroll', weights: 'wg', lanes: 1, tanh: 'fast', madd: true }),
  gen('e+b+s+g', 'workgroup θ, grid-stride, unrolled, streamed, fast tanh', { style: 'unroll', weights: 'wg', lanes: 1, tanh: 'fast', stream: true }),
  gen('p+b+g', 'θ copied to a private array per invocation, grid-stride, unrolled, fast tanh', { style: 'unroll', weights: 'priv', lanes: 1, tanh: 'fast' }),
  gen('e+d8+g', 'workgroup θ, grid-stride, lanes ×8, fast tanh (loops)', { style: 'loop', weights: 'wg', lanes: 8, tanh: 'fast' }),
  gen('d8+g', 'lanes ×8, fast tanh (loops)', { style: 'loop', weights: 'rt', lanes: 8, tanh: 'fast' }),
  gen('k+g+m', 'diagnostic: θ baked, unrolled, fast tanh, a + w·x', { style: 'unroll', weights: 'const', lanes: 1, tanh: 'fast', madd: true }),
  gen('s1+g', 'semi-unrolled (loop over outputs, inner product unrolled), fast tanh', { style: 'semi', weights: 'rt', lanes: 1, tanh: 'fast' }),
  gen('s1', 'semi-unrolled, builtin tanh', { style: 'semi', weights: 'rt', lanes: 1, tanh: 'builtin' }),
  gen('s4', 'semi-unrolled, lanes ×4, builtin tanh', { style: 'semi', weights: 'rt', lanes: 4, tanh: 'builtin' }),
  gen('s4+g', 'semi-unrolled, lanes ×4, fast tanh', { style: 'semi', weights: 'rt', lanes: 4, tanh: 'fast' }),
  gen('s8+g', 'semi-unrolled, lanes ×8, fast tanh', { style: 'semi', weights: 'rt', lanes: 8, tanh: 'fast' }),
  gen('s4+f+g', 'semi-unrolled, uniform θ, lanes ×4, fast tanh', { style: 'semi', weights: 'uniform', lanes: 4, tanh: 'fast' }),
  gen("s4+b'+g", 'semi-unrolled, sized storage θ, lanes ×4, fast tanh', { style: 'semi', weights: 'sized', lanes: 4, tanh: 'fast' }),
  gen('s4+e+g', 'semi-unrolled, workgroup θ, grid-stride, lanes ×4, fast tanh', { style: 'semi', weights: 'wg', lanes: 4, tanh: 'fast' }),
  gen('s1+p+g', 'semi-unrolled, private θ copy, grid-stride, fast tanh', { style: 'semi', weights: 'priv', lanes: 1, tanh: 'fast' }),
  gen('s4+p+g', 'semi-unrolled, private θ copy, grid-stride, lanes ×4, fast tanh', { style: 'semi', weights: 'priv', lanes: 4, tanh: 'fast' }),
  gen('s4+s+g', 'semi-unrolled, last layer streamed, lanes ×4, fast tanh', { style: 'semi', weights: 'rt', lanes: 4, tanh: 'fast', stream: true }),
  gen('p+b', 'θ copied to a private array, grid-stride, unrolled, builtin tanh', { style: 'unroll', weights: 'priv', lanes: 1, tanh: 'builtin' }),
  gen('p+b+id', 'θ private copy, grid-stride, unrolled, identity activation', { style: 'unroll', weights: 'priv', lanes: 1, tanh: 'none' }),
  gen('p+b+s+g', 'θ private copy, grid-stride, unrolled, streamed, fast tanh', { style: 'unroll', weights: 'priv', lanes: 1, tanh: 'fast', stream: true }),
  gen('k', 'diagnostic: θ baked, unrolled, builtin tanh', { style: 'unroll', weights: 'const', lanes: 1, tanh: 'builtin' }),
  gen('s8', 'semi-unrolled, lanes ×8, builtin tanh', { style: 'semi', weights: 'rt', lanes: 8, tanh: 'builtin' }),
  gen('s16+g', 'semi-unrolled, lanes ×16 (4 vec4), fast tanh', { style: 'semi', weights: 'rt', lanes: 16, tanh: 'fast' }),
  gen("s8+b'+g", 'semi-unrolled, sized storage θ, lanes ×8, fast tanh', { style: 'semi', weights: 'sized', lanes: 8, tanh: 'fast' }),
  gen('s8+s+g', 'semi-unrolled, streamed, lanes ×8, fast tanh', { style: 'semi', weights: 'rt', lanes: 8, tanh: 'fast', stream: true }),
  gen('s8+id', 'semi-unrolled, lanes ×8, identity activation', { style: 'semi', weights: 'rt', lanes: 8, tanh: 'none' }),
  gen('s1+p', 'semi-unrolled, private θ copy, grid-stride, builtin tanh', { style: 'semi', weights: 'priv', lanes: 1, tanh: 'builtin' }),
  gen('s8+s', 'semi-unrolled, streamed, lanes ×8, builtin tanh', { style: 'semi', weights: 'rt', lanes: 8, tanh: 'builtin', stream: true }),
  gen('s16+s+g', 'semi-unrolled, streamed, lanes ×16, fast tanh', { style: 'semi', weights: 'rt', lanes: 16, tanh: 'fast', stream: true }),
  gen('s4+s', 'semi-unrolled, streamed, lanes ×4, builtin tanh', { style: 'semi', weights: 'rt', lanes: 4, tanh: 'builtin', stream: true }),
  gen('s1+s+g', 'semi-unrolled, streamed, fast tanh, 1 sample/inv.', { style: 'semi', weights: 'rt', lanes: 1, tanh: 'fast', stream: true }),
  gen('f+s+d4+g', 'uniform θ, streamed, lanes ×4, fast tanh (loops)', { style: 'loop', weights: 'uniform', lanes: 4, tanh: 'fast', stream: true }),
];

export interface ForwardOptions {
  shapes: number[][];
  batches: number[];
  ids?: string[];
  /** Target milliseconds of one timed run. */
  targetMs?: number;
  rounds?: number;
  /** Budget of the timed rounds of one (shape, batch), ms. */
  budgetMs?: number;
}

interface Prepared {
  v: Variant;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: number;
  compileMs: number;
  n: number;
  times: number[];
  diffBase: { rel: number; norm: number; finite: boolean };
  errRef: { rel: number; norm: number; finite: boolean };
  bufs: GPUBuffer[];
}

export async function forwardSection(gpu: Gpu, opts: ForwardOptions, log: (m: string) => void): Promise<{ tables: Table[]; data: unknown[] }> {
  const { device } = gpu;
  const targetMs = opts.targetMs ?? 150;
  const peak = await FmaPeak.create(device);
  const peakIters = await calibrate((k) => peak.run(k), targetMs, 1 << 20);
  const tables: Table[] = [];
  const data: unknown[] = [];
  for (const layers of opts.shapes) {
    const spec: MlpSpec = { layers, activation: 'tanh', timeInput: false };
    const theta = initTheta(layers, 1);
    const D = layers[layers.length - 1];
    const flops = mlpFlops(spec);
    // Compile every variant once per shape (the batch is run-time data).
    const compiled = new Map<string, { v: Variant; pipeline: GPUComputePipeline; ms: number }>();
    for (const [id, make] of VARIANTS.filter(([vid]) => vid === 'a' || !opts.ids || opts.ids.includes(vid))) {
      try {
        const v = make(spec, theta);
        const { pipeline, ms } = await compile(device, `${id} [${layers}]`, v.code, v.entry);
        compiled.set(id, { v, pipeline, ms });
        log(`[${layers}] ${id}: compiled in ${ms.toFixed(0)} ms (${v.code.length} chars)`);
      } catch (e) {
        log(`[${layers}] ${id}: FAILED ${e instanceof Error ? e.message.slice(0, 2000) : e}`);
      }
    }
    for (const batch of opts.batches) {
      const rng = mulberry32(7);
      const z = Float32Array.from({ length: batch * D }, () => (2 * rng() - 1) * 2);
      const NREF = 256;
      const ref = referenceF64(layers, theta, z, NREF);
      const zBuf = buffer(device, 'z', z.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, z);
      const prepared: Prepared[] = [];
      let baseOut: Float32Array | null = null;
      for (const [id, { v, pipeline, ms }] of compiled) {
        let p: Prepared;
        try {
          const { workgroups, nthreads } = v.dispatch(batch);
          const params = new Uint32Array([batch, 0, nthreads, 0]);
          const pBuf = buffer(device, 'params', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, params);
          const usage = (v.thetaBinding === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST;
          const tBuf = buffer(device, 'theta', v.theta.byteLength, usage, v.theta);
          const oBuf = buffer(device, 'out', z.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
          const bindGroup = device.createBindGroup({
            layout: pipeline.getBindGroupLayout(0),
            entries: [
              { binding: 0, resource: { buffer: pBuf } },
              { binding: 1, resource: { buffer: tBuf, size: v.theta.byteLength } },
              { binding: 2, resource: { buffer: zBuf, size: z.byteLength } },
              { binding: 3, resource: { buffer: oBuf, size: z.byteLength } },
            ],
          });
          const t0 = performance.now();
          await runN(device, pipeline, bindGroup, workgroups, 1);
          const firstMs = performance.now() - t0;
          const out = await readback(device, oBuf, z.byteLength);
          if (id === 'a') baseOut = out;
          const diffBase = diff(out, baseOut ?? out);
          const errRef = diff(out.subarray(0, NREF * D), ref);
          const n = await calibrate((k) => runN(device, pipeline, bindGroup, workgroups, k), targetMs, 4096);
          p = { v, pipeline, bindGroup, workgroups, compileMs: ms, n, times: [], diffBase, errRef, bufs: [pBuf, tBuf, oBuf] };
          log(`[${layers}] B=${batch} ${id}: first run ${firstMs.toFixed(0)} ms, n=${n}, rel diff ${diffBase.rel.toExponential(2)}`);
        } catch (e) {
          log(`[${layers}] B=${batch} ${id}: FAILED ${e instanceof Error ? e.message.slice(0, 2000) : e}`);
          continue;
        }
        prepared.push(p);
      }
      // Interleaved rounds: the FMA peak, then every variant.
      const peakTimes: number[] = [];
      const rounds = opts.rounds ?? 5;
      const budget = opts.budgetMs ?? 60_000;
      const start = performance.now();
      for (let r = 0; r < rounds; r++) {
        peakTimes.push(await peak.run(peakIters));
        for (const p of prepared) p.times.push((await runN(device, p.pipeline, p.bindGroup, p.workgroups, p.n)) / p.n);
        if (r >= 2 && performance.now() - start > budget) break;
      }
      const peakG = median(peakTimes.map((t) => FmaPeak.flops(peakIters) / (t * 1e6)));
      const base = prepared.find((p) => p.v.id === 'a');
      const rows: (string | number)[][] = [];
      rows.push(['FMA peak', 'bench/limits.ts kernel, same rounds', peakG.toPrecision(3), '', '100%', '', '', '', '', '']);
      for (const p of prepared) {
        const g = (flops * batch) / (median(p.times) * 1e6);
        const best = (flops * batch) / (Math.min(...p.times) * 1e6);
        const ratio = base ? median(p.times.map((t, i) => base.times[i] / t)) : NaN;
        rows.push([
          p.v.id,
          p.v.desc,
          g.toPrecision(3),
          best.toPrecision(3),
          `${((100 * g) / peakG).toPrecision(3)}%`,
          `${ratio.toPrecision(3)}×`,
          p.diffBase.norm.toExponential(1),
          p.diffBase.rel.toExponential(1),
          p.errRef.norm.toExponential(1),
          p.compileMs.toFixed(0),
        ]);
        data.push({ layers, batch, id: p.v.id, gflops: g, best, peak: peakG, ratio, times: p.times, n: p.n, diff: p.diffBase, errRef: p.errRef, compileMs: p.compileMs });
      }
      tables.push({
        title: `MLP forward [${layers.join(', ')}], B = ${batch} (${flops} flop/sample), ${peakTimes.length} interleaved rounds`,
        columns: ['id', 'variant', 'GFLOP/s', 'best', '% peak', '× base', 'diff vs a', 'elem diff vs a', 'err vs f64', 'compile ms'],
        rows,
        notes: [
          'GFLOP/s: median over rounds; × base: median over rounds of t(a)/t(variant) in the same round.',
          'diff vs a: max|v−a| / max|a| over all B·D outputs (the criterion, ≤ 1e-5); elem diff: max |v−a| / max(|a|, 1e-2·rms(a)), elementwise.',
          'err vs f64: max|v−ref| / max|ref| against a float64 CPU evaluation (Math.tanh) of the first 256 samples.',
        ],
      });
      for (const p of prepared) for (const b of p.bufs) b.destroy();
      zBuf.destroy();
    }
  }
  return { tables, data };
}
