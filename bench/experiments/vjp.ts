/**
 * Experiment: do the forward-kernel findings carry over to the VJP code of the
 * adjoint? A harness runs, per sample, the library's `mlp_vjp` (vjpWgsl:
 * forward sweep, backward sweep, and with `accumulate` the θ-adjoint added to
 * the sample's own accumulator row) against semi-unrolled variants with K
 * samples per invocation; with K > 1 the K samples' θ contributions are summed
 * in registers and added to one row per invocation (K× less accumulator
 * traffic and memory).
 */
import { mulberry32 } from '../../src/index';
import { type MlpSpec, mlpOffsets } from '../../src/kernels/mlp';
import { vjpWgsl } from '../../src/kernels/vjp';
import { median } from '../timing';
import type { Table } from './forward';
import { initTheta } from './forward';
import { type Gpu, buffer, compile, diff, readback } from './gpu';
import { activationCode } from './variants';

export interface VjpOptions {
  readonly shapes?: number[][];
  readonly batch?: number;
  readonly rounds?: number;
}

/** MLP VJPs per invocation and dispatch (the adjoint makes many per dispatch; a private accumulator row is loaded once). */
const REPS = 4;

const HEADER = [
  'struct EP { batch: u32, mode: u32, nthreads: u32, pad: u32 }',
  '@group(0) @binding(0) var<uniform> P: EP;',
  '@group(0) @binding(1) var<storage, read> theta: array<f32>;',
  '@group(0) @binding(2) var<storage, read> zv: array<f32>;',
  '@group(0) @binding(3) var<storage, read_write> out: array<f32>;',
  '@group(0) @binding(4) var<storage, read_write> acc: array<f32>;',
].join('\n');

function baselineKernel(spec: MlpSpec): string {
  const D = spec.layers[spec.layers.length - 1];
  const { count: NP } = mlpOffsets(spec.layers);
  const vjp = vjpWgsl(spec, { input: 'vin', output: 'vout', negate: false });
  const hasLoad = vjp.includes('fn acc_load');
  return [
    HEADER,
    'var<private> acc_base: u32;',
    'var<private> vjp_gt: f32;',
    `var<private> vin: array<f32, ${2 * D}>;`,
    `var<private> vout: array<f32, ${2 * D}>;`,
    vjp,
    '@compute @workgroup_size(64)',
    'fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  let b = gid.x;',
    '  if (b >= P.batch) { return; }',
    `  acc_base = b * ${NP}u;`,
    `  for (var d = 0u; d < ${2 * D}u; d++) { vin[d] = zv[b * ${2 * D}u + d]; }`,
    // The library may keep the accumulator row in private memory for a dispatch (acc_load/acc_store).
    ...(hasLoad ? ['  if (P.mode == 1u) { acc_load(); }'] : []),
    `  for (var r = 0u; r < ${REPS}u; r++) { mlp_vjp(0.0, 1.0, P.mode == 1u); }`,
    ...(hasLoad ? ['  if (P.mode == 1u) { acc_store(); }'] : []),
    `  for (var d = 0u; d < ${2 * D}u; d++) { out[b * ${2 * D}u + d] = vout[d]; }`,
    '}',
  ].join('\n');
}

