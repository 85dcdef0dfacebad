/**
 * The per-sample Runge–Kutta integration kernel (shaders/integrate.wgsl) and
 * the summary kernel (shaders/summary.wgsl): their compile-time spec (MLP
 * shape + tableau), the WGSL generated from it, the struct layouts shared by
 * WGSL and the host, and the recording of dispatches into a compute pass.
 *
 * One generator serves every method: the stage code, the error estimate and
 * the dense output are written from the tableau's numbers.
 */
import integrateSource from '../../shaders/integrate.wgsl?raw';
import summarySource from '../../shaders/summary.wgsl?raw';
import type { Tableau } from '../host/tableau';
import { StructLayout, f32Literal, fillTemplate } from './layout';
import { type MlpSpec, mlpKey, mlpWgsl, stateDim } from './mlp';

/** Invocations per workgroup of the integration kernel (one sample each). */
export const INTEGRATE_WORKGROUP = 64;
/** Invocations of the single summary workgroup. */
export const SUMMARY_WORKGROUP = 256;
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

/** The explicit layouts of the integration module, built once per device. */
export interface IntegrateLayouts {
  readonly bindGroup: GPUBindGroupLayout;
  readonly pipeline: GPUPipelineLayout;
}

const layouts = new WeakMap<GPUDevice, IntegrateLayouts>();

/** The layouts of the integration module on `device` (cached per device). */
export function integrateLayouts(device: GPUDevice): IntegrateLayouts {
  let hit = layouts.get(device);
  if (!hit) {
    const bindGroup = device.createBindGroupLayout({
      label: 'integrate bind group layout',
      entries: INTEGRATE_BINDINGS.map((type, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type },
      })),
    });
    const pipeline = device.createPipelineLayout({ label: 'integrate layout', bindGroupLayouts: [bindGroup] });
    hit = { bindGroup, pipeline };
    layouts.set(device, hit);
  }
  return hit;
}

/** Per-solve values of the integration kernel (a uniform buffer). */
export const PARAMS = new StructLayout('Params', [
  ['batch', 'u32'],
  ['n_out', 'u32'],
  ['steps_per_dispatch', 'u32'],
  ['max_steps', 'u32'],
  ['t0', 'f32'],
  ['t_end', 'f32'],
  ['dir', 'f32'],
  ['rtol', 'f32'],
  ['atol', 'f32'],
  ['h_fixed', 'f32'],
  ['first_step', 'f32'],
] as const);
export type ParamsValues = Parameters<typeof PARAMS.pack>[0];

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
] as const);

/** What the host reads back between chunks. */
export const SUMMARY = new StructLayout('Summary', [
  ['running', 'u32'],
  ['failed', 'u32'],
  ['nfe_total', 'u32'],
  ['nfe_max', 'u32'],
  ['accepted', 'u32'],
  ['rejected', 'u32'],
] as const);

/** Status of a sample; values above DONE are failures. */
export const STATUS = {
  NEW: 0,
  RUNNING: 1,
  DONE: 2,
  NONFINITE: 3,
  UNDERFLOW: 4,
  MAXSTEPS: 5,
} as const;

function statusWgsl(): string {
  return Object.entries(STATUS)
    .map(([k, v]) => `const STATUS_${k}: u32 = ${v}u;`)
    .join('\n');
}

/**
 * Step-size controller constants. The PI gains β1 = 0.7/q, β2 = 0.4/q (q the
 * order of the error estimate plus one) are the values Hairer & Wanner and
 * diffrax recommend; the factor limits [0.2, 10] and safety 0.9 are the usual
 * ones. A non-finite error estimate shrinks the step tenfold.
 */
export const CONTROLLER = {
  safety: 0.9,
  factorMin: 0.2,
  factorMax: 10,
  nonfiniteShrink: 0.1,
  beta1: 0.7,
  beta2: 0.4,
} as const;

/** The compile-time spec of an integration kernel. */
export interface IntegrateSpec {
  readonly mlp: MlpSpec;
  readonly tableau: Tableau;
}

/** Cache key: every input of `integrateWgsl`, and the entry point. */
export function integrateKey(spec: IntegrateSpec, entry: IntegrateEntry): string {
  return `integrate|${mlpKey(spec.mlp)}|${spec.tableau.name}|wg${INTEGRATE_WORKGROUP}|cwg${CONTROL_WORKGROUP}|${entry}`;
}

/** Number of K slots: the stages, plus f(t+h, y_{n+1}) for methods that are not FSAL. */
export function kSlots(tab: Tableau): number {
  return tab.fsal ? tab.stages : tab.stages + 1;
}

