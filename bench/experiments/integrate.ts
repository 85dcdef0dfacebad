/**
 * Experiment: does the MLP speed-up carry over to the fused per-sample
 * integrator? The library's integration kernel (integrateWgsl, entry
 * `integrate`, dopri5) is run as is, and with only its MLP function
 * (`rhs_eval`) replaced by a one-sample-per-invocation variant:
 *   semi     the inner products unrolled (constant state indices), loops over outputs
 *   semi+s   … and the last Linear streamed into the loop of the layer before it
 *   +g       the fast rational tanh
 *   priv     θ copied to a private array once per dispatch, MLP fully unrolled
 * All samples run to the end in one dispatch; outputs are compared to the
 * baseline's. The per-sample attempt counts of the baseline then give the
 * lockstep cost of K samples per invocation (K independent controllers
 * advancing together: an invocation runs as many attempts as its slowest lane).
 */
import { getTableau, mulberry32 } from '../../src/index';
import { resolveController } from '../../src/host/solve';
import { INTEGRATE_WORKGROUP, PARAMS, SAMPLE, integrateLayouts, integrateWgsl } from '../../src/kernels/integrate';
import { type MlpSpec, mlpOffsets, mlpWgsl } from '../../src/kernels/mlp';
import { median } from '../timing';
import type { Table } from './forward';
import { initTheta } from './forward';
import { type Gpu, buffer, diff, readback } from './gpu';
import { type Tanh, activationCode } from './variants';

export interface IntegrateOptions {
  readonly shapes?: number[][];
  readonly batch?: number;
  readonly rounds?: number;
  readonly ids?: string[];
  /** Scale of y0: uniform in [−s, s]; 'mixed' = sign·10^U(−3, 3). */
  readonly y0?: number | 'mixed';
}

interface MlpFnOptions {
  readonly style: 'semi' | 'unroll';
  readonly stream: boolean;
  readonly tanh: Tanh;
  readonly priv: boolean;
}

/** `fn rhs_eval(t)` (reads rhs_in, writes rhs_out) for one sample, in the variant's style, plus `act`. */
function mlpFn(spec: MlpSpec, o: MlpFnOptions): string {
  const { layers: L, count: NP } = mlpOffsets(spec.layers);
  const last = L.length - 1;
  const th = o.priv ? 'tpv' : 'theta';
  const lines: string[] = [activationCode(o.tanh)];
  if (o.priv) lines.push(`var<private> tpv: array<f32, ${NP}>;`);
  lines.push('fn rhs_eval(t: f32) {');
  const src = (l: number, i: number | string) => (l === 0 ? `rhs_in[${i}]` : `x${l}[${i}]`);
  if (o.style === 'semi') {
    L.forEach((Ly, l) => {
      if (o.stream && l === last) return;
      const fuse = o.stream && l === last - 1;
      if (l !== last && !fuse) lines.push(`  var x${l + 1}: array<f32, ${Ly.outWidth}>;`);
      if (fuse) for (let j = 0; j < L[last].outWidth; j++) lines.push(`  var y${j} = ${th}[${L[last].bias + j}u];`);
      lines.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
      lines.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
      lines.push(`    var a = ${th}[${Ly.bias}u + o];`);
      for (let i = 0; i < Ly.inWidth; i++) lines.push(`    a = fma(${th}[w + ${i}u], ${src(l, i)}, a);`);
      if (fuse) {
        lines.push('    let h = act(a);');
        const Lz = L[last];
        for (let j = 0; j < Lz.outWidth; j++) lines.push(`    y${j} = fma(${th}[${Lz.weight + j * Lz.inWidth}u + o], h, y${j});`);
      } else lines.push(l === last ? '    rhs_out[o] = a;' : `    x${l + 1}[o] = act(a);`);
      lines.push('  }');
    });
    if (o.stream) for (let j = 0; j < L[last].outWidth; j++) lines.push(`  rhs_out[${j}] = y${j};`);
  } else {
    // Fully unrolled, every value a let (constant indices everywhere).
    const v = (l: number, i: number) => (l === 0 ? `rhs_in[${i}]` : `x${l}_${i}`);
    lines.push('  var a: f32;');
    L.forEach((Ly, l) => {
      for (let oo = 0; oo < Ly.outWidth; oo++) {
        lines.push(`  a = ${th}[${Ly.bias + oo}u];`);
        for (let i = 0; i < Ly.inWidth; i++) lines.push(`  a = fma(${th}[${Ly.weight + oo * Ly.inWidth + i}u], ${v(l, i)}, a);`);
        lines.push(l === last ? `  rhs_out[${oo}] = a;` : `  let x${l + 1}_${oo} = act(a);`);
      }
    });
  }
  lines.push('}');
  return lines.join('\n');
}

