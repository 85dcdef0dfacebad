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
 * The WGSL call that evaluates stage i at time `time` (its input is in
 * `rhs_in`; it leaves the derivative in `rhs_out`). Default: `rhs_eval(time)`.
 */
export type StageEval = (stage: number, time: string) => string;

const plainStage: StageEval = (_stage, time) => `rhs_eval(${time});`;

/** `fn rk_stages(t, h) -> f32` for a tableau (see src/wgsl/rk_core.wgsl). */
export function stagesWgsl(tab: Tableau, stageEval: StageEval = plainStage): string {
  const L: string[] = ['fn rk_stages(t: f32, h: f32) -> f32 {'];
  const solution = () => {
    const { lets, sum } = scaledSum(tab.b, 'hb');
    if (lets) L.push(`  ${lets}`);
    L.push(`  for (var d = 0u; d < N; d++) { ynew[d] = y[d] + (${sum}); }`);
  };
  for (let i = 1; i < tab.stages; i++) {
    if (tab.fsal && i === tab.stages - 1) {
      solution();
      L.push('  rhs_in = ynew;');
      L.push(`  ${stageEval(i, 't + h')}`);
    } else {
      const { lets, sum } = scaledSum(tab.a[i], `ha${i}`);
      if (lets) L.push(`  ${lets}`);
      L.push(`  for (var d = 0u; d < N; d++) { rhs_in[d] = y[d] + (${sum}); }`);
      const c = tab.c[i];
      L.push(`  ${stageEval(i, c === 1 ? 't + h' : `t + ${f32Literal(c)} * h`)}`);
    }
    L.push(`  K[${i}] = rhs_out;`);
  }
  if (!tab.fsal) solution();
  if (tab.adaptive && tab.bErr.some((c) => c !== 0)) {
    const { lets, sum } = scaledSum(tab.bErr, 'he');
    L.push(`  ${lets}`);
    L.push('  var e2 = 0.0;');
    L.push('  for (var d = 0u; d < N; d++) {');
    L.push(`    let e = ${sum};`);
    L.push('    let q = e / (P.atol + P.rtol * max(abs(y[d]), abs(ynew[d])));');
    L.push('    e2 += q * q;');
    L.push('  }');
    L.push('  return e2;');
  } else {
    L.push('  return 0.0;');
  }
  L.push('}');
  return L.join('\n');
}

/**
 * The filled step-size controller of a tableau (src/wgsl/controller.wgsl):
 * `smp`, `finite`, `fail`, `plan_step`, `decide`, `reset_controller`,
 * `check_max_steps`.
 */
export function controllerWgsl(tab: Tableau): string {
  return fillTemplate(controllerSource, {
    ADAPTIVE: String(tab.adaptive),
    ERROR_ORDER: f32Literal(tab.errorOrder),
    NONFINITE_SHRINK: f32Literal(NONFINITE_SHRINK),
  });
}

/**
 * The filled RK core for a tableau and a state width N, controller included;
 * the includer defines `rhs_eval` and whatever `stageEval` calls for the
 * stages of an attempt.
 */
export function rkCoreWgsl(tab: Tableau, n: number, stageEval?: StageEval): string {
  return fillTemplate(rkCoreSource, {
    CONTROLLER: controllerWgsl(tab),
    N: n,
    NK: kSlots(tab),
    FSAL: String(tab.fsal),
    EVALS_PER_ATTEMPT: tab.stages - 1,
    STAGES: stagesWgsl(tab, stageEval),
  });
}
