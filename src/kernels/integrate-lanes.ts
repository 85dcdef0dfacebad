/**
 * The per-sample integration kernel on four samples per invocation
 * (integrate-lanes.wgsl): the bindings and per-sample state of
 * src/kernels/integrate.ts, the MLP on vec4 lanes (src/mlp/lanes.ts), the
 * stages and first step of src/wgsl/rk.ts on vec4 lanes, and the shared
 * controller. Lane by lane it takes the one-sample kernel's steps.
 */
import integrateLanesSource from './integrate-lanes.wgsl?raw';
import { fillTemplate } from '../wgsl/layout';
import { defineKernel } from '../wgsl/kernel';
import { type MlpSpec, stateDim } from '../mlp/mlp';
import { WGSL_FUNCTION_FLOATS, forwardLaneFloats, mlpPlan } from '../mlp/plan';
import type { Tableau } from '../methods/tableau';
import { activationWgsl } from '../mlp/activations';
import { laneRhsWgsl } from '../mlp/lanes';
import { controllerWgsl, firstStepWgsl, kSlots, laneStagesWgsl, statusWgsl } from '../wgsl/rk';
import { type IntegrateSpec, denseWgsl, integrateBindings } from './integrate';
import type { AdapterKind } from '../runtime/runtime';

/** Samples per invocation of the lane integration kernel. */
export const INTEGRATE_LANES = 4;
/**
 * Invocations per workgroup of the lane kernels (the forward here and the
 * lane adjoint), by adapter and batch. On a GPU, 64. A CPU adapter
 * (SwiftShader) runs a workgroup on one of its threads, four invocations at
 * a time, so a workgroup of 64 lane invocations (256 samples) keeps one
 * core busy while the others wait: below LANE_SMALL_BATCH samples (fewer
 * than 8 such workgroups) the workgroups hold 4 invocations, so that the
 * batch shares out over the cores; from there, 64. Interleaved A/B on
 * SwiftShader, 2 cores (dopri5, rtol 1e-6, 11 outputs; 4 against 64, time
 * ratios, bench/NOTES.md): [2, 50, 2] at B = 256 forward 0.77, backward
 * 0.59; [4, 64, 64, 4] at 256 backward 0.49–0.54; at B = 1,024 0.87–1.05;
 * at 4,096 and 16,384 1.00–1.04 (so 64 there).
 */
export function laneWorkgroup(kind: AdapterKind, batch: number): number {
  return kind === 'cpu' && batch < LANE_SMALL_BATCH ? 4 : 64;
}

/** The batch from which a CPU adapter's lane kernels use workgroups of 64 invocations (`laneWorkgroup`). */
export const LANE_SMALL_BATCH = 2_048;

/** A lane integration kernel's compile-time spec: the integration kernel's, and its workgroup size (`laneWorkgroup`). */
export interface LaneIntegrateSpec extends IntegrateSpec {
  readonly workgroup: number;
}

/**
 * Batches from which the lane kernel is the default (where the MLP fits) on
 * a CPU adapter (SwiftShader).
 * Interleaved A/B on SwiftShader (dopri5, rtol 1e-6, atol 1e-7, 11 outputs on
 * [0, 1], median of 7 rounds, lanes / one sample per invocation): [2, 50, 2]
 * 0.61 at B = 1,024, 0.59 at 16,384, 0.65 at 64, 0.72 at 256, but 0.95 at
 * 16 and 1.1–1.5 at B ≤ 8 (fewer invocations than the implementation's SIMD
 * width wants); [4, 64, 64, 4] 0.86 at 8, 0.36 at 1,024, 0.28 at 16,384;
 * [2, 512, 2] 0.50 at 1,024; [4, 256, 256, 4] 0.28 at 256.
 */
export const INTEGRATE_LANES_MIN_BATCH = 64;

/**
 * The same on a GPU adapter: four samples per invocation divide the
 * invocations by four, and a discrete GPU keeps tens of thousands of them
 * in flight, so the lane kernel is the default only once B/4 invocations
 * (16,384) can still fill one; below, one sample per invocation. Chosen
 * from that count, not measured: there is no GPU on the machines the
 * benchmarks ran on (`kernel` overrides it).
 */
export const INTEGRATE_LANES_MIN_BATCH_GPU = 65_536;

/** The batch from which the lane kernel is the default on an adapter of this kind. */
export function lanesMinBatch(kind: AdapterKind): number {
  return kind === 'cpu' ? INTEGRATE_LANES_MIN_BATCH : INTEGRATE_LANES_MIN_BATCH_GPU;
}

/**
 * Whether the lane kernel applies: the four-lane MLP's function arrays
 * (`forwardLaneFloats`) and the module's private vec4 state (y, ynew, the
 * stage slots, the MLP's input and output, f0 of the initial step) each fit
 * WGSL's 8 KiB.
 */
export function integrateLanesFit(spec: MlpSpec, tableau: Tableau): boolean {
  const D = stateDim(spec);
  const privateFloats = INTEGRATE_LANES * D * (kSlots(tableau) + 5);
  return forwardLaneFloats(mlpPlan(spec), INTEGRATE_LANES) <= WGSL_FUNCTION_FLOATS && privateFloats <= WGSL_FUNCTION_FLOATS;
}

/** Every stage and the initial step evaluate the lane MLP. */
const rhs4Call = (time: string) => `rhs4(${time});`;

/** The lane integration kernel (per-sample step control). */
export const integrateLanesKernel = defineKernel({
  name: 'integrate-lanes',
  bindings: (spec: LaneIntegrateSpec) => integrateBindings(spec),
  entryPoints: ['integrate'],
  wgsl: (spec: LaneIntegrateSpec, decls) => {
    const tab = spec.tableau;
    return fillTemplate(integrateLanesSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D: stateDim(spec.mlp),
      S: tab.stages,
      NK: kSlots(tab),
      FSAL: String(tab.fsal),
      EVALS_PER_ATTEMPT: tab.stages - 1,
      CONTROLLER: controllerWgsl(tab),
      ACT: activationWgsl(spec.mlp.activation, 4),
      MLP: laneRhsWgsl(spec.mlp, 'rhs4'),
      STAGES: laneStagesWgsl(tab, rhs4Call, true),
      FIRST_STEP: firstStepWgsl(4, rhs4Call),
      DENSE: denseWgsl(tab, true),
      WG: spec.workgroup,
    });
  },
});

/** Workgroups of the lane kernel for `batch` samples, `workgroup` invocations each. */
export function integrateLanesWorkgroups(batch: number, workgroup: number): number {
  return Math.ceil(batch / (INTEGRATE_LANES * workgroup));
}
