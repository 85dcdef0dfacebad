/**
 * The Runge–Kutta core shared by the forward and adjoint kernels
 * (src/wgsl/rk_core.wgsl): the per-sample state layout, status codes,
 * step-size controller constants, and the stage code generated from a tableau
 * for a state of any width N. One generator serves every method: the stage
 * inputs, the solution and the error estimate are written from the tableau's
 * numbers.
 */
import controllerSource from './controller.wgsl?raw';
import rkCoreSource from './rk_core.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { StructLayout, f32Literal, fillTemplate } from './layout';

/** Per-sample solver state (a storage array, zero-initialised = not started). */
export const SAMPLE = new StructLayout('Sample', [
  ['t_hi', 'f32'],
  ['t_lo', 'f32'],
  ['h', 'f32'],
  ['err_prev', 'f32'],
  ['out_idx', 'u32'],
  ['status', 'u32'],
  ['n_accepted', 'u32'],
  ['n_rejected', 'u32'],
  ['n_fe', 'u32'],
  ['flags', 'u32'],
  ['seg_t0', 'f32'],
  ['seg_k', 'u32'],
] as const);

/** Status of a sample; values above DONE are failures. */
export const STATUS = {
  NEW: 0,
  RUNNING: 1,
  DONE: 2,
  NONFINITE: 3,
  UNDERFLOW: 4,
  MAXSTEPS: 5,
  /** Backprop mode: the replayed forward took more steps than its checkpoint tape holds. */
  TAPE: 6,
} as const;

export function statusWgsl(): string {
  return Object.entries(STATUS)
    .map(([k, v]) => `const STATUS_${k}: u32 = ${v}u;`)
    .join('\n');
}

/** A non-finite error estimate is a rejection that shrinks the step by this factor. */
export const NONFINITE_SHRINK = 0.1;

/**
 * The per-solve fields the RK core reads from `P` (besides the controller's):
 * every solver uniform starts with these, declared once here.
 */
export const SOLVER_FIELDS = [
  ['n_out', 'u32'],
  ['steps_per_dispatch', 'u32'],
  ['max_steps', 'u32'],
  ['dir', 'f32'],
  ['rtol', 'f32'],
  ['atol', 'f32'],
  ['h_fixed', 'f32'],
  ['first_step', 'f32'],
] as const;

/** The controller fields every solver uniform carries (declared once, appended to each layout). */
export const CONTROLLER_FIELDS = [
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['safety', 'f32'],
  ['factor_min', 'f32'],
  ['factor_max', 'f32'],
] as const;

/** Controller values as the kernels read them. */
export interface ControllerValues {
  readonly beta1: number;
  readonly beta2: number;
  readonly safety: number;
  readonly factor_min: number;
  readonly factor_max: number;
}

/** The solver and controller fields of a uniform, by name (packed by `solverValues` in src/solver/options.ts). */
export type SolverValues = Readonly<Record<(typeof SOLVER_FIELDS)[number][0] | (typeof CONTROLLER_FIELDS)[number][0], number>>;

/** Number of K slots: the stages, plus f(t+h, y_{n+1}) for methods that are not FSAL. */
export function kSlots(tab: Tableau): number {
  return tab.fsal ? tab.stages : tab.stages + 1;
}

/**
 * `Σ_j (h·coeffs[j])·K[j][d]`: the scalars h·c_j are formed first (as `let`s
 * named `${name}_j`), so the sum of the scaled stage derivatives cannot
 * overflow where the unscaled Σ c_j K_j would (|Σ a_ij| reaches ~27 in dopri5).
 */
export function scaledSum(coeffs: readonly number[], name: string): { lets: string; sum: string } {
  const lets: string[] = [];
  const terms: string[] = [];
  coeffs.forEach((c, j) => {
    if (c === 0) return;
    lets.push(`let ${name}_${j} = h * ${f32Literal(c)};`);
    terms.push(`${name}_${j} * K[${j}][d]`);
  });
  return { lets: lets.join(' '), sum: terms.length ? terms.join(' + ') : '0.0' };
}

/**
 * The WGSL statement that evaluates a stage at time `time` (its input is in
 * `rhs_in`; it leaves the derivative in `rhs_out`), given `b`, the WGSL of
 * the stage's weight b_i: one statement for every stage (the adjoint kernels
 * add θ products where b_i ≠ 0; in the lane form, `time` is a vec4 and the
 * statement may also read the attempt's `h` and `run`). Default:
 * `rhs_eval(time);`.
 */
