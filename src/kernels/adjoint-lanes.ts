/**
 * The adjoint kernel on four samples per invocation (adjoint-lanes.wgsl):
 * the MLP's vector–Jacobian products on vec4 lanes, the shared parameter
 * rows, and when the kernel applies. The stages, their error norm and the
 * first step are rk_core's, generated on vec4 lanes by src/wgsl/rk.ts
 * (`stagesWgsl`, `redoStagesWgsl`, `firstStepWgsl`).
 *
 * `vjp4(t)` and `vjp4_theta(t, w)` read [z, a] of four samples from
 * `rhs_in` (vec4 lanes) and write [f, −aᵀ∂f/∂z] to `rhs_out`;
 * `vjp4_theta` also adds Σ_lanes w_k·a_kᵀ∂f/∂θ to the step row. As in
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
import { type LaneStageEval, controllerWgsl, firstStepWgsl, laneStagesWgsl, statusWgsl } from '../wgsl/rk';
import { accumulatorRef, accumulatorWgsl } from '../mlp/vjp';

/** Samples per invocation of the lane kernel. */
export const ADJOINT_LANES = 4;
/** Invocations per workgroup of the lane kernel. */
export const ADJOINT_LANES_WORKGROUP = 64;

/** Floats of function-scope arrays `vjp4_theta` declares (vec4 lanes): the plan's 'lanes' count (`vjpFloats`). */
export function lanesVjpFunctionFloats(layers: readonly number[], timeInput: boolean, act: Activation = 'softplus'): number {
  return vjpFloats(mlpPlan({ layers, activation: act, timeInput }), 'lanes');
}

/**
 * Floats of `vjp4_theta`'s arrays up to which the lane kernel is used (WGSL
 * allows 2,048). Its compile time grows with them: on SwiftShader the first
 * backward solve took 5 s for [2, 50, 2] (1.8 s with one sample per
 * invocation), 13 s for [4, 64, 64, 4] with tanh (1,072 floats; 5 s) and 26 s
 * for [2, 250, 2] (2,024 floats), whose solve it did not make faster. The
 * bound admits the first two.
 */
export const LANES_VJP_FLOATS_MAX = 1152;

/** Batches from which the lane kernel is the default: below, the samples are better spread one per invocation. */
export const LANES_MIN_BATCH = 8;

/** Whether the lane kernel applies to an MLP (see `LANES_VJP_FLOATS_MAX`). */
export function adjointLanesFit(spec: MlpSpec): boolean {
  return vjpFloats(mlpPlan(spec), 'lanes') <= LANES_VJP_FLOATS_MAX;
}

/**
 * Where the lane kernel keeps an invocation's parameter rows (P floats each).
 * Small P: a private step row and the accumulator (private during a dispatch
 * when it fits), as the one-sample kernel keeps them. Large P: two
 * accumulator rows in `acc` that take turns (`rowsWgsl`), and no step row.
 */
export interface LaneRows {
  readonly stepLocal: boolean;
  readonly accLocal: boolean;
  /** Parameter rows per invocation in `acc`: 1 (small P), or 2 (large P: two accumulators taking turns). */
  readonly accRows: 1 | 2;
  /** Floats of the `state` buffer per sample: [z, a]. */
  readonly stateFloatsPerSample: number;
  /** Floats of the `state` buffer per invocation (four samples). */
  readonly stateStride: number;
}

/** The rows (see `LaneRows`); the state is laid out per invocation. */
export function laneRows(spec: MlpSpec): LaneRows {
  const N = 2 * stateDim(spec);
  const { stepLocal, accLocal } = adjointRows(spec);
  return { stepLocal, accLocal, accRows: stepLocal ? 1 : 2, stateFloatsPerSample: N, stateStride: ADJOINT_LANES * N };
}

/** A statement adding `value` to the θ row element at index expression `idx`. */
export type RowAdd = (idx: string, value: string) => string;

/**
 * The lane kernel's stage evaluation: stages with b_i ≠ 0 add
 * Σ_lanes (−h_k b_i)·a_kᵀ∂f/∂θ to the attempt's row in the sweep that
 * evaluates them (`vjp4_theta`, zero weight outside `run`); the others call
 * `vjp4`. With two accumulators, the stage after the first θ stage adds to
 * what that one wrote (`src_base = cur_base`).
 */
