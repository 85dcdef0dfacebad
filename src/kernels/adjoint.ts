/**
 * The adjoint kernel (shaders/adjoint.wgsl) and the parameter-gradient
 * reduction (shaders/reduce.wgsl): compile-time spec (MLP shape + tableau),
 * generated WGSL, uniform layouts and bind group layouts.
 */
import adjointSource from '../../shaders/adjoint.wgsl?raw';
import reduceSource from '../../shaders/reduce.wgsl?raw';
import type { Tableau } from '../host/tableau';
import { type ExplicitLayout, StructLayout, explicitLayout, f32Literal, fillTemplate } from './layout';
import { type MlpSpec, mlpKey, stateDim } from './mlp';
import { CONTROLLER_FIELDS, SAMPLE, combination, rkCoreWgsl, statusWgsl } from './rk';
import { GRADIENT_FIELDS, gradientBindings } from './gradient';
import { vjpWgsl } from './vjp';

/** Invocations per workgroup of the adjoint kernel (one sample each). */
export const ADJOINT_WORKGROUP = 64;
/** Invocations per workgroup of the reduction (one parameter each). */
export const REDUCE_WORKGROUP = 64;
/** Rows (samples) each invocation of the first reduction pass adds up. */
export const REDUCE_ROWS = 256;

/** Per-chunk values of the adjoint kernel. */
export const ADJOINT_PARAMS = new StructLayout('AdjointParams', [...GRADIENT_FIELDS, ...CONTROLLER_FIELDS] as const);
export type AdjointParamsValues = Parameters<typeof ADJOINT_PARAMS.pack>[0];

/** Values of the reduction: rows to add, parameters per row, number of partial rows. */
export const REDUCE_PARAMS = new StructLayout('ReduceParams', [
  ['rows', 'u32'],
  ['n_params', 'u32'],
  ['parts', 'u32'],
] as const);

/** Bindings of the adjoint module: the gradient-kernel order with one buffer of its own, the state [z, a] and f there. */
const ADJOINT_BINDINGS = gradientBindings(1);
/** Bindings of the reduction module: Params, acc, partial sums, output. */
const REDUCE_BINDINGS: readonly GPUBufferBindingType[] = ['uniform', 'read-only-storage', 'storage', 'storage'];

export function adjointLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'adjoint', ADJOINT_BINDINGS);
}

export function reduceLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'reduce', REDUCE_BINDINGS);
}

/** The compile-time spec of an adjoint kernel. */
export interface AdjointSpec {
  readonly mlp: MlpSpec;
  readonly tableau: Tableau;
}

export function adjointKey(spec: AdjointSpec): string {
  return `adjoint|${mlpKey(spec.mlp)}|${spec.tableau.name}|wg${ADJOINT_WORKGROUP}`;
}

/**
 * `fn theta_quadrature(t, h)`: after an accepted step, recomputes the input of
 * every stage with b_i ≠ 0 from y and the stage slots, and adds
 * −h·b_i·a_iᵀ∂f/∂θ there. Rejected attempts never touch the accumulator.
 */
function quadratureWgsl(tab: Tableau): string {
  const L: string[] = ['fn theta_quadrature(t: f32, h: f32) {'];
  for (let i = 0; i < tab.stages; i++) {
    if (tab.b[i] === 0) continue;
    if (i === 0) {
      L.push('  rhs_in = y;');
    } else {
      const sum = combination(tab.a[i]);
      L.push(`  for (var d = 0u; d < N; d++) { rhs_in[d] = y[d] + h * (${sum ?? '0.0'}); }`);
    }
    const c = tab.c[i];
    const time = c === 0 ? 't' : c === 1 ? 't + h' : `t + ${f32Literal(c)} * h`;
    L.push(`  theta_vjp(${time}, -h * ${f32Literal(tab.b[i])});`);
  }
  L.push('}');
  return L.join('\n');
}

export function adjointWgsl(spec: AdjointSpec): string {
  const D = stateDim(spec.mlp);
  return fillTemplate(adjointSource, {
    PARAMS_STRUCT: ADJOINT_PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    D,
    VJP: vjpWgsl(spec.mlp),
    RK_CORE: rkCoreWgsl(spec.tableau, 2 * D),
    QUADRATURE: quadratureWgsl(spec.tableau),
    WG: ADJOINT_WORKGROUP,
  });
}

export function reduceKey(): string {
  return `reduce|wg${REDUCE_WORKGROUP}|rows${REDUCE_ROWS}`;
}

export function reduceWgsl(): string {
  return fillTemplate(reduceSource, {
    PARAMS_STRUCT: REDUCE_PARAMS.wgsl(),
    ROWS: REDUCE_ROWS,
    WG: REDUCE_WORKGROUP,
  });
}