export type StageEval = (time: string, b: string) => string;

const plainStage: StageEval = (time) => `rhs_eval(${time});`;

/** The tableau as constant arrays RK_A, RK_B, RK_C (S entries each, rows of RK_A too). */
function tableauConsts(tab: Tableau): string[] {
  const S = tab.stages;
  const arr = (xs: readonly number[]) => `array<f32, ${S}>(${Array.from({ length: S }, (_, j) => f32Literal(xs[j] ?? 0)).join(', ')})`;
  return [`const RK_A = array<array<f32, ${S}>, ${S}>(${tab.a.map((r) => arr(r)).join(', ')});`, `const RK_B = ${arr(tab.b)};`, `const RK_C = ${arr(tab.c)};`];
}

/** ynew = y + Σ_j (h·b_j)·K[j], then Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))² returned, e = Σ_j (h·b̂err_j)·K[j]. */
function solutionAndError(tab: Tableau, L: string[], c: (v: string) => string): void {
  const hb = scaledSum(tab.b, 'hb');
  if (hb.lets) L.push(`  ${hb.lets}`);
  L.push(`  for (var d = 0u; d < N; d++) { ynew[d] = y[d] + (${hb.sum}); }`);
  if (tab.adaptive && tab.bErr.some((x) => x !== 0)) {
    const { lets, sum } = scaledSum(tab.bErr, 'he');
    L.push(`  ${lets}`);
    L.push(`  var e2 = ${c('0.0')};`);
    L.push('  for (var d = 0u; d < N; d++) {');
    L.push(`    let e = ${sum};`);
    L.push('    let q = e / (P.atol + P.rtol * max(abs(y[d]), abs(ynew[d])));');
    L.push('    e2 += q * q;');
    L.push('  }');
    L.push('  return e2;');
  } else {
    L.push(`  return ${c('0.0')};`);
  }
}

/**
 * The stages of one attempt, their solution and embedded error norm, from a
 * tableau (see src/wgsl/rk_core.wgsl): `fn rk_stages(t: f32, h: f32) -> f32`
 * fills K[1..] (K[0] is carried over from the last step) and ynew, and
 * returns Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))² of the embedded
 * error estimate e = h Σ (b_i − b̂_i) K_i (0 for fixed-step methods).
 *
 * The stages are a loop over i with the tableau as constant arrays and one
 * evaluation statement, as in the lane form below (which says why): the
 * input of stage i is y + Σ_j (h·a_ij)·K[j] over the non-zero a_ij in j
 * order, the sum `scaledSum` writes out, so the values are the same as
 * written-out stages'. An FSAL method's last stage takes that sum over its
 * row of a, which is b: the value ynew then gets.
 */
export function stagesWgsl(tab: Tableau, stageEval: StageEval = plainStage): string {
  const L: string[] = [
    ...tableauConsts(tab),
    'fn stage_input(i: u32, h: f32) {',
    '  for (var d = 0u; d < N; d++) {',
    '    var s = 0.0;',
    '    for (var j = 0u; j < i; j++) {',
    '      if (RK_A[i][j] != 0.0) { s += (h * RK_A[i][j]) * K[j][d]; }',
    '    }',
    '    rhs_in[d] = y[d] + s;',
    '  }',
    '}',
    'fn rk_stages(t: f32, h: f32) -> f32 {',
    `  for (var i = 1u; i < ${tab.stages}u; i++) {`,
    '    stage_input(i, h);',
    `    ${stageEval('t + RK_C[i] * h', 'RK_B[i]')}`,
    '    K[i] = rhs_out;',
    '  }',
  ];
  solutionAndError(tab, L, (v) => v);
  L.push('}');
  return L.join('\n');
}

