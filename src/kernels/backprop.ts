/**
 * The discrete-backprop kernel (backprop.wgsl): exact reverse-mode
 * gradients of the forward discretisation with checkpointing. Generates the
 * reverse of the Runge–Kutta step from the tableau (the transposed stage
 * recurrences, the dense-output cotangents) and the checkpoint copy code from
 * the Sample layout.
 */
import backpropSource from './backprop.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { StructLayout, f32Literal, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage } from '../wgsl/kernel';
import { type MlpSpec, mlpOffsets, mlpWgsl, stateDim } from '../mlp/mlp';
import { CONTROLLER_FIELDS, SAMPLE, outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';
import { GRADIENT_FIELDS, gradientBindings } from './gradient-bindings';
import { vjpWgsl } from '../mlp/vjp';

export const BACKPROP_WORKGROUP = 64;

export const BACKPROP_PARAMS = new StructLayout('BackpropParams', [
  ...GRADIENT_FIELDS,
  ['seg_len', 'u32'],
  ['n_ckpt', 'u32'],
  ['t0', 'f32'],
  ['t_end', 'f32'],
  ...CONTROLLER_FIELDS,
] as const);
export type BackpropParamsValues = Parameters<typeof BACKPROP_PARAMS.pack>[0];

/**
 * The bindings: the gradient-kernel order with two per-sample buffers of its
 * own, the work areas and the checkpoint tapes (floats kept as their bits:
 * u32 storage never flushes or canonicalises).
 */
function backpropBindings(mlp: MlpSpec) {
  return gradientBindings(BACKPROP_PARAMS, mlpOffsets(mlp.layers).count, {
    work: storage('read_write', 'u32'),
    tape: storage('read_write', 'u32'),
  });
}

/** Words (u32) of one checkpoint, one tape record and one work area, for state width D. */
export function backpropWords(D: number): { checkpoint: number; record: number; work: number } {
  return { checkpoint: SAMPLE.fields.length + 2 * D, record: D + 6, work: 6 + 3 * D };
}

export interface BackpropSpec {
  readonly mlp: MlpSpec;
  readonly tableau: Tableau;
  /**
   * Output times per sample ([total][n_out]; sample g reads row g, see
   * outputTimesWgsl in src/wgsl/rk.ts). Absent or false: shared times, the
   * module exactly as without this field.
   */
  readonly perSampleTimes?: boolean;
}

function horner(poly: readonly number[], x: string): string {
  let expr = f32Literal(poly[poly.length - 1]);
  for (let m = poly.length - 2; m >= 0; m--) expr = `${f32Literal(poly[m])} + ${x} * (${expr})`;
  return `${x} * (${expr})`;
}

/** kbar, the dense-output and solution cotangents, and the reverse stage sweep. */
function kbarWgsl(tab: Tableau): string {
  const L: string[] = [];
  L.push('var<private> kbar: array<array<f32, D>, NK>;');
  L.push(`const NS: u32 = ${tab.stages}u;`);
  L.push('');
  L.push('// K̄_j += h w_j(θ) c for an output y_n + h Σ w_j(θ) K_j of this step.');
  L.push('fn dense_cotangent(th: f32, h: f32, c: array<f32, D>) {');
  tab.dense.forEach((poly, j) => {
    if (poly.every((v) => v === 0)) return;
    L.push(`  let w${j} = h * ${horner(poly, 'th')};`);
    L.push(`  for (var d = 0u; d < D; d++) { kbar[${j}][d] += w${j} * c[d]; }`);
  });
  L.push('}');
  L.push('');
  L.push('// K̄_i += h b_i ȳ_{n+1}.');
  L.push('fn solution_cotangent(h: f32) {');
  tab.b.forEach((bi, i) => {
    if (bi !== 0) L.push(`  for (var d = 0u; d < D; d++) { kbar[${i}][d] += (h * ${f32Literal(bi)}) * ybar[d]; }`);
  });
  L.push('}');
  L.push('');
  L.push('// Stages in reverse: Ȳ_i = J_iᵀ K̄_i (θ̄ accumulated), ȳ_n += Ȳ_i, K̄_j += h a_ij Ȳ_i.');
  L.push('fn stages_reverse(t: f32, h: f32) {');
  for (let i = tab.stages - 1; i >= 0; i--) {
    const terms = tab.a[i].map((a, j) => (a !== 0 ? `${f32Literal(a)} * K[${j}][d]` : null)).filter((x) => x !== null);
    const input = terms.length ? `y[d] + h * (${terms.join(' + ')})` : 'y[d]';
    L.push(`  for (var d = 0u; d < D; d++) { vjp_in[d] = ${input}; vjp_in[D + d] = kbar[${i}][d]; }`);
    const c = tab.c[i];
    L.push(`  mlp_vjp(${c === 0 ? 't' : c === 1 ? 't + h' : `t + ${f32Literal(c)} * h`}, 1.0, true);`);
    const updates = tab.a[i]
      .map((a, j) => (a !== 0 ? ` kbar[${j}][d] += (h * ${f32Literal(a)}) * gz;` : ''))
      .join('');
    L.push(`  for (var d = 0u; d < D; d++) { let gz = vjp_out[D + d]; ynacc[d] += gz;${updates} }`);
  }
  L.push('}');
  return L.join('\n');
}

/** ckpt_save / ckpt_load: the Sample struct, y and K[0] as u32 words. */
function ckptWgsl(D: number): string {
  const n = SAMPLE.fields.length;
  const save = SAMPLE.fields.map(([k, t], i) => `  tape[base + ${i}u] = ${t === 'f32' ? `bitcast<u32>(smp.${k})` : `smp.${k}`};`);
  const load = SAMPLE.fields.map(([k, t], i) => `  smp.${k} = ${t === 'f32' ? `bitcast<f32>(tape[base + ${i}u])` : `tape[base + ${i}u]`};`);
  return [
    'fn ckpt_save(base: u32) {',
    ...save,
    `  for (var d = 0u; d < ${D}u; d++) {`,
    `    tape[base + ${n}u + d] = bitcast<u32>(y[d]);`,
    `    tape[base + ${n + D}u + d] = bitcast<u32>(K[0][d]);`,
    '  }',
    '}',
    'fn ckpt_load(base: u32) {',
    ...load,
    `  for (var d = 0u; d < ${D}u; d++) {`,
    `    y[d] = bitcast<f32>(tape[base + ${n}u + d]);`,
    `    K[0][d] = bitcast<f32>(tape[base + ${n + D}u + d]);`,
    '  }',
    '}',
  ].join('\n');
}

/** The discrete-backprop kernel (entry point `backprop`). */
export const backpropKernel = defineKernel({
  name: 'backprop',
  bindings: (spec: BackpropSpec) => backpropBindings(spec.mlp),
  entryPoints: ['backprop'],
  wgsl: (spec: BackpropSpec, decls) => {
    const D = stateDim(spec.mlp);
    const words = backpropWords(D);
    const times = outputTimesWgsl(spec.perSampleTimes === true);
    return fillTemplate(backpropSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('g'),
      TOUT_BASE: times.base,
      T0: times.t0,
      T_END: times.tEnd,
      D2: 2 * D,
      CK: words.checkpoint,
      SR: words.record,
      WORK: words.work,
      VJP: vjpWgsl(spec.mlp, { input: 'vjp_in', output: 'vjp_out', negate: false }),
      MLP: mlpWgsl(spec.mlp, { fn: 'rhs_eval', input: 'rhs_in', output: 'rhs_out', declare: false, activation: false }),
      RK_CORE: rkCoreWgsl(spec.tableau, D, undefined, spec.perSampleTimes === true),
      KBAR: kbarWgsl(spec.tableau),
      CKPT: ckptWgsl(D),
      WG: BACKPROP_WORKGROUP,
    });
  },
});
