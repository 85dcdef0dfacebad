/**
 * The adjoint kernel with one sample per workgroup (adjoint-workgroup.wgsl):
 * the MLP's vector–Jacobian products shared by the invocations of a
 * workgroup, the private slices of the parameter rows, and when the kernel
 * applies.
 *
 * `wg_vjp(t, w, accumulate)` reads [z, a] from `rhs_in` and writes
 * [f, −aᵀ∂f/∂z] to `rhs_out` in every invocation; with `accumulate` each
 * invocation adds w·aᵀ∂f/∂θ for the parameters it owns to its slice of the
 * step row. Layer by layer it is the arithmetic of `mlp_vjp`
 * (src/kernels/vjp.ts): invocation k computes outputs k, k + WG, … of the
 * forward sweep and inputs k, k + WG, … of the backward one; every
 * intermediate vector goes through workgroup memory, one barrier per layer
 * and sweep.
 */
import adjointWorkgroupSource from './adjoint-workgroup.wgsl?raw';
import { type AdjointSpec, adjointBindings, landingWgsl, thetaStageEval } from './adjoint';
import { f32Literal, fillTemplate } from '../wgsl/layout';
import { defineKernel } from '../wgsl/kernel';
import { type MlpSpec, mlpLabel, mlpOffsets, stateDim } from '../mlp/mlp';
import { activationGradWgsl, activationWgsl } from '../mlp/activations';
import { mlpPlan, vjpFloats } from '../mlp/plan';
import { outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';

/** Invocations per workgroup (one sample). */
export const ADJOINT_WORKGROUP_SIZE = 64;

/** Floats of workgroup memory the kernel's vectors may take (WebGPU's default limit is 16 KiB). */
export const WORKGROUP_VECTOR_FLOATS_MAX = 3072;

/**
 * Floats of an invocation's slice of one parameter row up to which the kernel
 * is used: the step row and the accumulator slices (two of them) stay in
 * private memory, within WGSL's 8 KiB.
 */
export const WORKGROUP_SLICE_FLOATS_MAX = 512;

/**
 * The workgroup kernel is the default for batches up to WORKGROUP_MAX_BATCH
 * samples of an MLP with at least WORKGROUP_MIN_PARAMS parameters (where it
 * fits). Measured on SwiftShader (2 cores), backward solves of dopri5 at B = 1
 * (the kernels interleaved in one page):
 * 18.5 ms against 31.3 ms with one sample per invocation for [4, 64, 64, 4],
 * 17.2 against 27.5 ms for [2, 512, 2], 12.8 against 16.4 ms for [2, 256, 2];
 * even for [4, 32, 32, 4] and [2, 128, 2]; slower for [2, 50, 2] (9.5 against
 * 6.5 ms: its barriers cost more than its evaluations). From 3 samples its
 * workgroups no longer all run side by side on 2 cores, and its lead is gone
 * ([4, 64, 64, 4], B = 4: 38 ms, against 38 ms with one sample per
 * invocation and 35 ms with four per invocation).
 */
export const WORKGROUP_MAX_BATCH = 2;
export const WORKGROUP_MIN_PARAMS = 1024;

/** A contiguous run of parameters [base, base + count) and where its slice starts in an invocation's row. */
interface Segment {
  readonly base: number;
  readonly count: number;
  /** Index in the private slice of the first element an invocation owns. */
  readonly slot: number;
}

/** The parameter segments (each layer's weights, then its bias) and the slice length. */
export function workgroupSlices(layers: readonly number[], wg = ADJOINT_WORKGROUP_SIZE): { segments: Segment[][]; slice: number } {
  let slot = 0;
  const segments = mlpOffsets(layers).layers.map((Ly) => {
    const w = { base: Ly.weight, count: Ly.inWidth * Ly.outWidth, slot };
    slot += Math.ceil(w.count / wg);
    const b = { base: Ly.bias, count: Ly.outWidth, slot };
    slot += Math.ceil(b.count / wg);
    return [w, b];
  });
  return { segments, slice: slot };
}

/** Floats of the workgroup vectors: the input, the hidden layers' outputs (and pre-activations), their cotangents, a, f and the input gradient. */
export function workgroupVectorFloats(spec: MlpSpec): number {
  return vjpFloats(mlpPlan(spec), 'workgroup');
}

/** Whether the workgroup kernel applies to an MLP (its vectors and slices within the bounds above). */
export function adjointWorkgroupFits(spec: MlpSpec): boolean {
  return workgroupVectorFloats(spec) <= WORKGROUP_VECTOR_FLOATS_MAX && workgroupSlices(spec.layers).slice <= WORKGROUP_SLICE_FLOATS_MAX;
}

/** `for` each chunk k of a range of `count` indices owned by invocation tid: `body(index, k)` under `if (index < count)`. */
function chunks(count: number, wg: number, index: string, body: (k: number) => string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k * wg < count; k++) {
    out.push(`  { let ${index} = tid + ${k * wg}u;`, `    if (${index} < ${count}u) {`, ...body(k).map((l) => `      ${l}`), '    }', '  }');
  }
  return out;
}