/**
 * The same stages on four lanes, each lane with its own t and h, lanes
 * outside `run` evaluating zeros: `attempt_stages(t, h, run, redo)` evaluates
 * every stage, the first too (the lane adjoint's θ product needs its sweep,
 * and a lane that has just landed on an output time needs it at its new
 * state), then ynew and the error norm, written by the same code as
 * rk_stages'. With `redo` (the lane adjoint's θ products when only some lanes
 * accept) it evaluates the stages with b_i ≠ 0 again for the lanes in `run`
 * alone, from the stage slots of the attempt just made, and leaves K, ynew
 * and the norm as they were.
 *
 * Every evaluation inlines the whole MLP (SwiftShader, like most GPU
 * compilers, inlines every call), so the kernel has as few call sites of it
 * as it can: the stages are a loop over i with the tableau as constant
 * arrays, the evaluation is one statement whatever b_i, and the includer
 * calls `attempt_stages` from one place (a loop of two rounds, for the redo).
 * Written out (seven call sites, twelve with a separate redo) the lane
 * adjoint's backward took 3.3× as long on SwiftShader (spiral [2, 50, 2],
 * B = 16,384), and still about 1.24× with the inputs written out in a switch
 * on i; five call sites of the VJP instead of two made its pipeline take
 * 3.2 s to compile instead of 1.7 s. The input of stage i is the same sum,
 * y + Σ_j (h·a_ij)·K[j] over the non-zero a_ij in j order, as rk_stages'
 * `scaledSum`.
 *
 * `carryFirst` (the lane forward kernel): K[0] is carried over from the last
 * step as in rk_stages, so `attempt_stages(t, h, run)` starts at stage 1 and
 * has no redo.
 */
export function laneStagesWgsl(tab: Tableau, stageEval: StageEval, carryFirst = false): string {
  const L: string[] = tableauConsts(tab);
  // y + Σ_j (h·a_ij)·K[j], summed over a loop on j (the zero a_ij skipped).
  L.push(
    'fn stage_input(i: u32, h: vec4<f32>, run: vec4<bool>) {',
    '  for (var d = 0u; d < N; d++) {',
    '    var s = vec4<f32>(0.0);',
    '    for (var j = 0u; j < i; j++) {',
    '      if (RK_A[i][j] != 0.0) { s += (h * RK_A[i][j]) * K[j][d]; }',
    '    }',
    '    rhs_in[d] = select(vec4<f32>(0.0), y[d] + s, run);',
    '  }',
    '}',
  );
  if (carryFirst) {
    L.push(
      'fn attempt_stages(t: vec4<f32>, h: vec4<f32>, run: vec4<bool>) -> vec4<f32> {',
      '  for (var i = 1u; i < S; i++) {',
      '    stage_input(i, h, run);',
      `    ${stageEval('t + RK_C[i] * h', 'RK_B[i]')}`,
      '    K[i] = rhs_out;',
      '  }',
    );
  } else {
    L.push(
      'fn attempt_stages(t: vec4<f32>, h: vec4<f32>, run: vec4<bool>, redo: bool) -> vec4<f32> {',
      '  for (var i = 0u; i < S; i++) {',
      '    if (redo && RK_B[i] == 0.0) { continue; }',
      '    stage_input(i, h, run);',
      `    ${stageEval('t + RK_C[i] * h', 'RK_B[i]')}`,
      '    if (!redo) { K[i] = rhs_out; }',
      '  }',
      '  if (redo) { return vec4<f32>(0.0); }',
    );
  }
  solutionAndError(tab, L, (v) => `vec4<f32>(${v})`);
  L.push('}');
  return L.join('\n');
}

/**
 * The value type of the RK code: one sample per invocation (`f32`, the
 * state in `y: array<f32, N>`) or four samples as the lanes of `vec4<f32>`
 * values (the lane adjoint kernel, `y: array<vec4<f32>, N>`, each lane with
 * its own time and step).
 */
export type RkLanes = 1 | 4;

/** The float type of a state element, and a constant of that type. */
function valueType(lanes: RkLanes): { T: string; c: (v: string) => string } {
  return lanes === 1 ? { T: 'f32', c: (v) => v } : { T: 'vec4<f32>', c: (v) => `vec4<f32>(${v})` };
}

