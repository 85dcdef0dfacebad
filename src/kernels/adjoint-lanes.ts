/**
 * The adjoint kernel on four samples per invocation (adjoint-lanes.wgsl):
 * the MLP's vector–Jacobian products on vec4 lanes, the shared parameter
 * rows, and when the kernel applies. The stages, their error norm and the
 * first step are rk_core's, generated on vec4 lanes by src/wgsl/rk.ts
 * (`laneStagesWgsl`, `firstStepWgsl`).
 *
 * `vjp4(t, w, products)` reads [z, a] of four samples from `rhs_in` (vec4
 * lanes) and writes [f, −aᵀ∂f/∂z] to `rhs_out`; with `products` it also adds
 * Σ_lanes w_k·a_kᵀ∂f/∂θ to the step row. As in
 * src/mlp/lanes.ts, every inner product over a layer's inputs is unrolled,
 * so the private-array indices there are compile-time constants (a private
 * read with a loop index is a gather on SIMD implementations such as
 * SwiftShader); the loops over a layer's outputs stay loops. The θ products
 * into a private step row are written out element by element, each at a
 * constant index (in the loop over outputs they were a gather and a scatter
 * per parameter: 11–12% more backward time on the spiral at B = 16,384 and
 * 65,536); into a row in storage they stay in that loop. Lane by lane the
 * forward and backward sweeps are the arithmetic of `mlp_vjp` (src/mlp/vjp.ts).
 */
import adjointLanesSource from './adjoint-lanes.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { type AdjointSpec, adjointBindings, adjointRows, landingWgsl } from './adjoint';
import { fillTemplate } from '../wgsl/layout';
import { defineKernel } from '../wgsl/kernel';
import { type MlpSpec, mlpLabel, mlpOffsets, stateDim } from '../mlp/mlp';
import { type Activation, activationGradWgsl, activationWgsl } from '../mlp/activations';
import { type LayerPlan, mlpPlan, vjpFloats } from '../mlp/plan';
import { type StageEval, controllerWgsl, firstStepWgsl, laneStagesWgsl, statusWgsl } from '../wgsl/rk';
import { accumulatorRef, accumulatorWgsl } from '../mlp/vjp';

/** Samples per invocation of the lane kernel. */
export const ADJOINT_LANES = 4;
/** The lane kernel's compile-time spec: the adjoint's, and its workgroup size (`laneWorkgroup` of src/kernels/integrate-lanes.ts). */
export interface LaneAdjointSpec extends AdjointSpec {
  readonly workgroup: number;
}

/** Floats of function-scope arrays `vjp4` declares (vec4 lanes): the plan's 'lanes' count (`vjpFloats`). */
export function lanesVjpFunctionFloats(layers: readonly number[], timeInput: boolean, act: Activation = 'softplus'): number {
  return vjpFloats(mlpPlan({ layers, activation: act, timeInput }), 'lanes');
}

/**
 * Floats of `vjp4`'s arrays up to which the lane kernel is used (WGSL
 * allows 2,048). Its compile time grows with them: on SwiftShader (Dawn,
 * pipeline creation) 1.8 s for [2, 50, 2] (0.7 s with one sample per
 * invocation) and 7.6 s for [4, 64, 64, 4] with tanh (1,072 floats); with
 * five VJP call sites instead of two they were 4.5 s and 15.9 s, and
 * [2, 250, 2] (2,024 floats) took 26 s to its first backward, whose solve
 * the lanes did not make faster. The bound admits the first two.
 */
export const LANES_VJP_FLOATS_MAX = 1152;

/** Batches from which the lane kernel is the default: below, the samples are better spread one per invocation. */
export const LANES_MIN_BATCH = 8;

/** Whether the lane kernel applies to an MLP (see `LANES_VJP_FLOATS_MAX`). */
export function adjointLanesFit(spec: MlpSpec): boolean {
  return vjpFloats(mlpPlan(spec), 'lanes') <= LANES_VJP_FLOATS_MAX;
}

/** Where the lane kernel keeps the invocation's two parameter rows (P floats each). */
export interface LaneRows {
  readonly stepLocal: boolean;
  readonly accLocal: boolean;
  /** Floats of the `state` buffer per sample: [z, a], and a quarter of the step row when it is not private. */
  readonly stateFloatsPerSample: number;
  /** Floats of the `state` buffer per invocation (four samples). */
  readonly stateStride: number;
}