/** `Σ_j coeffs[j]·K[j][d]` over the non-zero coefficients, or null when all are zero. */
function combination(coeffs: readonly number[]): string | null {
  const terms: string[] = [];
  coeffs.forEach((c, j) => {
    if (c !== 0) terms.push(`${f32Literal(c)} * K[${j}][d]`);
  });
  return terms.length ? terms.join(' + ') : null;
}

function stagesWgsl(tab: Tableau): string {
  const L: string[] = ['fn rk_stages(t: f32, h: f32) -> f32 {'];
  const solution = () => {
    const sum = combination(tab.b);
    L.push(`  for (var d = 0u; d < D; d++) { ynew[d] = y[d] + h * (${sum ?? '0.0'}); }`);
  };
  for (let i = 1; i < tab.stages; i++) {
    if (tab.fsal && i === tab.stages - 1) {
      solution();
      L.push('  mlp_in = ynew;');
      L.push('  mlp_eval(t + h);');
    } else {
      const sum = combination(tab.a[i]);
      L.push(`  for (var d = 0u; d < D; d++) { mlp_in[d] = y[d] + h * (${sum ?? '0.0'}); }`);
      const c = tab.c[i];
      L.push(c === 1 ? '  mlp_eval(t + h);' : `  mlp_eval(t + ${f32Literal(c)} * h);`);
    }
    L.push(`  K[${i}] = mlp_out;`);
  }
  if (!tab.fsal) solution();
  const err = tab.adaptive ? combination(tab.bErr) : null;
  if (err) {
    L.push('  var e2 = 0.0;');
    L.push('  for (var d = 0u; d < D; d++) {');
    L.push(`    let e = h * (${err});`);
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

function denseWgsl(tab: Tableau): string {
  const L: string[] = ['fn dense_write(th: f32, h: f32, row: u32, b: u32) {'];
  const weights: string[] = [];
  tab.dense.forEach((poly, i) => {
    if (poly.every((c) => c === 0)) return;
    // Horner: w_i(θ) = θ·(p0 + θ·(p1 + θ·(…)))
    let expr = f32Literal(poly[poly.length - 1]);
    for (let m = poly.length - 2; m >= 0; m--) expr = `${f32Literal(poly[m])} + th * (${expr})`;
    L.push(`  let w${i} = th * (${expr});`);
    weights.push(`w${i} * K[${i}][d]`);
  });
  L.push('  let o = (row * P.batch + b) * D;');
  L.push(`  for (var d = 0u; d < D; d++) { out[o + d] = y[d] + h * (${weights.join(' + ') || '0.0'}); }`);
  L.push('}');
  return L.join('\n');
}

/** The WGSL of the integration kernel for a spec (entry point `integrate`). */
export function integrateWgsl(spec: IntegrateSpec): string {
  const tab = spec.tableau;
  const q = tab.errorOrder;
  return fillTemplate(integrateSource, {
    PARAMS_STRUCT: PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    D: stateDim(spec.mlp),
    NK: kSlots(tab),
    ADAPTIVE: String(tab.adaptive),
    FSAL: String(tab.fsal),
    EVALS_PER_ATTEMPT: tab.stages - 1,
    ERROR_ORDER: f32Literal(q),
    SAFETY: f32Literal(CONTROLLER.safety),
    FACTOR_MIN: f32Literal(CONTROLLER.factorMin),
    FACTOR_MAX: f32Literal(CONTROLLER.factorMax),
    NONFINITE_SHRINK: f32Literal(CONTROLLER.nonfiniteShrink),
    BETA1: f32Literal(CONTROLLER.beta1 / q),
    BETA2: f32Literal(CONTROLLER.beta2 / q),
    MLP: mlpWgsl(spec.mlp),
    STAGES: stagesWgsl(tab),
    DENSE: denseWgsl(tab),
    WG: INTEGRATE_WORKGROUP,
    CWG: CONTROL_WORKGROUP,
  });
}

/** The WGSL of the summary kernel (entry point `summarize`). */
export function summaryWgsl(): string {
  return fillTemplate(summarySource, {
    PARAMS_STRUCT: PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    SUMMARY_STRUCT: SUMMARY.wgsl(),
    WG: SUMMARY_WORKGROUP,
  });
}

/** Workgroups needed for `batch` samples. */
export function integrateWorkgroups(batch: number): number {
  return Math.ceil(batch / INTEGRATE_WORKGROUP);
}