function laneStageEval(rows: LaneRows): LaneStageEval {
  const then = rows.accRows === 2 ? ' src_base = cur_base;' : '';
  return {
    theta: (time, b) => `vjp4_theta(${time}, select(vec4<f32>(0.0), -h * ${b}, run));${then}`,
    plain: (time) => `vjp4(${time});`,
  };
}

/**
 * The parameter rows and what an attempt does with them: `rows_start(inv)`
 * and `rows_end(inv)` around a dispatch, `begin_rows()` before an attempt's
 * stages, then `accept_rows()` when every running lane accepts,
 * `redo_rows(t, h, accepted)` when some do (the θ products of the accepting
 * lanes alone, from the attempt's stage slots), `reject_rows()` when none
 * does. `add` is the θ products' statement.
 *
 * Small P: the products go into a private step row, which an accepted
 * attempt adds to the accumulator (`acc_load`/`acc_store` move a private
 * accumulator in and out when it fits) and a rejected one clears.
 *
 * Large P (rows in storage): no step row. The invocation has two
 * accumulator rows in `acc`, `prev` (a_θ after the last accepted step) and
 * `cur`. An attempt's first θ stage writes cur = prev + its products, the
 * later ones add theirs to cur; an accepted attempt swaps the two rows (cur
 * becomes prev), a rejected one leaves cur to be overwritten by the next
 * attempt, whatever it holds. Per parameter and step that is one store and
 * one load per θ stage and nothing more, against the step row's extra
 * commit (two loads and two stores) and clearing. The rows are
 * acc[inv·P …] and acc[(n_inv + inv)·P …]; a dispatch ends with a_θ in the
 * first (copied there if the rows have swapped an odd number of times),
 * which is the one the reduction reads.
 */
function rowsWgsl(P: number, rows: LaneRows): { wgsl: string; add: RowAdd } {
  if (rows.accRows === 1) {
    const acc = accumulatorRef(rows.accLocal);
    const add: RowAdd = (idx, value) => `step_row[${idx}] += ${value};`;
    const wgsl = [
      accumulatorWgsl(P, rows.accLocal),
      `var<private> step_row: array<f32, ${P}>;`,
      `fn rows_start(inv: u32) { acc_base = inv * P.n_params; acc_load(); }`,
      'fn rows_end(inv: u32) { acc_store(); }',
      'fn begin_rows() {}',
      // acc += step row, step row ← 0.
      'fn accept_rows() {',
      `  for (var p = 0u; p < ${P}u; p++) { ${acc('p')} += step_row[p]; step_row[p] = 0.0; }`,
      '}',
      'fn reject_rows() {',
      `  for (var p = 0u; p < ${P}u; p++) { step_row[p] = 0.0; }`,
      '}',
      'fn redo_rows(t: vec4<f32>, h: vec4<f32>, accepted: vec4<bool>) {',
      '  reject_rows();',
      '  redo_stages(t, h, accepted);',
      '  accept_rows();',
      '}',
    ].join('\n');
    return { wgsl, add };
  }
  const add: RowAdd = (idx, value) => `acc[cur_base + ${idx}] = acc[src_base + ${idx}] + ${value};`;
  const wgsl = [
    '// Two accumulator rows per invocation in acc, taking turns (src/kernels/adjoint-lanes.ts rowsWgsl).',
    'var<private> prev_base: u32;',
    'var<private> cur_base: u32;',
    'var<private> src_base: u32;',
    'fn rows_start(inv: u32) {',
    '  prev_base = inv * P.n_params;',
    '  cur_base = ((P.batch + 3u) / 4u + inv) * P.n_params;',
    '}',
    'fn rows_end(inv: u32) {',
    '  let home = inv * P.n_params;',
    '  if (prev_base != home) {',
    `    for (var p = 0u; p < ${P}u; p++) { acc[home + p] = acc[prev_base + p]; }`,
    '  }',
    '}',
    'fn begin_rows() { src_base = prev_base; }',
    'fn accept_rows() {',
    '  let b = prev_base;',
    '  prev_base = cur_base;',
    '  cur_base = b;',
    '}',
    'fn reject_rows() {}',
    'fn redo_rows(t: vec4<f32>, h: vec4<f32>, accepted: vec4<bool>) {',
    '  src_base = prev_base;',
    '  redo_stages(t, h, accepted);',
    '  accept_rows();',
    '}',
  ].join('\n');
  return { wgsl, add };
}