/** The rows go where the one-sample kernel keeps them (`adjointRows`); the state is laid out per invocation. */
export function laneRows(spec: MlpSpec): LaneRows {
  const P = mlpOffsets(spec.layers).count;
  const N = 2 * stateDim(spec);
  const { stepLocal, accLocal } = adjointRows(spec);
  const perSample = N + (stepLocal ? 0 : Math.ceil(P / ADJOINT_LANES));
  return { stepLocal, accLocal, stateFloatsPerSample: perSample, stateStride: ADJOINT_LANES * perSample };
}

/**
 * The lane kernel's stage evaluation: stages with b_i ≠ 0 add
 * Σ_lanes (−h_k b_i)·a_kᵀ∂f/∂θ to the step row in the sweep that evaluates
 * them (zero weight outside `run`); the others make no θ products.
 */
const laneStageEval: StageEval = (time, b) => `vjp4(${time}, select(vec4<f32>(0.0), -h * ${b}, run), ${b} != 0.0);`;

/** The two rows and `acc_load`, `acc_store`, `commit_step_row` (acc += step row, step row ← 0), `clear_step_row`. */
function rowsWgsl(P: number, rows: LaneRows, N: number): { wgsl: string; step: (idx: string) => string } {
  const step = (idx: string) => (rows.stepLocal ? `step_row[${idx}]` : `state[state_base + ${ADJOINT_LANES * N}u + ${idx}]`);
  const acc = accumulatorRef(rows.accLocal);
  const L: string[] = [accumulatorWgsl(P, rows.accLocal)];
  if (rows.stepLocal) {
    L.push(`var<private> step_row: array<f32, ${P}>;`);
  } else {
    L.push(`// The step row follows the four lanes' [z, a] in the invocation's state (zero between attempts).`);
  }
  L.push(
    'fn commit_step_row() {',
    `  for (var p = 0u; p < ${P}u; p++) { ${acc('p')} += ${step('p')}; ${step('p')} = 0.0; }`,
    '}',
    'fn clear_step_row() {',
    `  for (var p = 0u; p < ${P}u; p++) { ${step('p')} = 0.0; }`,
    '}',
  );
  return { wgsl: L.join('\n'), step };
}

/**
 * `vjp4(t, w, products)` for an MLP, with `products` adding the θ products to the
 * row element `row(index)`. The θ products of a layer with a loop over its
 * outputs are made in that loop unless `unrollTheta` (a private row): then,
 * as for layers without a loop, they follow the layer, one statement per
 * parameter at a constant index. One function for the stages with and
 * without θ products, the products under a branch on `products` (uniform within
 * an invocation): each call site inlines the whole function.
 */
