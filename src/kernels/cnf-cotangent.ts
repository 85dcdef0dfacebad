/**
 * The flow's per-sample kernels around its adjoint solve
 * (cnf-cotangent.wgsl): the augmented cotangent at t1 from dL/dlog p and the
 * regulariser weights, and dL/dx from the augmented dL/ds(t0).
 */
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';
import { type CnfFieldSpec, cnfRegIndex, cnfStateWidth } from '../mlp/trace';
import cotangentSource from './cnf-cotangent.wgsl?raw';

export const COTANGENT_WORKGROUP = 64;

export const COTANGENT_PARAMS = new StructLayout('CotangentParams', [
  ['batch', 'u32'],
  /** Weight of the kinetic regulariser in the loss. */
  ['wk', 'f32'],
  /** Weight of the Jacobian regulariser in the loss. */
  ['wj', 'f32'],
] as const);

export const cnfCotangentKernel = defineKernel({
  name: 'cnf-cotangent',
  bindings: () => ({
    P: uniform(COTANGENT_PARAMS),
    /** The augmented forward solution [2][B][NA]. */
    out: storage('read'),
    /** dL/dlog p [B]. */
    dlogp: storage('read'),
    /** Augmented cotangents [2][B][NA]. */
    cot: storage('read_write'),
    /** The adjoint's dL/ds(t0) [B][NA]. */
    gaug: storage('read'),
    /** dL/dx [B][D]. */
    gx: storage('read_write'),
  }),
  entryPoints: ['cotangent', 'extract'],
  wgsl: (spec: CnfFieldSpec, decls) => {
    const reg = cnfRegIndex(spec);
    return fillTemplate(cotangentSource, {
      BINDINGS: decls,
      D: spec.mlp.layers[spec.mlp.layers.length - 1],
      NA: cnfStateWidth(spec),
      REG_SEEDS: [reg.kinetic >= 0 ? `cot[at1 + ${reg.kinetic}u] = P.wk;` : '', reg.jacobian >= 0 ? `cot[at1 + ${reg.jacobian}u] = P.wj;` : ''].join(' '),
      WG: COTANGENT_WORKGROUP,
    });
  },
});