/**
 * Hairer's initial step (Hairer, Nørsett & Wanner, Solving ODEs I, II.4) and
 * the first-step rule, written once for one sample or four lanes:
 *
 * `initial_step(t0, t1)`: from (t0, y) towards t1, from the scaled norms of
 * y, f0 = f(t0, y) and a finite-difference estimate of the second
 * derivative; returns the signed step. One sample: f0 is K[0] (known) and
 * the step costs one evaluation of `rhs_eval`. Four lanes
 * (`initial_step(t0, t1, guess)`): f0 is evaluated first for the lanes in
 * `guess` (the others evaluate zeros) into the private `f0`, each lane's two
 * evaluations are counted by the includer's `count_initial_step(guess)`,
 * and both go through one call site (a loop of two passes). `evalCall(time)`
 * is the WGSL statement of an evaluation (default `rhs_eval(time);`).
 *
 * `first_step(t0, t1, hint)`: the first step of a segment: the option
 * firstStep if set, else `hint` where positive (a reverse solve's: the step
 * size its forward solve ended with), else the initial-step heuristic. Four
 * lanes take `start` too, the lanes that need a first step. `laneTimes`
 * (four lanes with per-sample output times): t0 and t1 are vec4 values, each
 * lane's own.
 */
export function firstStepWgsl(lanes: RkLanes, evalCall: (time: string) => string = (t) => `rhs_eval(${t});`, laneTimes = false): string {
  const v = lanes === 4;
  // The type of t0 and t1: shared by the lanes, or each lane's own (per-sample output times).
  const tt = v && laneTimes ? 'vec4<f32>' : 'f32';
  const { T, c } = valueType(lanes);
  const f0 = v ? 'f0[d]' : 'K[0][d]';
  const and = v ? '&' : '&&';
  const input = (e: string) => (v ? `select(vec4<f32>(0.0), ${e}, guess)` : e);
  const L: string[] = [];
  if (v) {
    L.push(
      '// Per lane: x is finite (the vec4 twin of the controller\'s `finite`; every lane kernel includes this code).',
      'fn finite4(x: vec4<f32>) -> vec4<bool> {',
      '  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) != vec4<u32>(0x7f800000u);',
      '}',
      '// f(t0, y) of the lanes taking the initial-step heuristic.',
      `var<private> f0: array<${T}, N>;`,
    );
  }
  L.push(`fn initial_step(t0: ${tt}, t1: ${tt}${v ? ', guess: vec4<bool>' : ''}) -> ${T} {`);
  L.push('  let span = abs(t1 - t0);');
  const decl = [`  var d0 = ${c('0.0')};`, `  var d1 = ${c('0.0')};`];
  /** d0, d1 (the scaled norms of y and f0) and h0 = 0.01·d0/d1 within the span. */
  const h0 = (h0Decl: string) => [
    '  for (var d = 0u; d < N; d++) {',
    '    let sc = P.atol + abs(y[d]) * P.rtol;',
    '    d0 += (y[d] / sc) * (y[d] / sc);',
    `    d1 += (${f0} / sc) * (${f0} / sc);`,
    '  }',
    '  d0 = sqrt(d0 / f32(N));',
    '  d1 = sqrt(d1 / f32(N));',
    `  ${h0Decl}h0 = select(${c('1e-6')}, 0.01 * d0 / d1, (d0 >= ${c('1e-5')}) ${and} (d1 >= ${c('1e-5')}));`,
    `  h0 = min(h0, ${c('span')});`,
  ];
  const secondInput = `  for (var d = 0u; d < N; d++) { rhs_in[d] = ${input(`y[d] + P.dir * h0 * ${f0}`)}; }`;
  if (v) {
    // f(t0, y), then f(t0 + h0, y + h0·f0): two passes through one call
    // site, since each call site inlines the whole evaluation.
    L.push(
      ...decl,
      `  var h0 = ${c('0.0')};`,
      '  for (var round = 0u; round < 2u; round++) {',
      '    if (round == 0u) {',
      `      for (var d = 0u; d < N; d++) { rhs_in[d] = ${input('y[d]')}; }`,
      '    } else {',
      `    ${secondInput}`,
      '    }',
      `    ${evalCall(`select(${c('t0')} + P.dir * h0, ${c('t0')}, round == 0u)`)}`,
      '    if (round == 1u) { break; }',
      '    f0 = rhs_out;',
      ...h0('').map((l) => `  ${l}`),
      '  }',
    );
  } else {
    L.push(...decl, ...h0('var '), secondInput, `  ${evalCall(`${c('t0')} + P.dir * h0`)}`);
  }
  L.push(
    v ? '  count_initial_step(guess);' : '  smp.n_fe += 1u;',
    `  var d2 = ${c('0.0')};`,
    '  for (var d = 0u; d < N; d++) {',
    '    let sc = P.atol + abs(y[d]) * P.rtol;',
    `    let q = (rhs_out[d] - ${f0}) / sc;`,
    '    d2 += q * q;',
    '  }',
    '  d2 = sqrt(d2 / f32(N)) / h0;',
    '  let dm = max(d1, d2);',
    `  let h1 = select(max(${c('1e-6')}, h0 * 1e-3), pow(0.01 / dm, ${c('1.0 / ERROR_ORDER')}), (dm > ${c('1e-15')}) ${and} ${v ? 'finite4' : 'finite'}(dm));`,
    `  return P.dir * min(min(100.0 * h0, h1), ${c('span')});`,
    '}',
  );
  L.push(
    `fn first_step(t0: ${tt}, t1: ${tt}, hint: ${T}${v ? ', start: vec4<bool>' : ''}) -> ${T} {`,
    `  if (!ADAPTIVE) { return ${c('P.h_fixed')}; }`,
    `  if (P.first_step > 0.0) { return ${tt === 'f32' ? c('P.dir * min(P.first_step, abs(t1 - t0))') : 'P.dir * min(vec4<f32>(P.first_step), abs(t1 - t0))'}; }`,
    `  let guess = ${v ? 'start & ' : ''}!(hint > ${c('0.0')});`,
    `  let given = P.dir * min(hint, ${c('abs(t1 - t0)')});`,
    '  if (!any(guess)) { return given; }',
    `  return ${v ? 'select(given, initial_step(t0, t1, guess), guess)' : 'initial_step(t0, t1)'};`,
    '}',
  );
  return L.join('\n');
}