export function vjp4Wgsl(spec: MlpSpec, row: (idx: string) => string, unrollTheta = false): string {
  const plan = mlpPlan(spec);
  const { D, layers } = plan;
  const L = layers.length;
  // σ' from the layer's output alone: no pre-activations kept (act_grad4 ignores its u).
  const fromX = !plan.keepPreActivations;
  const out: string[] = [];
  const push = (indent: number, line: string) => out.push(`${'  '.repeat(indent)}${line}`);
  const looped = (Ly: LayerPlan) => !Ly.writtenOut;
  /**
   * A layer's outputs, in a loop or (`writtenOut`, by default for narrow
   * layers) written out; `at(k)` is the θ index of weight row o, column k,
   * and `bias` that of bias o.
   */
  const overOutputs = (
    Ly: LayerPlan,
    body: (o: string, at: (k: number) => string, bias: string) => void,
    writtenOut = !looped(Ly),
  ) => {
    if (writtenOut) {
      for (let o = 0; o < Ly.outWidth; o++) {
        push(1, '{');
        body(`${o}u`, (k) => `${Ly.weight + o * Ly.inWidth + k}u`, `${Ly.bias + o}u`);
        push(1, '}');
      }
      return;
    }
    push(1, `for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    push(2, `let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    body('o', (k) => `r + ${k}u`, `${Ly.bias}u + o`);
    push(1, '}');
  };
  /** The θ products of layer l, in a loop over its outputs or (`writtenOut`) one statement per parameter, if `products`. */
  const thetaProducts = (l: number, writtenOut: boolean) => {
    push(1, 'if (products) {');
    overOutputs(
      layers[l],
      (o, at, bias) => {
        push(2, `let g = w * d${l}[${o}];`);
        push(2, `${row(bias)} += (g.x + g.y) + (g.z + g.w);`);
        for (let i = 0; i < layers[l].inWidth; i++) push(2, `${row(at(i))} += dot(g, x${l}[${i}]);`);
      },
      writtenOut,
    );
    push(1, '}');
  };
  /** σ' of layer l − 1's output i (an index expression or a constant). */
  const grad = (l: number, i: number | string) => `act_grad4(${fromX ? `x${l}[${i}]` : `u${l - 1}[${i}]`}, x${l}[${i}])`;
  push(0, 'fn vjp4(t: vec4<f32>, w: vec4<f32>, products: bool) {');
  push(1, `var x0: array<vec4<f32>, ${layers[0].inWidth}>;`);
  for (let d = 0; d < D; d++) push(1, `x0[${d}] = rhs_in[${d}];`);
  if (spec.timeInput) push(1, `x0[${D}] = t;`);
  // Forward sweep: u_l and x_{l+1} of every hidden layer; the last layer writes f.
  layers.forEach((Ly, l) => {
    const last = l === L - 1;
    if (!last) {
      if (!fromX) push(1, `var u${l}: array<vec4<f32>, ${Ly.outWidth}>;`);
      push(1, `var x${l + 1}: array<vec4<f32>, ${Ly.outWidth}>;`);
    }
    overOutputs(Ly, (o, at, bias) => {
      push(2, `var s = vec4<f32>(theta[${bias}]);`);
      for (let i = 0; i < Ly.inWidth; i++) push(2, `s = fma(vec4<f32>(theta[${at(i)}]), x${l}[${i}], s);`);
      if (last) push(2, `rhs_out[${o}] = s;`);
      else push(2, `${fromX ? '' : `u${l}[${o}] = s; `}x${l + 1}[${o}] = act4(s);`);
    });
  });
  // Backward sweep: d_{L-1} = a; per layer, the θ products and the next
  // cotangent (layer 0's for the state only, not the time input).
  push(1, `var d${L - 1}: array<vec4<f32>, ${D}>;`);
  for (let o = 0; o < D; o++) push(1, `d${L - 1}[${o}] = rhs_in[${D + o}];`);
  for (let l = L - 1; l >= 0; l--) {
    const Ly = layers[l];
    const nPrev = l > 0 ? Ly.inWidth : D;
    if (!looped(Ly)) {
      thetaProducts(l, true);
      if (l > 0) push(1, `var d${l - 1}: array<vec4<f32>, ${nPrev}>;`);
      for (let i = 0; i < nPrev; i++) {
        let e = `vec4<f32>(theta[${Ly.weight + i}u]) * d${l}[0]`;
        for (let o = 1; o < Ly.outWidth; o++) e = `fma(vec4<f32>(theta[${Ly.weight + o * Ly.inWidth + i}u]), d${l}[${o}], ${e})`;
        push(1, l > 0 ? `d${l - 1}[${i}] = ${e} * ${grad(l, i)};` : `rhs_out[${D + i}] = -(${e});`);
      }
      continue;
    }
    if (l > 0) {
      // A hidden layer's input cotangents: each summed over the outputs in a
      // value, σ' applied, and stored once (accumulating them in the array
      // output by output made the backward sweep of [4, 64, 64, 4] a quarter
      // slower); then the θ products, in a loop over the outputs of their own.
      push(1, `var d${l - 1}: array<vec4<f32>, ${nPrev}>;`);
      push(1, `for (var i = 0u; i < ${nPrev}u; i++) {`);
      push(2, `var s = vec4<f32>(theta[${Ly.weight}u + i]) * d${l}[0];`);
      for (let o = 1; o < Ly.outWidth; o++) push(2, `s = fma(vec4<f32>(theta[${Ly.weight + o * Ly.inWidth}u + i]), d${l}[${o}], s);`);
      push(2, `d${l - 1}[i] = s * ${grad(l, 'i')};`);
      push(1, '}');
      thetaProducts(l, unrollTheta);
      continue;
    }
    // Layer 0's few input cotangents (the state's, not the time input's) are
    // values accumulated over the outputs, with the θ products in the same
    // loop unless they are written out.
    const inLoop = !unrollTheta;
    for (let i = 0; i < nPrev; i++) push(1, `var din${i} = vec4<f32>(0.0);`);
    overOutputs(Ly, (o, at, bias) => {
      push(2, `let dl = d${l}[${o}];`);
      if (inLoop) {
        push(2, 'if (products) {');
        push(3, 'let g = w * dl;');
        push(3, `${row(bias)} += (g.x + g.y) + (g.z + g.w);`);
        for (let i = 0; i < Ly.inWidth; i++) push(3, `${row(at(i))} += dot(g, x${l}[${i}]);`);
        push(2, '}');
      }
      for (let i = 0; i < nPrev; i++) push(2, `din${i} = fma(vec4<f32>(theta[${at(i)}]), dl, din${i});`);
    });
    if (!inLoop) thetaProducts(l, true);
    for (let i = 0; i < D; i++) push(1, `rhs_out[${D + i}] = -din${i};`);
  }
  push(0, '}');
  return out.join('\n');
}

/**
 * How the lane kernel reads output times: shared (every piece the text it
 * had before per-sample times, so the module is unchanged), or per sample,
 * lane k of the invocation starting at `first` reading row
 * P.offset + first + k (`lane_times(first, i)`: output i of each lane, a
 * lane past the batch reading the last sample's row, unused).
 */
function laneTimesWgsl(perSample: boolean): { TIMES_DECL: string; LANE_TOUT: string; FIRST_TIMES: string } {
  if (!perSample) return { TIMES_DECL: '', LANE_TOUT: '', FIRST_TIMES: 'tout[last], tout[last - 1u]' };
  return {
    TIMES_DECL: [
      '',
      "// Per-sample output times: output i of each lane's own row of tout.",
      'fn lane_times(first: u32, i: u32) -> vec4<f32> {',
      '  var t = vec4<f32>(0.0);',
      '  for (var k = 0u; k < 4u; k++) { t[k] = tout[min(P.offset + first + k, P.total - 1u) * P.n_out + i]; }',
      '  return t;',
      '}',
    ].join('\n'),
    LANE_TOUT: '(P.offset + first + k) * P.n_out + ',
    FIRST_TIMES: 'lane_times(first, last), lane_times(first, last - 1u)',
  };
}

/**
 * The lane kernel. `state` holds per invocation (STATE_STRIDE) its four
 * lanes' [z, a], then the step row when it is not private; `acc` the
 * parameter adjoint a_θ of its four samples (P values).
 */
export const adjointLanesKernel = defineKernel({
  name: 'adjoint-lanes',
  bindings: (spec: LaneAdjointSpec) => adjointBindings(spec.mlp),
  entryPoints: ['adjoint'],
  wgsl: (spec: LaneAdjointSpec, decls) => {
    const D = stateDim(spec.mlp);
    const N = 2 * D;
    const P = mlpOffsets(spec.mlp.layers).count;
    const rows = laneRows(spec.mlp);
    const { wgsl, step } = rowsWgsl(P, rows, N);
    return fillTemplate(adjointLanesSource, {
      STATUS_CONSTS: statusWgsl(),
      D,
      N,
      S: spec.tableau.stages,
      STATE_STRIDE: rows.stateStride,
      BINDINGS: decls,
      CONTROLLER: controllerWgsl(spec.tableau),
      ...laneTimesWgsl(spec.perSampleTimes === true),
      STAGES: laneStagesWgsl(spec.tableau, laneStageEval),
      VJP: [
        `// VJPs of MLP ${mlpLabel(spec.mlp)} on four lanes`,
        activationWgsl(spec.mlp.activation, 4),
        activationGradWgsl(spec.mlp.activation, 4),
        vjp4Wgsl(spec.mlp, step, rows.stepLocal),
      ].join('\n'),
      ROWS: wgsl,
      LANDING: landingWgsl({ lane: true }),
      FIRST_STEP: firstStepWgsl(4, (time) => `vjp4(${time}, vec4<f32>(0.0), false);`, spec.perSampleTimes === true),
      WG: spec.workgroup,
    });
  },
});