/** Semi-unrolled VJP for K samples per invocation (K = 1 scalar, else K/4 vec4 groups); θ rows per invocation. */
function lanesKernel(spec: MlpSpec, K: 1 | 4 | 8): string {
  const { layers: L, count: NP } = mlpOffsets(spec.layers);
  const D = spec.layers[spec.layers.length - 1];
  const G = K === 1 ? 1 : K / 4;
  const T = K === 1 ? 'f32' : 'vec4<f32>';
  const S = (w: string) => (K === 1 ? w : `${T}(${w})`);
  const A = K === 1 ? 'act' : 'act4';
  const AG = K === 1 ? 'act_grad' : 'act_grad4';
  const sumLanes = (e: string) => (K === 1 ? e : `dot(${e}, vec4<f32>(1.0))`);
  const last = L.length - 1;
  const o: string[] = [HEADER, activationCode('builtin')];
  o.push('fn act_grad(u: f32, x: f32) -> f32 { return select(0.0, 1.0 - x * x, abs(u) < 9.1); }');
  o.push('fn act_grad4(u: vec4<f32>, x: vec4<f32>) -> vec4<f32> { return select(vec4<f32>(0.0), 1.0 - x * x, abs(u) < vec4<f32>(9.1)); }');
  o.push(`var<private> vin: array<${T}, ${2 * D * G}>;`);
  o.push(`var<private> vout: array<${T}, ${2 * D * G}>;`);
  o.push('fn vjp(acc_base: u32, accumulate: bool) {');
  const xs = (l: number, q: number, i: number | string) => (l === 0 ? `vin[${q * 2 * D}u + ${i}u]` : `x${l}_${q}[${i}]`);
  // Forward sweep, semi-unrolled: u_l and x_{l+1} kept for the backward sweep.
  L.forEach((Ly, l) => {
    const isLast = l === last;
    if (!isLast) for (let q = 0; q < G; q++) o.push(`  var u${l}_${q}: array<${T}, ${Ly.outWidth}>; var x${l + 1}_${q}: array<${T}, ${Ly.outWidth}>;`);
    o.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    o.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    for (let q = 0; q < G; q++) o.push(`    var a_${q} = ${S(`theta[${Ly.bias}u + o]`)};`);
    for (let i = 0; i < Ly.inWidth; i++) {
      o.push(`    { let wt = ${S(`theta[w + ${i}u]`)};`);
      for (let q = 0; q < G; q++) o.push(`      a_${q} = fma(wt, ${xs(l, q, i)}, a_${q});`);
      o.push('    }');
    }
    for (let q = 0; q < G; q++) {
      if (isLast) o.push(`    vout[${q * 2 * D}u + o] = a_${q};`);
      else o.push(`    u${l}_${q}[o] = a_${q}; x${l + 1}_${q}[o] = ${A}(a_${q});`);
    }
    o.push('  }');
  });
  // Backward sweep.
  for (let q = 0; q < G; q++) o.push(`  var d${last}_${q}: array<${T}, ${D}>;`);
  for (let q = 0; q < G; q++) for (let j = 0; j < D; j++) o.push(`  d${last}_${q}[${j}] = vin[${q * 2 * D + D + j}];`);
  for (let l = last; l >= 0; l--) {
    const Ly = L[l];
    o.push('  if (accumulate) {');
    o.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    for (let q = 0; q < G; q++) o.push(`      let g_${q} = d${l}_${q}[o];`);
    const gsum = Array.from({ length: G }, (_, q) => sumLanes(`g_${q}`)).join(' + ');
    o.push(`      acc[acc_base + ${Ly.bias}u + o] += ${gsum};`);
    o.push(`      let r = acc_base + ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    for (let i = 0; i < Ly.inWidth; i++) {
      const c = Array.from({ length: G }, (_, q) => sumLanes(`g_${q} * ${xs(l, q, i)}`)).join(' + ');
      o.push(`      acc[r + ${i}u] += ${c};`);
    }
    o.push('    }');
    o.push('  }');
    if (l > 0) {
      for (let q = 0; q < G; q++) o.push(`  var d${l - 1}_${q}: array<${T}, ${Ly.inWidth}>;`);
      o.push(`  for (var i = 0u; i < ${Ly.inWidth}u; i++) {`);
      for (let q = 0; q < G; q++) o.push(`    var s_${q} = ${T}(0.0);`);
      for (let oo = 0; oo < Ly.outWidth; oo++) {
        o.push(`    { let wt = ${S(`theta[${Ly.weight + oo * Ly.inWidth}u + i]`)};`);
        for (let q = 0; q < G; q++) o.push(`      s_${q} = fma(wt, d${l}_${q}[${oo}], s_${q});`);
        o.push('    }');
      }
      for (let q = 0; q < G; q++) o.push(`    d${l - 1}_${q}[i] = s_${q} * ${AG}(u${l - 1}_${q}[i], x${l}_${q}[i]);`);
      o.push('  }');
    } else {
      o.push(`  for (var i = 0u; i < ${Ly.inWidth}u; i++) {`);
      for (let q = 0; q < G; q++) o.push(`    var s_${q} = ${T}(0.0);`);
      for (let oo = 0; oo < Ly.outWidth; oo++) {
        o.push(`    { let wt = ${S(`theta[${Ly.weight + oo * Ly.inWidth}u + i]`)};`);
        for (let q = 0; q < G; q++) o.push(`      s_${q} = fma(wt, d0_${q}[${oo}], s_${q});`);
        o.push('    }');
      }
      for (let q = 0; q < G; q++) o.push(`    vout[${q * 2 * D + D}u + i] = s_${q};`);
      o.push('  }');
    }
  }
  o.push('}');
  o.push('@compute @workgroup_size(64)');
  o.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>) {');
  o.push(`  let g = gid.x; if (g * ${K}u >= P.batch) { return; }`);
  for (let q = 0; q < G; q++)
    for (let d = 0; d < 2 * D; d++) {
      if (K === 1) o.push(`  vin[${d}] = zv[g * ${2 * D}u + ${d}u];`);
      else o.push(`  vin[${q * 2 * D + d}] = vec4<f32>(${[0, 1, 2, 3].map((k) => `zv[min(g * ${K}u + ${4 * q + k}u, P.batch - 1u) * ${2 * D}u + ${d}u]`).join(', ')});`);
    }
  o.push(`  for (var r = 0u; r < ${REPS}u; r++) { vjp(g * ${NP}u, P.mode == 1u); }`);
  for (let q = 0; q < G; q++)
    for (let d = 0; d < 2 * D; d++) {
      if (K === 1) o.push(`  out[g * ${2 * D}u + ${d}u] = vout[${d}];`);
      else for (let k = 0; k < 4; k++) o.push(`  out[(g * ${K}u + ${4 * q + k}u) * ${2 * D}u + ${d}u] = vout[${q * 2 * D + d}].${'xyzw'[k]};`);
    }
  o.push('}');
  return o.join('\n');
}

export async function vjpSection(gpu: Gpu, opts: VjpOptions, log: (m: string) => void): Promise<{ tables: Table[]; data: unknown }> {
  const { device } = gpu;
  const B = opts.batch ?? 4096;
  const tables: Table[] = [];
  const data: unknown[] = [];
  for (const layers of opts.shapes ?? [[2, 64, 2], [4, 64, 64, 4], [2, 512, 2]]) {
    const spec: MlpSpec = { layers, activation: 'tanh', timeInput: false };
    const D = layers[layers.length - 1];
    const { count: NP } = mlpOffsets(layers);
    const theta = initTheta(layers, 1);
    const rng = mulberry32(3);
    const zv = Float32Array.from({ length: B * 2 * D }, () => (2 * rng() - 1) * 2);
    const flopsZ = layers.slice(1).reduce((s, w, i) => s + 2 * layers[i] * w, 0) * 2; // forward + backward sweep
    const flopsT = flopsZ + layers.slice(1).reduce((s, w, i) => s + 2 * layers[i] * w, 0); // + θ outer products
    const tBuf = buffer(device, 'theta', theta.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, theta);
    const zBuf = buffer(device, 'zv', zv.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, zv);
    const accBytes = B * NP * 4;
    const accBuf = buffer(device, 'acc', accBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const variants: [string, string, number][] = [
      ['base', baselineKernel(spec), 1],
      ['semi K=1', lanesKernel(spec, 1), 1],
      ['semi K=4', lanesKernel(spec, 4), 4],
      ['semi K=8', lanesKernel(spec, 8), 8],
    ];
    for (const mode of [0, 1]) {
      const pBuf = buffer(device, 'p', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, new Uint32Array([B, mode, 0, 0]));
      const runs: { id: string; pipeline: GPUComputePipeline; bg: GPUBindGroup; wg: number; ms: number; times: number[]; out: Float32Array; grad: Float64Array; oBuf: GPUBuffer }[] = [];
      for (const [id, code, K] of variants) {
        try {
          const { pipeline, ms } = await compile(device, `vjp ${id}`, code, 'main');
          const oBuf = buffer(device, 'out', zv.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
          const bg = device.createBindGroup({
            layout: pipeline.getBindGroupLayout(0),
            entries: [pBuf, tBuf, zBuf, oBuf, accBuf].map((b, binding) => ({ binding, resource: { buffer: b } })),
          });
          const wg = Math.ceil(B / K / 64);
          device.queue.writeBuffer(accBuf, 0, new Uint8Array(accBytes));
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bg);
          pass.dispatchWorkgroups(wg);
          pass.end();
          device.queue.submit([enc.finish()]);
          const out = await readback(device, oBuf, zv.byteLength);
          // dL/dθ = Σ over accumulator rows.
          const grad = new Float64Array(NP);
          if (mode === 1) {
            const a = await readback(device, accBuf, accBytes);
            for (let r = 0; r < B; r++) for (let p = 0; p < NP; p++) grad[p] += a[r * NP + p];
          }
          log(`vjp [${layers}] mode ${mode} ${id}: compile ${ms.toFixed(0)} ms`);
          runs.push({ id, pipeline, bg, wg, ms, times: [], out, grad, oBuf });
        } catch (e) {
          log(`vjp [${layers}] ${id}: FAILED ${e instanceof Error ? e.message.slice(0, 3000) : e}`);
        }
      }
      const once = async (r: (typeof runs)[number], n: number) => {
        const t0 = performance.now();
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(r.pipeline);
        pass.setBindGroup(0, r.bg);
        for (let i = 0; i < n; i++) pass.dispatchWorkgroups(r.wg);
        pass.end();
        device.queue.submit([enc.finish()]);
        await device.queue.onSubmittedWorkDone();
        return (performance.now() - t0) / n;
      };
      for (let k = 0; k < (opts.rounds ?? 5); k++) for (const r of runs) r.times.push(await once(r, 2));
      const base = runs[0];
      const flops = REPS * (mode === 1 ? flopsT : flopsZ);
      const gradRef = Float32Array.from(base.grad);
      const rows = runs.map((r) => [
        r.id,
        `${median(r.times).toFixed(1)} ms`,
        ((flops * B) / (median(r.times) * 1e6)).toPrecision(3),
        `${median(r.times.map((t, i) => base.times[i] / t)).toPrecision(3)}×`,
        diff(r.out, base.out).norm.toExponential(1),
        mode === 1 ? diff(Float32Array.from(r.grad), gradRef).norm.toExponential(1) : '',
        r.ms.toFixed(0),
      ]);
      for (const r of runs) data.push({ layers, mode, id: r.id, times: r.times, compileMs: r.ms });
      tables.push({
        title: `MLP VJP [${layers.join(', ')}], B = ${B}, ${mode === 1 ? 'f, vᵀ∂f/∂z and vᵀ∂f/∂θ accumulated (theta_vjp)' : 'f and vᵀ∂f/∂z only (aug_eval)'}`,
        columns: ['variant', 'time', 'GFLOP/s', '× base', 'diff (f, vᵀJ)', 'diff Σ dθ', 'compile ms'],
        rows,
        notes: [
          `flop/sample ${flops} (${REPS} VJPs per sample and dispatch; forward + backward sweep${mode === 1 ? ' + θ outer products' : ''}, activations excluded). base = src/kernels/vjp.ts mlp_vjp, 1 sample/inv., accumulator row per sample.`,
          'semi K: inner products unrolled (constant state indices), K samples per invocation; K > 1 sums the K samples’ dθ in registers into one row per invocation.',
        ],
      });
      for (const r of runs) r.oBuf.destroy();
      pBuf.destroy();
    }
    for (const b of [tBuf, zBuf, accBuf]) b.destroy();
  }
  return { tables, data };
}
