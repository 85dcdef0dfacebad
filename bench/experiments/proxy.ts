/**
 * Experiment: K samples per invocation inside an RK step loop. A proxy of the
 * fused integrator without its controller: every invocation takes S dopri5
 * attempts of a fixed size for its K samples in lockstep (stages, FSAL, the
 * embedded error norm per lane, y ← y_new), so the step arithmetic and the
 * private K-slot arrays are vectorised along with the MLP. The K = 1 baseline
 * uses the library's own MLP text (mlpWgsl); the others use the
 * semi-unrolled MLP of variants.ts, written here for private state arrays.
 * Throughput is reported as sample-attempts per second; the real kernel would
 * add its controller and pay the lockstep cost measured by `integrate`.
 */
import { getTableau, mulberry32 } from '../../src/index';
import { f32Literal } from '../../src/kernels/layout';
import { type MlpSpec, mlpOffsets, mlpWgsl } from '../../src/kernels/mlp';
import { median } from '../timing';
import type { Table } from './forward';
import { initTheta } from './forward';
import { type Gpu, buffer, compile, diff, readback, runN } from './gpu';
import { type Tanh, activationCode } from './variants';

export interface ProxyOptions {
  readonly shapes?: number[][];
  readonly batch?: number;
  readonly steps?: number;
  readonly rounds?: number;
}

interface LaneOptions {
  readonly lanes: 1 | 4 | 8 | 16;
  readonly tanh: Tanh;
  readonly stream: boolean;
}

/** `fn rhs()`: rout[q·D + j] = f(rin[q·D + ·]) for every vec4 group q, semi-unrolled, θ loads shared by the groups. */
function laneMlp(spec: MlpSpec, o: LaneOptions): string {
  const { layers: L } = mlpOffsets(spec.layers);
  const D = spec.layers[spec.layers.length - 1];
  const G = o.lanes === 1 ? 1 : o.lanes / 4;
  const T = o.lanes === 1 ? 'f32' : 'vec4<f32>';
  const S = (w: string) => (o.lanes === 1 ? w : `${T}(${w})`);
  const A = o.lanes === 1 ? 'act' : 'act4';
  const last = L.length - 1;
  const out: string[] = [activationCode(o.tanh), 'fn rhs(t: f32) {'];
  const src = (l: number, q: number, i: number) => (l === 0 ? `rin[${q * D + i}]` : `x${l}_${q}[${i}]`);
  L.forEach((Ly, l) => {
    if (o.stream && l === last) return;
    const fuse = o.stream && l === last - 1;
    if (l !== last && !fuse) for (let q = 0; q < G; q++) out.push(`  var x${l + 1}_${q}: array<${T}, ${Ly.outWidth}>;`);
    if (fuse) for (let j = 0; j < D; j++) for (let q = 0; q < G; q++) out.push(`  var y${j}_${q} = ${S(`theta[${L[last].bias + j}u]`)};`);
    out.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    out.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    for (let q = 0; q < G; q++) out.push(`    var a_${q} = ${S(`theta[${Ly.bias}u + o]`)};`);
    for (let i = 0; i < Ly.inWidth; i++) {
      out.push(`    { let wt = ${S(`theta[w + ${i}u]`)};`);
      for (let q = 0; q < G; q++) out.push(`      a_${q} = fma(wt, ${src(l, q, i)}, a_${q});`);
      out.push('    }');
    }
    if (fuse) {
      for (let q = 0; q < G; q++) out.push(`    let h_${q} = ${A}(a_${q});`);
      for (let j = 0; j < D; j++) {
        out.push(`    { let v = ${S(`theta[${L[last].weight + j * L[last].inWidth}u + o]`)};`);
        for (let q = 0; q < G; q++) out.push(`      y${j}_${q} = fma(v, h_${q}, y${j}_${q});`);
        out.push('    }');
      }
    } else if (l === last) {
      // D is small: write the output with a constant index per lane group.
      for (let q = 0; q < G; q++) out.push(`    rout_tmp[${q}u * ${D}u + o] = a_${q};`);
    } else for (let q = 0; q < G; q++) out.push(`    x${l + 1}_${q}[o] = ${A}(a_${q});`);
    out.push('  }');
  });
  if (o.stream) for (let j = 0; j < D; j++) for (let q = 0; q < G; q++) out.push(`  rout[${q * D + j}] = y${j}_${q};`);
  else out.push('  rout = rout_tmp;');
  out.push('}');
  return out.join('\n');
}

