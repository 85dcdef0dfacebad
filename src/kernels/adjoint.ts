/**
 * The one-sample adjoint kernel (adjoint.wgsl): its compile-time spec (MLP
 * shape + tableau), the uniform all three adjoint kernels share, and the
 * WGSL pieces the lane and workgroup kernels share with it.
 */
import adjointSource from './adjoint.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { StructLayout, f32Literal, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage } from '../wgsl/kernel';
import { type MlpSpec, mlpOffsets, stateDim } from '../mlp/mlp';
import { CONTROLLER_FIELDS, type StageEval, outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';
import { GRADIENT_FIELDS, gradientBindings } from './gradient-bindings';
import { LOCAL_ACCUMULATOR_MAX, accumulatorRef, accumulatorWgsl, vjpWgsl } from '../mlp/vjp';

/** Invocations per workgroup of the adjoint kernel (one sample each). */
export const ADJOINT_WORKGROUP = 64;

/** Per-chunk values of the adjoint kernel. */
export const ADJOINT_PARAMS = new StructLayout('AdjointParams', [...GRADIENT_FIELDS, ...CONTROLLER_FIELDS] as const);
export type AdjointParamsValues = Parameters<typeof ADJOINT_PARAMS.pack>[0];

/**
 * The bindings of an adjoint kernel: the gradient-kernel order with one
 * per-sample buffer of its own, `state`, whose layout differs between the
 * one-sample, lane and workgroup kernels.
 */
export function adjointBindings(mlp: MlpSpec) {
  return gradientBindings(ADJOINT_PARAMS, mlpOffsets(mlp.layers).count, { state: storage('read_write') });
}

/**
 * `row(i, g)`, `land(…, i, g)` and `after_landing(…, i, g, ok)` of the lane
 * and workgroup kernels: at output index i the adjoint jumps by dL/dy_i and z
 * is reset to the forward output there (`land` returns false if either is
 * not finite); after landing, the sample is done at the first output (dL/dy0
 * written as it is), else its next segment starts there, from a finite
 * [z, a] only. `lane`: the state is vec4 lanes and both functions take the
 * lane k first; `writer`: the condition under which an invocation writes
 * dL/dy0 (the workgroup kernel's invocation 0).
 */
export function landingWgsl(opts: { lane: boolean; writer?: string }): string {
  const k = opts.lane ? 'k: u32, ' : '';
  const at = (idx: string) => (opts.lane ? `y[${idx}][k]` : `y[${idx}]`);
  const write = `for (var d = 0u; d < D; d++) { gy0[g * D + d] = ${at('D + d')}; }`;
  return [
    '// Row i, sample g of a [T][total][D] array.',
    'fn row(i: u32, g: u32) -> u32 {',
    '  return (i * P.total + g) * D;',
    '}',
    `fn land(${k}i: u32, g: u32) -> bool {`,
    '  var ok = true;',
    '  for (var d = 0u; d < D; d++) {',
    `    ${at('d')} = ysol[row(i, g) + d];`,
    `    ${at('D + d')} += cot[row(i, g) + d];`,
    `    ok = ok && finite(${at('d')}) && finite(${at('D + d')});`,
    '  }',
    '  return ok;',
    '}',
    `fn after_landing(${k}i: u32, g: u32, ok: bool) {`,
    '  if (i == 0u) {',
    opts.writer ? `    if (${opts.writer}) { ${write} }` : `    ${write}`,
    '    smp.status = STATUS_DONE;',
    '    return;',
    '  }',
    '  if (!ok) { fail(STATUS_NONFINITE); return; }',
    '  smp.out_idx = i - 1u;',
    '  smp.seg_t0 = smp.t_hi;',
    '  smp.seg_k = 0u;',
    '}',
  ].join('\n');
}

/** The compile-time spec of an adjoint kernel. */
export interface AdjointSpec {
  readonly mlp: MlpSpec;
  readonly tableau: Tableau;
  /**
   * Output times per sample ([total][n_out]; sample g reads row g, see
   * outputTimesWgsl in src/wgsl/rk.ts). Absent or false: shared times, the
   * module exactly as without this field. The one-sample kernel only.
   */
  readonly perSampleTimes?: boolean;
}

/**
 * Where the adjoint keeps a sample's two parameter rows (P floats each): the
 * accumulator a_θ and the step row (Σ b_i a_iᵀ∂f/∂θ over the stages of the
 * current attempt). Private memory holds at most `LOCAL_ACCUMULATOR_MAX`
 * floats of rows; the step row, touched at every stage, goes there first.
 */
export interface AdjointRows {
  readonly stepLocal: boolean;
  readonly accLocal: boolean;
  /** Floats per sample of the `state` buffer: [z, a], f there, and the step row when it is not private. */
  readonly stateFloats: number;
}

/** `width`: the state dimension of the system the adjoint integrates (D; a flow's augmented width). */
export function adjointRows(mlp: MlpSpec, width = stateDim(mlp)): AdjointRows {
  const P = mlpOffsets(mlp.layers).count;
  const stepLocal = P <= LOCAL_ACCUMULATOR_MAX;
  return {
    stepLocal,
    accLocal: stepLocal && 2 * P <= LOCAL_ACCUMULATOR_MAX,
    stateFloats: 4 * width + (stepLocal ? 0 : P),
  };
}

/**
 * The parameter rows and the functions that move θ products between them:
 * `acc_load()` / `acc_store()` (the accumulator row in private memory for a
 * dispatch, when it fits), `begin_step_row(t)` (an attempt's step row starts
 * as b_1·aᵀ∂f/∂θ at (t, y): the first stage is carried over, not evaluated
 * by the attempt) and `commit_step_row(h)` (an accepted step adds −h·row to
 * the accumulator; a rejected attempt's row is simply overwritten by the next).
 */
export function rowsWgsl(spec: AdjointSpec, rows: AdjointRows, width = stateDim(spec.mlp)): { wgsl: string; step: (idx: string) => string } {
  const P = mlpOffsets(spec.mlp.layers).count;
  const step = (idx: string) => (rows.stepLocal ? `step_row[${idx}]` : `state[state_base + STEP_ROW + ${idx}]`);
  const acc = accumulatorRef(rows.accLocal);
  const L: string[] = [accumulatorWgsl(P, rows.accLocal)];
  if (rows.stepLocal) {
    L.push(`var<private> step_row: array<f32, ${P}>;`);
  } else {
    L.push(`// The step row follows [z, a] and f in the sample's state.`, `const STEP_ROW: u32 = ${4 * width}u;`);
  }
  L.push('fn begin_step_row(t: f32) {', `  for (var p = 0u; p < ${P}u; p++) { ${step('p')} = 0.0; }`);
  // The first stage's θ sweep, as the other stages' (its f is carried over, so none when b_1 = 0).
  if (spec.tableau.b[0] !== 0) L.push('  rhs_in = y;', `  ${thetaStageEval('mlp_vjp')('t', f32Literal(spec.tableau.b[0]))}`);
  L.push('}');
  L.push(
    'fn commit_step_row(h: f32) {',
    `  for (var p = 0u; p < ${P}u; p++) { ${acc('p')} = fma(-h, ${step('p')}, ${acc('p')}); }`,
    '}',
  );
  return { wgsl: L.join('\n'), step };
}

/**
 * Stages with b_i ≠ 0 add b_i·aᵀ∂f/∂θ to the step row in the same sweep that
 * evaluates them: `${vjp}(t, b_i, b_i != 0)` (false: the sweep alone, as
 * `rhs_eval(t)`), one statement for every stage.
 */
export function thetaStageEval(vjp: string): StageEval {
  return (time, b) => `${vjp}(${time}, ${b}, ${b} != 0.0);`;
}

/**
 * The one-sample adjoint kernel. `state` holds per sample (STATE_FLOATS) the
 * current [z, a] (2D), then f at that point (2D), then the step row when it
 * does not fit in private memory; `acc` the parameter adjoint a_θ (P values).
 */
export const adjointKernel = defineKernel({
  name: 'adjoint',
  bindings: (spec: AdjointSpec) => adjointBindings(spec.mlp),
  entryPoints: ['adjoint'],
  wgsl: (spec: AdjointSpec, decls) => {
    const D = stateDim(spec.mlp);
    const rows = adjointRows(spec.mlp);
    const { wgsl, step } = rowsWgsl(spec, rows);
    const times = outputTimesWgsl(spec.perSampleTimes === true);
    return fillTemplate(adjointSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D,
      STATE_FLOATS: rows.stateFloats,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('g'),
      TOUT_BASE: times.base,
      VJP: vjpWgsl(spec.mlp, { input: 'rhs_in', output: 'rhs_out', negate: true, row: step }),
      RK_CORE: rkCoreWgsl(spec.tableau, 2 * D, thetaStageEval('mlp_vjp'), spec.perSampleTimes === true),
      ROWS: wgsl,
      SAMPLE_SETUP: 'fn sample_setup(g: u32) {}',
      WG: ADJOINT_WORKGROUP,
    });
  },
});
