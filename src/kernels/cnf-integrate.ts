/**
 * The per-sample integration of a continuous normalizing flow's augmented
 * state [z, l, (kinetic), (jacobian)]: the integration kernel's template
 * (integrate.wgsl, the shared RK core, controller and dense output) with the
 * state width D + 1 (+ regularisers) and the augmented field of
 * src/mlp/trace.ts as its right-hand side. Every component of the augmented
 * state enters the error norm, as in FFJORD / torchdiffeq. Hutchinson's ε of
 * a sample is loaded from `noise` [B][D] into private memory before the
 * sample is stepped (`sample_setup`).
 */
import integrateSource from './integrate.wgsl?raw';
import type { Tableau } from '../methods/tableau';
import { fillTemplate } from '../wgsl/layout';
import { defineKernel, storage } from '../wgsl/kernel';
import { type CnfFieldSpec, cnfFieldWgsl, cnfStateWidth } from '../mlp/trace';
import { outputTimesWgsl, rkCoreWgsl, statusWgsl } from '../wgsl/rk';
import { CONTROL_WORKGROUP, INTEGRATE_WORKGROUP, type IntegrateEntry, denseWgsl, integrateBindings } from './integrate';

/** The compile-time spec of a flow's integration kernel. */
export interface CnfIntegrateSpec {
  readonly field: CnfFieldSpec;
  readonly tableau: Tableau;
}

/** The flow's integration kernel (the entry points of integrate.wgsl; flows use `integrate`). */
export const cnfIntegrateKernel = defineKernel({
  name: 'cnf-integrate',
  bindings: (spec: CnfIntegrateSpec) => ({
    ...integrateBindings({ mlp: spec.field.mlp, tableau: spec.tableau }),
    /** Hutchinson's ε per sample [B][D] (unused by the exact trace). */
    noise: storage('read'),
  }),
  entryPoints: ['integrate', 'batch_init', 'batch_attempt', 'batch_control', 'batch_commit'] satisfies IntegrateEntry[],
  wgsl: (spec: CnfIntegrateSpec, decls) => {
    const N = cnfStateWidth(spec.field);
    const D = spec.field.mlp.layers[spec.field.mlp.layers.length - 1];
    const setup =
      spec.field.trace === 'hutchinson'
        ? `fn sample_setup(b: u32) { for (var k = 0u; k < ${D}u; k++) { eps[k] = noise[b * ${D}u + k]; } }`
        : 'fn sample_setup(b: u32) {}';
    const times = outputTimesWgsl(false); // a flow's times [t0, t1] are shared by the batch
    return fillTemplate(integrateSource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      D: N,
      TIMES_DECL: times.decl,
      TIMES_ROW: times.row('b'),
      TOUT_BASE: times.base,
      T0: times.t0,
      T_END: times.tEnd,
      MLP: cnfFieldWgsl(spec.field),
      RK_CORE: rkCoreWgsl(spec.tableau, N),
      DENSE: denseWgsl(spec.tableau),
      SAMPLE_SETUP: setup,
      WG: INTEGRATE_WORKGROUP,
      CWG: CONTROL_WORKGROUP,
    });
  },
});