/** The proxy kernel: S fixed-size dopri5 attempts per invocation for K samples (G vec4 groups, or K = 1 scalar). */
function proxyKernel(spec: MlpSpec, lanes: 1 | 4 | 8 | 16, mlp: string, stageLoop = false): string {
  const tab = getTableau('dopri5');
  const D = spec.layers[spec.layers.length - 1];
  const G = lanes === 1 ? 1 : lanes / 4;
  const T = lanes === 1 ? 'f32' : 'vec4<f32>';
  const M = G * D; // state values per invocation
  const NK = tab.stages; // FSAL
  const L: string[] = [];
  L.push('struct PP { batch: u32, steps: u32, h: f32, rtol: f32, atol: f32, p0: u32, p1: u32, p2: u32 }');
  L.push('@group(0) @binding(0) var<uniform> P: PP;');
  L.push('@group(0) @binding(1) var<storage, read> theta: array<f32>;');
  L.push('@group(0) @binding(2) var<storage, read> z: array<f32>;');
  L.push('@group(0) @binding(3) var<storage, read_write> out: array<f32>;');
  L.push(`var<private> rin: array<${T}, ${M}>;`);
  L.push(`var<private> rout: array<${T}, ${M}>;`);
  L.push(`var<private> rout_tmp: array<${T}, ${M}>;`);
  L.push(`var<private> K: array<array<${T}, ${M}>, ${NK}>;`);
  L.push(`var<private> y: array<${T}, ${M}>;`);
  L.push(`var<private> ynew: array<${T}, ${M}>;`);
  L.push(mlp);
  L.push('@compute @workgroup_size(64)');
  L.push('fn main(@builtin(global_invocation_id) gid: vec3<u32>) {');
  L.push(`  let g = gid.x; if (g * ${lanes}u >= P.batch) { return; }`);
  // Load: lane k of group q = sample g·K + 4q + k; value index q·D + d.
  for (let q = 0; q < G; q++)
    for (let d = 0; d < D; d++) {
      if (lanes === 1) L.push(`  y[${d}] = z[g * ${D}u + ${d}u];`);
      else L.push(`  y[${q * D + d}] = vec4<f32>(${[0, 1, 2, 3].map((k) => `z[(g * ${lanes}u + ${4 * q + k}u) * ${D}u + ${d}u]`).join(', ')});`);
    }
  L.push(`  var esum = ${T}(0.0);`);
  L.push('  rin = y; rhs(0.0); K[0] = rout;');
  L.push('  let h = P.h;');
  L.push('  for (var s = 0u; s < P.steps; s++) {');
  const comb = (coeffs: readonly number[], name: string) => {
    const terms: string[] = [];
    coeffs.forEach((c, j) => {
      if (c !== 0) terms.push(`${name}${j} * K[${j}][m]`);
    });
    const lets = coeffs.map((c, j) => (c !== 0 ? `let ${name}${j} = h * ${f32Literal(c)};` : '')).join(' ');
    return { lets, sum: terms.join(' + ') || `${T}(0.0)` };
  };
  if (stageLoop) {
    // One MLP call site: the stage inputs from the tableau rows as a constant
    // array (row i, padded to NK), indexed by the dynamic stage number.
    const rows = Array.from({ length: NK }, (_, i) =>
      `array<f32, ${NK}>(${Array.from({ length: NK }, (_, j) => f32Literal(i === NK - 1 ? tab.b[j] ?? 0 : tab.a[i]?.[j] ?? 0)).join(', ')})`,
    );
    L.push(`    let AB = array<array<f32, ${NK}>, ${NK}>(${rows.join(', ')});`);
    L.push(`    for (var i = 1u; i < ${NK}u; i++) {`);
    L.push(`      var hc: array<f32, ${NK}>;`);
    L.push(`      for (var j = 0u; j < ${NK}u; j++) { hc[j] = h * AB[i][j]; }`);
    L.push(`      for (var m = 0u; m < ${M}u; m++) {`);
    L.push(`        var acc = ${T}(0.0);`);
    L.push(`        for (var j = 0u; j < ${NK}u; j++) { acc += hc[j] * K[j][m]; }`);
    L.push('        rin[m] = y[m] + acc;');
    L.push('      }');
    L.push(`      if (i == ${NK - 1}u) { ynew = rin; }`);
    L.push('      rhs(0.0);');
    L.push('      K[i] = rout;');
    L.push('    }');
  }
  for (let i = 1; i < (stageLoop ? 0 : tab.stages); i++) {
    if (i === tab.stages - 1) {
      const { lets, sum } = comb(tab.b, 'hb');
      L.push(`    { ${lets} for (var m = 0u; m < ${M}u; m++) { ynew[m] = y[m] + (${sum}); } }`);
      L.push('    rin = ynew; rhs(0.0);');
    } else {
      const { lets, sum } = comb(tab.a[i], `ha${i}_`);
      L.push(`    { ${lets} for (var m = 0u; m < ${M}u; m++) { rin[m] = y[m] + (${sum}); } }`);
      L.push('    rhs(0.0);');
    }
    L.push(`    K[${i}] = rout;`);
  }
  const { lets, sum } = comb(tab.bErr, 'he');
  L.push(`    { ${lets}`);
  L.push(`      var e2 = ${T}(0.0);`);
  L.push(`      for (var m = 0u; m < ${M}u; m++) { let e = ${sum}; let q = e / (P.atol + P.rtol * max(abs(y[m]), abs(ynew[m]))); e2 += q * q; }`);
  L.push('      esum += sqrt(e2);');
  L.push('    }');
  L.push(`    y = ynew; K[0] = K[${NK - 1}];`);
  L.push('  }');
  for (let q = 0; q < G; q++)
    for (let d = 0; d < D; d++) {
      if (lanes === 1) L.push(`  out[g * ${D}u + ${d}u] = y[${d}] + 0.0 * esum;`);
      else
        for (let k = 0; k < 4; k++) {
          const s = `(g * ${lanes}u + ${4 * q + k}u)`;
          L.push(`  if (${s} < P.batch) { out[${s} * ${D}u + ${d}u] = y[${q * D + d}].${'xyzw'[k]} + 0.0 * esum.${'xyzw'[k]}; }`);
        }
    }
  L.push('}');
  return L.join('\n');
}

