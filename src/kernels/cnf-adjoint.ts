/**
 * The adjoint solve of a flow's augmented system, one sample per invocation:
 * the one-sample adjoint kernel's template (adjoint.wgsl: per-sample adaptive
 * reverse steps, landing on the output times, the parameter adjoint as a
 * quadrature outside the error norm) with the state [s, a] of width 2·NA and
 * the reverse-over-forward VJP of the augmented field (src/mlp/trace.ts,
 * `cnfVjpWgsl`). Hutchinson's ε of a sample is loaded by `sample_setup`.
 */
import adjointSource from './adjoint.wgsl?raw';
import { fillTemplate } from '../wgsl/layout';
import { defineKernel, storage } from '../wgsl/kernel';
import { mlpOffsets } from '../mlp/mlp';
import { type CnfFieldSpec, cnfStateWidth, cnfVjpWgsl } from '../mlp/trace';
import type { Tableau } from '../methods/tableau';
import { outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';
import { ADJOINT_PARAMS, ADJOINT_WORKGROUP, adjointRows, rowsWgsl, thetaStageEval } from './adjoint';
import { gradientBindings } from './gradient-bindings';

/** The compile-time spec of a flow's adjoint kernel. */
export interface CnfAdjointSpec {
  readonly field: CnfFieldSpec;
  readonly tableau: Tableau;
}

export const cnfAdjointKernel = defineKernel({
  name: 'cnf-adjoint',
  bindings: (spec: CnfAdjointSpec) =>
    gradientBindings(ADJOINT_PARAMS, mlpOffsets(spec.field.mlp.layers).count, {
      state: storage('read_write'),
      /** Hutchinson's ε per sample [B][D] (unused by the exact trace). */
      noise: storage('read'),
    }),
  entryPoints: ['adjoint'],
  wgsl: (spec: CnfAdjointSpec, decls) => {
    const NA = cnfStateWidth(spec.field);
    const D = spec.field.mlp.layers[spec.field.mlp.layers.length - 1];
    const rows = adjointRows(spec.field.mlp, NA);
    const { wgsl, step } = rowsWgsl({ mlp: spec.field.mlp, tableau: spec.tableau }, rows, NA);
    const times = outputTimesWgsl(false); // a flow's times [t0, t1] are shared by the batch
    return fillTemplate(adjointSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D: NA,
      STATE_FLOATS: rows.stateFloats,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('g'),
      TOUT_BASE: times.base,
      VJP: cnfVjpWgsl(spec.field, step),
      RK_CORE: rkCoreWgsl(spec.tableau, 2 * NA, thetaStageEval('mlp_vjp')),
      ROWS: wgsl,
      SAMPLE_SETUP:
        spec.field.trace === 'hutchinson'
          ? `fn sample_setup(g: u32) { for (var k = 0u; k < ${D}u; k++) { eps[k] = noise[g * ${D}u + k]; } }`
          : 'fn sample_setup(g: u32) {}',
      WG: ADJOINT_WORKGROUP,
    });
  },
});

/** Floats per sample of the kernel's `state` buffer. */
export function cnfAdjointStateFloats(field: CnfFieldSpec): number {
  return adjointRows(field.mlp, cnfStateWidth(field)).stateFloats;
}