const VARIANTS: readonly [string, string, MlpFnOptions | null][] = [
  ['base', 'library integrate kernel (dopri5), MLP as generated today', null],
  ['semi', 'MLP semi-unrolled (inner products unrolled)', { style: 'semi', stream: false, tanh: 'builtin', priv: false }],
  ['semi+s', 'semi-unrolled, last layer streamed', { style: 'semi', stream: true, tanh: 'builtin', priv: false }],
  ['semi+s+g', 'semi-unrolled, streamed, fast tanh', { style: 'semi', stream: true, tanh: 'fast', priv: false }],
  ['priv+s+g', 'semi-unrolled, streamed, fast tanh, θ in a private copy', { style: 'semi', stream: true, tanh: 'fast', priv: true }],
  ['priv+u+g', 'fully unrolled, fast tanh, θ in a private copy', { style: 'unroll', stream: false, tanh: 'fast', priv: true }],
];

export async function integrateSection(gpu: Gpu, opts: IntegrateOptions, log: (m: string) => void): Promise<{ tables: Table[]; data: unknown }> {
  const { device } = gpu;
  const tab = getTableau('dopri5');
  const B = opts.batch ?? 2048;
  const T = 11;
  const times = Float32Array.from({ length: T }, (_, i) => i / (T - 1));
  const tables: Table[] = [];
  const data: unknown[] = [];
  const layouts = integrateLayouts(device);
  for (const layers of opts.shapes ?? [[4, 64, 64, 4]]) {
    const mlp: MlpSpec = { layers, activation: 'tanh', timeInput: false };
    const spec = { mlp, tableau: tab };
    const D = layers[layers.length - 1];
    const { count: NP } = mlpOffsets(layers);
    const theta = initTheta(layers, 1);
    const rng = mulberry32(11);
    const y0 = Float32Array.from({ length: B * D }, () => {
      if (opts.y0 === 'mixed') return (rng() < 0.5 ? -1 : 1) * 10 ** (6 * rng() - 3);
      return (2 * rng() - 1) * (opts.y0 ?? 2);
    });
    const baseCode = integrateWgsl(spec);
    const baseMlp = mlpWgsl(mlp, { fn: 'rhs_eval', input: 'rhs_in', output: 'rhs_out', declare: false });
    if (!baseCode.includes(baseMlp)) throw new Error('integrate WGSL no longer contains the MLP text verbatim');
    const entryHead = '  smp = samples[b];\n  if (smp.status >= STATUS_DONE) { return; }\n';
    if (!baseCode.includes(entryHead)) throw new Error('integrate entry point changed');
    const controller = resolveController(undefined, tab.errorOrder);
    const values: Record<string, number> = {
      batch: B,
      n_out: T,
      steps_per_dispatch: 100_000,
      max_steps: 100_000,
      t0: 0,
      t_end: 1,
      dir: 1,
      rtol: 1e-6,
      atol: 1e-7,
      h_fixed: 0,
      first_step: 0,
      ...controller,
    };
    for (const [k] of PARAMS.fields) if (!(k in values)) throw new Error(`unknown Params field ${k}`);
    const uniform = buffer(device, 'params', PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniform, 0, PARAMS.pack(values as Parameters<typeof PARAMS.pack>[0]));
    const S = GPUBufferUsage.STORAGE;
    const tBuf = buffer(device, 'theta', theta.byteLength, S | GPUBufferUsage.COPY_DST, theta);
    const y0Buf = buffer(device, 'y0', y0.byteLength, S | GPUBufferUsage.COPY_DST, y0);
    const toutBuf = buffer(device, 'tout', times.byteLength, S | GPUBufferUsage.COPY_DST, times);
    const outBuf = buffer(device, 'out', T * B * D * 4, S | GPUBufferUsage.COPY_SRC);
    const sampBytes = B * SAMPLE.stride;
    const sampBuf = buffer(device, 'samples', sampBytes, S | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    const ycur = buffer(device, 'ycur', B * D * 4, S);
    const kbuf = buffer(device, 'kbuf', B * D * 4, S);
    const bindGroup = device.createBindGroup({
      layout: layouts.bindGroup,
      entries: [uniform, tBuf, y0Buf, toutBuf, outBuf, sampBuf, ycur, kbuf].map((b, binding) => ({ binding, resource: { buffer: b } })),
    });
    const zeros = new Uint8Array(sampBytes);
    const workgroups = Math.ceil(B / INTEGRATE_WORKGROUP);
    /** One whole solve: reset the samples, one dispatch (every sample runs to t_end), wait. */
    const solve = async (pipeline: GPUComputePipeline): Promise<number> => {
      device.queue.writeBuffer(sampBuf, 0, zeros);
      await device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(workgroups);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const runs: { id: string; desc: string; pipeline: GPUComputePipeline; compileMs: number; times: number[]; out: Float32Array; attempts: Uint32Array; nfe: number; status: number[] }[] = [];
    for (const [id, desc, o] of VARIANTS) {
      if (opts.ids && id !== 'base' && !opts.ids.includes(id)) continue;
      let code = baseCode;
      if (o) {
        code = code.replace(baseMlp, mlpFn(mlp, o));
        if (o.priv) code = code.replace(entryHead, `${entryHead}  for (var i = 0u; i < ${NP}u; i++) { tpv[i] = theta[i]; }\n`);
      }
      const t0 = performance.now();
      let pipeline: GPUComputePipeline;
      try {
        const module = device.createShaderModule({ code, label: id });
        const info = await module.getCompilationInfo();
        const errs = info.messages.filter((m) => m.type === 'error');
        if (errs.length) throw new Error(errs.map((m) => `${m.lineNum}: ${m.message}`).join('\n'));
        pipeline = await device.createComputePipelineAsync({ label: id, layout: layouts.pipeline, compute: { module, entryPoint: 'integrate' } });
      } catch (e) {
        log(`integrate [${layers}] ${id}: FAILED ${e instanceof Error ? e.message : e}`);
        continue;
      }
      const compileMs = performance.now() - t0;
      const first = await solve(pipeline);
      const out = await readback(device, outBuf, T * B * D * 4);
      const sv = new DataView((await readback(device, sampBuf, sampBytes)).buffer);
      const attempts = new Uint32Array(B);
      let nfe = 0;
      const status: number[] = [];
      for (let b = 0; b < B; b++) {
        const s = SAMPLE.unpack(sv, b * SAMPLE.stride);
        attempts[b] = s.n_accepted + s.n_rejected;
        nfe += s.n_fe;
        status.push(s.status);
      }
      log(`integrate [${layers}] ${id}: compile ${compileMs.toFixed(0)} ms, first solve ${first.toFixed(0)} ms, nfe ${nfe}`);
      runs.push({ id, desc, pipeline, compileMs, times: [], out, attempts, nfe, status });
    }
    const rounds = opts.rounds ?? 3;
    for (let r = 0; r < rounds; r++) for (const run of runs) run.times.push(await solve(run.pipeline));
    const base = runs[0];
    const rows = runs.map((run) => {
      const ratio = median(run.times.map((t, i) => base.times[i] / t));
      const d = diff(run.out, base.out);
      const done = run.status.filter((s) => s === 2).length;
      return [run.id, run.desc, `${median(run.times).toFixed(0)} ms`, `${ratio.toPrecision(3)}×`, d.norm.toExponential(1), `${run.nfe}`, `${done}/${B}`, run.compileMs.toFixed(0)];
    });
    for (const run of runs) data.push({ layers, id: run.id, times: run.times, compileMs: run.compileMs, nfe: run.nfe });
    tables.push({
      title: `Fused per-sample integrator, dopri5 rtol 1e-6 atol 1e-7, t = 0…1 (11 outputs), MLP [${layers.join(', ')}], B = ${B}, y0 ${opts.y0 ?? 2}; ${rounds} interleaved rounds`,
      columns: ['id', 'integrate kernel variant', 'solve', '× base', 'diff vs base', 'nfe total', 'done', 'compile ms'],
      rows,
      notes: ['One dispatch runs every sample to t = 1 (steps_per_dispatch = max_steps = 1e5). diff vs base: max|Δy| / max|y| over all outputs.'],
    });
    // Lockstep cost of K samples per invocation, from the baseline's attempt counts.
    // SwiftShader runs 4 invocations as SIMD lanes, so the kernel already waits
    // for the slowest of 4 consecutive samples; K per invocation makes that 4K.
    const groupCost = (g: number) => {
      let s = 0;
      for (let i = 0; i < B; i += g) s += g * Math.max(...base.attempts.subarray(i, i + g));
      return s;
    };
    const mean = base.attempts.reduce((a, b) => a + b, 0);
    const wrows = [1, 4, 8, 16, 32, 64].map((g) => [`${g}`, (groupCost(g) / mean).toFixed(3), (groupCost(g) / groupCost(4)).toFixed(3)]);
    tables.push({
      title: `Lockstep cost: attempts if every group of g consecutive samples runs as many attempts as its slowest member (MLP [${layers.join(', ')}], B = ${B}, y0 ${opts.y0 ?? 2})`,
      columns: ['g', 'Σ g·max / Σ attempts', 'vs g = 4 (SwiftShader SIMD today)'],
      rows: wrows,
      notes: [`attempts per sample: min ${Math.min(...base.attempts)}, mean ${(mean / B).toFixed(1)}, max ${Math.max(...base.attempts)}. K samples per invocation on a SIMD-4 adapter make g = 4K.`],
    });
    for (const b of [uniform, tBuf, y0Buf, toutBuf, outBuf, sampBuf, ycur, kbuf]) b.destroy();
  }
  return { tables, data };
}
