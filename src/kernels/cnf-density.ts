/**
 * The flow's per-sample kernels around its solve (cnf-density.wgsl):
 * `augment` builds the augmented initial states from the data points,
 * `density` turns the augmented solution into z, log p and the regularisers'
 * integrals.
 */
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { type CnfFieldSpec, cnfRegIndex, cnfStateWidth } from '../mlp/trace';
import densitySource from './cnf-density.wgsl?raw';

/** Invocations per workgroup (one sample each). */
export const DENSITY_WORKGROUP = 64;

/** Per-call values of the density kernels. */
export const DENSITY_PARAMS = new StructLayout('DensityParams', [
  ['batch', 'u32'],
  /** Output row of the base point z(t1). */
  ['base_row', 'u32'],
  /** Output row of the end point (z and l read there). */
  ['end_row', 'u32'],
  /** +1: log p = log N + l; −1: log p = log N − l. */
  ['sign', 'f32'],
] as const);

export const cnfDensityKernel = defineKernel({
  name: 'cnf-density',
  bindings: () => ({
    P: uniform(DENSITY_PARAMS),
    /** Data points [B][D]. */
    x: storage('read'),
    /** Augmented initial states [B][NA]. */
    aug0: storage('read_write'),
    /** Augmented solution rows [2][B][NA]. */
    out: storage('read'),
    /** End points [B][D]. */
    z: storage('read_write'),
    /** log p [B]. */
    logp: storage('read_write'),
    /** ∫‖f‖² dt [B] (written when the flow carries it). */
    kin: storage('read_write'),
    /** The Jacobian regulariser's integral [B] (written when the flow carries it). */
    jac: storage('read_write'),
  }),
  entryPoints: ['augment', 'density'],
  wgsl: (spec: CnfFieldSpec, decls) => {
    const reg = cnfRegIndex(spec);
    return fillTemplate(densitySource, {
      BINDINGS: decls,
      D: spec.mlp.layers[spec.mlp.layers.length - 1],
      NA: cnfStateWidth(spec),
      REG_WRITES: [
        reg.kinetic >= 0 ? `kin[b] = out[end + ${reg.kinetic}u];` : '',
        reg.jacobian >= 0 ? `jac[b] = out[end + ${reg.jacobian}u];` : '',
      ].join(' '),
      WG: DENSITY_WORKGROUP,
    });
  },
});

export function densityWorkgroups(batch: number): number {
  return Math.ceil(batch / DENSITY_WORKGROUP);
}