const VARIANTS: readonly [string, string, (spec: MlpSpec) => { code: string; lanes: 1 | 4 | 8 | 16 }][] = [
  [
    'base K=1',
    "library MLP text (mlpWgsl), 1 sample/inv.",
    (spec) => {
      const D = spec.layers[spec.layers.length - 1];
      // The library's MLP reads/writes arrays of D values: give it rin/rout of size D (K = 1).
      const mlp = mlpWgsl(spec, { fn: 'rhs', input: 'rin', output: 'rout', declare: false });
      return { code: proxyKernel(spec, 1, mlp).replace(`var<private> rout_tmp: array<f32, ${D}>;`, ''), lanes: 1 };
    },
  ],
  ['semi+s+g K=1', 'semi-unrolled, streamed, fast tanh, 1 sample/inv.', (spec) => ({ code: proxyKernel(spec, 1, laneMlp(spec, { lanes: 1, tanh: 'fast', stream: true })), lanes: 1 })],
  ['semi+s+g K=4', 'semi-unrolled, streamed, fast tanh, 4 samples/inv. (vec4)', (spec) => ({ code: proxyKernel(spec, 4, laneMlp(spec, { lanes: 4, tanh: 'fast', stream: true })), lanes: 4 })],
  ['semi+s+g K=8', 'semi-unrolled, streamed, fast tanh, 8 samples/inv. (2 vec4)', (spec) => ({ code: proxyKernel(spec, 8, laneMlp(spec, { lanes: 8, tanh: 'fast', stream: true })), lanes: 8 })],
  ['semi+s K=8', 'semi-unrolled, streamed, builtin tanh, 8 samples/inv.', (spec) => ({ code: proxyKernel(spec, 8, laneMlp(spec, { lanes: 8, tanh: 'builtin', stream: true })), lanes: 8 })],
  ['semi+g K=8', 'semi-unrolled (not streamed), fast tanh, 8 samples/inv.', (spec) => ({ code: proxyKernel(spec, 8, laneMlp(spec, { lanes: 8, tanh: 'fast', stream: false })), lanes: 8 })],
  ['semi+s+g K=8 loop', 'as semi+s+g K=8, one MLP call site (loop over the stages)', (spec) => ({ code: proxyKernel(spec, 8, laneMlp(spec, { lanes: 8, tanh: 'fast', stream: true }), true), lanes: 8 })],
  ['semi+s+g K=16', 'semi-unrolled, streamed, fast tanh, 16 samples/inv. (4 vec4)', (spec) => ({ code: proxyKernel(spec, 16, laneMlp(spec, { lanes: 16, tanh: 'fast', stream: true })), lanes: 16 })],
];