/**
 * `vjp4(t)` (theta = false) or `vjp4_theta(t, w)` (theta = true) for an MLP,
 * adding each θ product to its row element by the statement `add(index, value)`. The θ products of a layer with a
 * loop over its outputs are made in that loop unless `unrollTheta` (a private
 * row): then, as for layers without a loop, they follow the layer, one
 * statement per parameter at a constant index.
 */
export function vjp4Wgsl(spec: MlpSpec, theta: boolean, add: RowAdd, unrollTheta = false): string {
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
  /** The θ products of layer l, in a loop over its outputs or (`writtenOut`) one statement per parameter. */
  const thetaProducts = (l: number, writtenOut: boolean) =>
    overOutputs(
      layers[l],
      (o, at, bias) => {
        push(2, `let g = w * d${l}[${o}];`);
        push(2, add(bias, '(g.x + g.y) + (g.z + g.w)'));
        for (let i = 0; i < layers[l].inWidth; i++) push(2, add(at(i), `dot(g, x${l}[${i}])`));
      },
      writtenOut,
    );
  /** σ' of layer l − 1's output i (an index expression or a constant). */
  const grad = (l: number, i: number | string) => `act_grad4(${fromX ? `x${l}[${i}]` : `u${l - 1}[${i}]`}, x${l}[${i}])`;
  push(0, theta ? 'fn vjp4_theta(t: vec4<f32>, w: vec4<f32>) {' : 'fn vjp4(t: vec4<f32>) {');
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
      if (theta) thetaProducts(l, true);
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
      if (theta) thetaProducts(l, unrollTheta);
      continue;
    }
    // Layer 0's few input cotangents (the state's, not the time input's) are
    // values accumulated over the outputs, with the θ products in the same
    // loop unless they are written out.
    const inLoop = theta && !unrollTheta;
    for (let i = 0; i < nPrev; i++) push(1, `var din${i} = vec4<f32>(0.0);`);
    overOutputs(Ly, (o, at, bias) => {
      push(2, `let dl = d${l}[${o}];`);
      if (inLoop) {
        push(2, 'let g = w * dl;');
        push(2, add(bias, '(g.x + g.y) + (g.z + g.w)'));
      }
      for (let i = 0; i < Ly.inWidth; i++) {
        if (inLoop) push(2, add(at(i), `dot(g, x${l}[${i}])`));
        if (i < nPrev) push(2, `din${i} = fma(vec4<f32>(theta[${at(i)}]), dl, din${i});`);
      }
    });
    if (theta && !inLoop) thetaProducts(l, true);
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
 * lanes' [z, a]; `acc` the parameter adjoint a_θ of its four samples (P
 * values; with rows in storage a second row per invocation after all the
 * first ones, see `rowsWgsl`).
 */
export const adjointLanesKernel = defineKernel({
  name: 'adjoint-lanes',
  bindings: (spec: AdjointSpec) => adjointBindings(spec.mlp),
  entryPoints: ['adjoint'],
  wgsl: (spec: AdjointSpec, decls) => {
    const D = stateDim(spec.mlp);
    const N = 2 * D;
    const P = mlpOffsets(spec.mlp.layers).count;
    const rows = laneRows(spec.mlp);
    const { wgsl, add } = rowsWgsl(P, rows);
    return fillTemplate(adjointLanesSource, {
      STATUS_CONSTS: statusWgsl(),
      D,
      N,
      S: spec.tableau.stages,
      STATE_STRIDE: rows.stateStride,
      BINDINGS: decls,
      CONTROLLER: controllerWgsl(spec.tableau),
      ...laneTimesWgsl(spec.perSampleTimes === true),
      STAGES: laneStagesWgsl(spec.tableau, laneStageEval(rows)),
      VJP: [
        `// VJPs of MLP ${mlpLabel(spec.mlp)} on four lanes`,
        activationWgsl(spec.mlp.activation, 4),
        activationGradWgsl(spec.mlp.activation, 4),
        vjp4Wgsl(spec.mlp, false, add),
        vjp4Wgsl(spec.mlp, true, add, rows.stepLocal),
      ].join('\n'),
      ROWS: wgsl,
      LANDING: landingWgsl({ lane: true }),
      FIRST_STEP: firstStepWgsl(4, 'vjp4', spec.perSampleTimes === true),
      WG: ADJOINT_LANES_WORKGROUP,
    });
  },
});