/**
 * The filled step-size controller of a tableau (src/wgsl/controller.wgsl):
 * `smp`, `finite`, `fail`, `plan_step`, `decide`, `reset_controller`,
 * `check_max_steps`.
 */
export function controllerWgsl(tab: Tableau, perSampleTimes = false): string {
  return fillTemplate(controllerSource, {
    ADAPTIVE: String(tab.adaptive),
    ERROR_ORDER: f32Literal(tab.errorOrder),
    NONFINITE_SHRINK: f32Literal(NONFINITE_SHRINK),
    TOUT_BASE: outputTimesWgsl(perSampleTimes).base,
  });
}

/**
 * How a kernel reads its output times `tout`: shared by the batch ([n_out],
 * the default) or per sample ([batch][n_out], a generation-time choice:
 * `perSampleTimes` in a kernel spec). Per sample, the kernel keeps the first
 * index of its sample's row in the private `tb` (set by `row`, declared by
 * `decl`) and reads output i at `tout[tb + i]`; its first and last times are
 * the row's, not the uniform's t0 and t_end. Shared, every piece is the text
 * the kernels had before per-sample times existed, so their modules are
 * generated byte for byte as before (test/unit/per-sample-times.test.ts).
 */
export function outputTimesWgsl(perSample: boolean): { base: string; t0: string; tEnd: string; decl: string; row: (b: string) => string } {
  if (!perSample) return { base: '', t0: 'P.t0', tEnd: 'P.t_end', decl: '', row: () => '' };
  return {
    base: 'tb + ',
    t0: 'tout[tb]',
    tEnd: 'tout[tb + P.n_out - 1u]',
    decl: '\n// Per-sample output times: this sample\'s row of tout starts at tb.\nvar<private> tb: u32;',
    row: (b) => `\n  tb = ${b} * P.n_out;`,
  };
}

/**
 * The filled RK core for a tableau and a state width N, controller included;
 * the includer defines `rhs_eval` and whatever `stageEval` calls for the
 * stages of an attempt. `perSampleTimes`: the controller reads output times
 * per sample (see outputTimesWgsl).
 */
export function rkCoreWgsl(tab: Tableau, n: number, stageEval?: StageEval, perSampleTimes = false): string {
  return fillTemplate(rkCoreSource, {
    CONTROLLER: controllerWgsl(tab, perSampleTimes),
    N: n,
    NK: kSlots(tab),
    FSAL: String(tab.fsal),
    EVALS_PER_ATTEMPT: tab.stages - 1,
    STAGES: stagesWgsl(tab, stageEval),
    FIRST_STEP: firstStepWgsl(1),
  });
}
