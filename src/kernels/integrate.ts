/**
 * The per-sample Runge–Kutta integration kernel (integrate.wgsl) and
 * the batch-shared step control entry points: their compile-time spec (MLP
 * shape + tableau), the WGSL generated from it, the struct layouts shared by
 * WGSL and the host, and the recording of dispatches into a compute pass.
 *
 * One generator serves every method: the stage code, the error estimate and
 * the dense output are written from the tableau's numbers.
 */
import integrateSource from './integrate.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { type ExplicitLayout, StructLayout, explicitLayout, f32Literal, fillTemplate } from '../wgsl/layout';
import { type MlpSpec, mlpKey, mlpOffsets, mlpWgsl, stateDim, thetaBindingWgsl } from '../mlp/mlp';
import { CONTROLLER_FIELDS, SAMPLE, SOLVER_FIELDS, rkCoreWgsl, statusWgsl } from '../wgsl/rk';

/** Invocations per workgroup of the integration kernel (one sample each). */
export const INTEGRATE_WORKGROUP = 64;
/** Invocations of the single batch-controller workgroup (batch-shared step control). */
export const CONTROL_WORKGROUP = 256;

/** Entry points of the integration module. */
export type IntegrateEntry = 'integrate' | 'batch_init' | 'batch_attempt' | 'batch_control' | 'batch_commit';

/**
 * The bind group layout every entry point of the integration module shares:
 * 0 Params (uniform), 1 θ, 2 y0, 3 output times (read-only storage), 4 outputs,
 * 5 per-sample state, 6 current y, 7 K buffer (storage).
 */
export const INTEGRATE_BINDINGS: readonly GPUBufferBindingType[] = [
  'uniform',
  'read-only-storage',
  'read-only-storage',
  'read-only-storage',
  'storage',
  'storage',
  'storage',
  'storage',
];

/** The layout of the integration module on `device` (cached per device). */
export function integrateLayouts(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'integrate', INTEGRATE_BINDINGS);
}

/** Per-solve values of the integration kernel (a uniform buffer). */
export const PARAMS = new StructLayout('Params', [
  ...SOLVER_FIELDS,
  ['batch', 'u32'],
  ['t0', 'f32'],
  ['t_end', 'f32'],
  ...CONTROLLER_FIELDS,
] as const);
export type ParamsValues = Parameters<typeof PARAMS.pack>[0];

/** The compile-time spec of an integration kernel. */
export interface IntegrateSpec {
  readonly mlp: MlpSpec;
  readonly tableau: Tableau;
}

/** Cache key: every input of `integrateWgsl`, and the entry point. */
export function integrateKey(spec: IntegrateSpec, entry: IntegrateEntry): string {
  return `integrate|${mlpKey(spec.mlp)}|${spec.tableau.name}|wg${INTEGRATE_WORKGROUP}|cwg${CONTROL_WORKGROUP}|${entry}`;
}

function denseWgsl(tab: Tableau): string {
  const L: string[] = ['fn dense_write(th: f32, h: f32, row: u32, b: u32) {'];
  const weights: string[] = [];
  tab.dense.forEach((poly, i) => {
    if (poly.every((c) => c === 0)) return;
    // Horner: w_i(θ) = θ·(p0 + θ·(p1 + θ·(…)))
    let expr = f32Literal(poly[poly.length - 1]);
    for (let m = poly.length - 2; m >= 0; m--) expr = `${f32Literal(poly[m])} + th * (${expr})`;
    // h is folded into each weight so the sum cannot overflow (see scaledSum).
    L.push(`  let w${i} = h * th * (${expr});`);
    weights.push(`w${i} * K[${i}][d]`);
  });
  L.push('  let o = (row * P.batch + b) * D;');
  L.push(`  for (var d = 0u; d < D; d++) { out[o + d] = y[d] + (${weights.join(' + ') || '0.0'}); }`);
  L.push('}');
  return L.join('\n');
}

/** The WGSL of the integration kernel for a spec (entry point `integrate`). */
export function integrateWgsl(spec: IntegrateSpec): string {
  const tab = spec.tableau;
  const D = stateDim(spec.mlp);
  return fillTemplate(integrateSource, {
    PARAMS_STRUCT: PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    D,
    THETA_BINDING: thetaBindingWgsl(mlpOffsets(spec.mlp.layers).count),
    MLP: mlpWgsl(spec.mlp, { fn: 'rhs_eval', input: 'rhs_in', output: 'rhs_out', declare: false }),
    RK_CORE: rkCoreWgsl(tab, D),
    DENSE: denseWgsl(tab),
    WG: INTEGRATE_WORKGROUP,
    CWG: CONTROL_WORKGROUP,
  });
}

/** Workgroups needed for `batch` samples. */
export function integrateWorkgroups(batch: number): number {
  return Math.ceil(batch / INTEGRATE_WORKGROUP);
}

export { SAMPLE, STATUS, kSlots } from '../wgsl/rk';