export async function proxySection(gpu: Gpu, opts: ProxyOptions, log: (m: string) => void): Promise<{ tables: Table[]; data: unknown }> {
  const { device } = gpu;
  const B = opts.batch ?? 4096;
  const steps = opts.steps ?? 8;
  const tables: Table[] = [];
  const data: unknown[] = [];
  for (const layers of opts.shapes ?? [[2, 64, 2], [4, 64, 64, 4]]) {
    const spec: MlpSpec = { layers, activation: 'tanh', timeInput: false };
    const D = layers[layers.length - 1];
    const theta = initTheta(layers, 1);
    const rng = mulberry32(5);
    const z = Float32Array.from({ length: B * D }, () => (2 * rng() - 1) * 2);
    const pv = new ArrayBuffer(32);
    new Uint32Array(pv, 0, 2).set([B, steps]);
    new Float32Array(pv, 8, 3).set([1 / steps, 1e-6, 1e-7]);
    const pBuf = buffer(device, 'pp', 32, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, new Uint8Array(pv));
    const tBuf = buffer(device, 'theta', theta.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, theta);
    const zBuf = buffer(device, 'z', z.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, z);
    const runs: { id: string; desc: string; pipeline: GPUComputePipeline; bg: GPUBindGroup; wg: number; ms: number; times: number[]; out: Float32Array; oBuf: GPUBuffer }[] = [];
    for (const [id, desc, make] of VARIANTS) {
      try {
        const { code, lanes } = make(spec);
        const { pipeline, ms } = await compile(device, id, code, 'main');
        const oBuf = buffer(device, 'out', z.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
        const bg = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [pBuf, tBuf, zBuf, oBuf].map((b, binding) => ({ binding, resource: { buffer: b } })),
        });
        const wg = Math.ceil(B / lanes / 64);
        const first = await runN(device, pipeline, bg, wg, 1);
        const out = await readback(device, oBuf, z.byteLength);
        log(`proxy [${layers}] ${id}: compile ${ms.toFixed(0)} ms, first ${first.toFixed(0)} ms`);
        runs.push({ id, desc, pipeline, bg, wg, ms, times: [], out, oBuf });
      } catch (e) {
        log(`proxy [${layers}] ${id}: FAILED ${e instanceof Error ? e.message.slice(0, 3000) : e}`);
      }
    }
    for (let r = 0; r < (opts.rounds ?? 5); r++) for (const run of runs) run.times.push(await runN(device, run.pipeline, run.bg, run.wg, 1));
    const base = runs[0];
    const rows = runs.map((run) => {
      const t = median(run.times);
      const ratio = median(run.times.map((x, i) => base.times[i] / x));
      return [run.id, run.desc, `${t.toFixed(0)} ms`, `${((B * steps) / (t * 1e3)).toPrecision(3)}`, `${ratio.toPrecision(3)}×`, diff(run.out, base.out).norm.toExponential(1), run.ms.toFixed(0)];
    });
    for (const run of runs) data.push({ layers, id: run.id, times: run.times, compileMs: run.ms });
    tables.push({
      title: `Integrator proxy: ${steps} fixed dopri5 attempts (6 MLP evals each, FSAL) per sample, MLP [${layers.join(', ')}], B = ${B}, ${base.times.length} interleaved rounds`,
      columns: ['id', 'variant', 'time', 'M sample-attempts/s', '× base', 'diff vs base', 'compile ms'],
      rows,
      notes: ['No controller: every lane takes the same fixed steps (h = 1/steps); the real K-lane kernel also pays the lockstep cost (integrate table).'],
    });
    for (const run of runs) run.oBuf.destroy();
    for (const b of [pBuf, tBuf, zBuf]) b.destroy();
  }
  return { tables, data };
}