/**
 * The workgroup vectors, the activation and its derivative, `wg_vjp`, the
 * private row slices and `acc_load`, `acc_store`, `commit_step_row(h)`
 * (acc −= h·step, step ← 0) and `clear_step_row`.
 */
export function wgVjpWgsl(spec: MlpSpec, wg = ADJOINT_WORKGROUP_SIZE): string {
  const plan = mlpPlan(spec);
  const { D, layers } = plan;
  const L = layers.length;
  const fromX = !plan.keepPreActivations;
  const { segments, slice } = workgroupSlices(spec.layers, wg);
  const out: string[] = [`// VJPs of MLP ${mlpLabel(spec)}, shared by the ${wg} invocations of a workgroup`];
  out.push(activationWgsl(spec.activation), activationGradWgsl(spec.activation));
  // x_l: input of layer l (x_0 = [z, t]); u_l: pre-activation of layer l; d_l: cotangent of u_l (d_{L-1} = a).
  out.push(`var<workgroup> wx0: array<f32, ${layers[0].inWidth}>;`);
  for (let l = 0; l + 1 < L; l++) {
    if (!fromX) out.push(`var<workgroup> wu${l}: array<f32, ${layers[l].outWidth}>;`);
    out.push(`var<workgroup> wx${l + 1}: array<f32, ${layers[l].outWidth}>;`);
    out.push(`var<workgroup> wd${l}: array<f32, ${layers[l].outWidth}>;`);
  }
  out.push(`var<workgroup> wd${L - 1}: array<f32, ${D}>;`, `var<workgroup> wf: array<f32, ${D}>;`, `var<workgroup> wdin: array<f32, ${D}>;`);
  out.push(`// The invocation's slices of the step row and the accumulator: parameter base + tid + k·${wg} of each segment at slot + k.`);
  out.push(`var<private> step_row: array<f32, ${slice}>;`, `var<private> acc_row: array<f32, ${slice}>;`);
  const overSlice = (line: (slot: number, p: string) => string) => {
    const L2: string[] = [];
    for (const seg of segments.flat()) L2.push(...chunks(seg.count, wg, 'e', (k) => [line(seg.slot + k, `${seg.base}u + e`)]));
    return L2;
  };
  out.push('fn acc_load() {', ...overSlice((s, p) => `acc_row[${s}] = acc[acc_base + ${p}];`), '}');
  out.push('fn acc_store() {', ...overSlice((s, p) => `acc[acc_base + ${p}] = acc_row[${s}];`), '}');
  out.push(`fn commit_step_row(h: f32) { for (var q = 0u; q < ${slice}u; q++) { acc_row[q] = fma(-h, step_row[q], acc_row[q]); step_row[q] = 0.0; } }`);
  out.push(`fn clear_step_row() { for (var q = 0u; q < ${slice}u; q++) { step_row[q] = 0.0; } }`);

  out.push('fn wg_vjp(t: f32, w: f32, accumulate: bool) {');
  // The vectors the θ products of the first and last layers read; the barriers of the forward sweep separate these writes from those reads.
  const in0 = layers[0].inWidth;
  out.push(...chunks(in0, wg, 'i', () => (spec.timeInput ? [`if (i < ${D}u) { wx0[i] = rhs_in[i]; } else { wx0[i] = t; }`] : ['wx0[i] = rhs_in[i];'])));
  out.push(...chunks(D, wg, 'i', () => [`wd${L - 1}[i] = rhs_in[${D}u + i];`]));
  // Forward sweep.
  layers.forEach((Ly, l) => {
    const last = l === L - 1;
    out.push(
      ...chunks(Ly.outWidth, wg, 'o', () => {
        const b = [`var s = theta[${Ly.bias}u + o];`, `let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`];
        if (l === 0) {
          // The input is in every invocation's registers.
          for (let i = 0; i < Ly.inWidth; i++) b.push(`s = fma(theta[r + ${i}u], ${i < D ? `rhs_in[${i}]` : 't'}, s);`);
        } else {
          b.push(`for (var i = 0u; i < ${Ly.inWidth}u; i++) { s = fma(theta[r + i], wx${l}[i], s); }`);
        }
        if (last) b.push('wf[o] = s;');
        else b.push(`${fromX ? '' : `wu${l}[o] = s; `}wx${l + 1}[o] = act(s);`);
        return b;
      }),
      '  workgroupBarrier();',
    );
  });
  out.push(`  for (var d = 0u; d < ${D}u; d++) { rhs_out[d] = wf[d]; }`);
  // Backward sweep: per layer the next cotangent (or the input gradient) and the θ products, then a barrier.
  for (let l = L - 1; l >= 0; l--) {
    const Ly = layers[l];
    const nPrev = l > 0 ? Ly.inWidth : D;
    out.push(
      ...chunks(nPrev, wg, 'i', () => {
        const b = ['var s = 0.0;'];
        if (l === L - 1) {
          for (let o = 0; o < Ly.outWidth; o++) b.push(`s = fma(theta[${Ly.weight + o * Ly.inWidth}u + i], rhs_in[${D + o}], s);`);
        } else {
          b.push(`for (var o = 0u; o < ${Ly.outWidth}u; o++) { s = fma(theta[${Ly.weight}u + o * ${Ly.inWidth}u + i], wd${l}[o], s); }`);
        }
        if (l > 0) b.push(`wd${l - 1}[i] = s * act_grad(${fromX ? `wx${l}[i]` : `wu${l - 1}[i]`}, wx${l}[i]);`);
        else b.push('wdin[i] = s;');
        return b;
      }),
    );
    const [ws, bs] = segments[l];
    out.push('  if (accumulate) {');
    out.push(
      ...chunks(ws.count, wg, 'e', (k) => [
        `let o = e / ${Ly.inWidth}u;`,
        `step_row[${ws.slot + k}] = fma(w * wd${l}[o], wx${l}[e - o * ${Ly.inWidth}u], step_row[${ws.slot + k}]);`,
      ]).map((x) => `  ${x}`),
      ...chunks(bs.count, wg, 'o', (k) => [`step_row[${bs.slot + k}] = fma(w, wd${l}[o], step_row[${bs.slot + k}]);`]).map((x) => `  ${x}`),
    );
    out.push('  }', '  workgroupBarrier();');
  }
  out.push(`  for (var d = 0u; d < ${D}u; d++) { rhs_out[${D}u + d] = -wdin[d]; }`);
  out.push('}');
  return out.join('\n');
}

/**
 * The workgroup kernel: one sample per workgroup. `state` holds per sample
 * its [z, a] between dispatches; `acc` the parameter adjoint a_θ (P values).
 */
export const adjointWorkgroupKernel = defineKernel({
  name: 'adjoint-workgroup',
  bindings: (spec: AdjointSpec) => adjointBindings(spec.mlp),
  entryPoints: ['adjoint'],
  wgsl: (spec: AdjointSpec, decls) => {
    const stages = thetaStageEval('wg_vjp');
    const times = outputTimesWgsl(spec.perSampleTimes === true);
    return fillTemplate(adjointWorkgroupSource, {
      STATUS_CONSTS: statusWgsl(),
      D: stateDim(spec.mlp),
      BINDINGS: decls,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('g'),
      TOUT_BASE: times.base,
      VJP: wgVjpWgsl(spec.mlp),
      RK_CORE: rkCoreWgsl(spec.tableau, 2 * stateDim(spec.mlp), stages, spec.perSampleTimes === true),
      FIRST_STAGE: stages('smp.t_hi', f32Literal(spec.tableau.b[0])),
      LANDING: landingWgsl({ lane: false, writer: 'tid == 0u' }),
      WG: ADJOINT_WORKGROUP_SIZE,
    });
  },
});
