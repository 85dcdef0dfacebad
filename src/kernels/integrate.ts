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
import { StructLayout, f32Literal, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { type MlpSpec, mlpOffsets, mlpWgsl, stateDim } from '../mlp/mlp';
import { CONTROLLER_FIELDS, SAMPLE, SOLVER_FIELDS, outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';

/** Invocations per workgroup of the integration kernel (one sample each). */
export const INTEGRATE_WORKGROUP = 64;
/** Invocations of the single batch-controller workgroup (batch-shared step control). */
export const CONTROL_WORKGROUP = 256;

/** Entry points of the integration module. */
export type IntegrateEntry = 'integrate' | 'batch_init' | 'batch_attempt' | 'batch_control' | 'batch_commit';

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
  /**
   * Output times per sample: `tout` is [batch][n_out] and sample b reads row
   * b (src/wgsl/rk.ts, outputTimesWgsl). Absent or false: times shared by
   * the batch, the module exactly as without this field. The one-sample
   * kernel's per-sample entry point only (not the batch-shared step control
   * nor the lane kernel).
   */
  readonly perSampleTimes?: boolean;
}

/**
 * `dense_write(th, h, row, b)`: the dense output y + h Σ w_i(θ) K_i of sample
 * b into output row `row`. `lane` (the lane kernel): `dense_write(k, …)` of
 * lane k of the vec4 state, the same arithmetic.
 */
export function denseWgsl(tab: Tableau, lane = false): string {
  const at = lane ? '[k]' : '';
  const L: string[] = [`fn dense_write(${lane ? 'k: u32, ' : ''}th: f32, h: f32, row: u32, b: u32) {`];
  const weights: string[] = [];
  tab.dense.forEach((poly, i) => {
    if (poly.every((c) => c === 0)) return;
    // Horner: w_i(θ) = θ·(p0 + θ·(p1 + θ·(…)))
    let expr = f32Literal(poly[poly.length - 1]);
    for (let m = poly.length - 2; m >= 0; m--) expr = `${f32Literal(poly[m])} + th * (${expr})`;
    // h is folded into each weight so the sum cannot overflow (see scaledSum).
    L.push(`  let w${i} = h * th * (${expr});`);
    weights.push(`w${i} * K[${i}][d]${at}`);
  });
  L.push('  let o = (row * P.batch + b) * D;');
  L.push(`  for (var d = 0u; d < D; d++) { out[o + d] = y[d]${at} + (${weights.join(' + ') || '0.0'}); }`);
  L.push('}');
  return L.join('\n');
}

/**
 * The integration kernel and the batch-shared step control: every entry point
 * shares one bind group.
 */
export const integrateKernel = defineKernel({
  name: 'integrate',
  bindings: (spec: IntegrateSpec) => integrateBindings(spec),
  entryPoints: ['integrate', 'batch_init', 'batch_attempt', 'batch_control', 'batch_commit'] satisfies IntegrateEntry[],
  wgsl: (spec: IntegrateSpec, decls) => {
    const D = stateDim(spec.mlp);
    const times = outputTimesWgsl(spec.perSampleTimes === true);
    return fillTemplate(integrateSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('b'),
      TOUT_BASE: times.base,
      T0: times.t0,
      T_END: times.tEnd,
      MLP: mlpWgsl(spec.mlp, { fn: 'rhs_eval', input: 'rhs_in', output: 'rhs_out', declare: false }),
      RK_CORE: rkCoreWgsl(spec.tableau, D, undefined, spec.perSampleTimes === true),
      DENSE: denseWgsl(spec.tableau),
      SAMPLE_SETUP: 'fn sample_setup(b: u32) {}',
      WG: INTEGRATE_WORKGROUP,
      CWG: CONTROL_WORKGROUP,
    });
  },
});

/** The bindings of the integration kernels (this one and the lane kernel, src/kernels/integrate-lanes.ts). */
export function integrateBindings(spec: IntegrateSpec) {
  return {
    P: uniform(PARAMS),
    theta: storage('read', 'f32', mlpOffsets(spec.mlp.layers).count),
    y0: storage('read'),
    /** Output times [n_out], or [batch][n_out] with perSampleTimes. */
    tout: storage('read'),
    /** Outputs [n_out][batch][D]. */
    out: storage('read_write'),
    samples: storage('read_write', SAMPLE),
    /** Each sample's current solution point [batch][D]. */
    ycur: storage('read_write'),
    /**
     * Per-sample mode: f(t, y) at the current point (B×D). Batch mode: every
     * stage of the current attempt and y_{n+1} (B×(NK+1)×D).
     */
    kbuf: storage('read_write'),
  };
}

/** Workgroups needed for `batch` samples. */
export function integrateWorkgroups(batch: number): number {
  return Math.ceil(batch / INTEGRATE_WORKGROUP);
}

export { SAMPLE, STATUS, kSlots } from '../wgsl/rk';
