/**
 * The batched MLP evaluation kernel (shaders/mlp_forward.wgsl): f(t, z) for
 * every row of z, one sample per invocation.
 */
import forwardSource from '../../shaders/mlp_forward.wgsl?raw';
import { StructLayout, fillTemplate } from './layout';
import { type MlpSpec, mlpKey, mlpWgsl, stateDim } from './mlp';

export const FORWARD_WORKGROUP = 64;

export const EVAL_PARAMS = new StructLayout('EvalParams', [
  ['batch', 'u32'],
  ['t', 'f32'],
] as const);

export function forwardKey(spec: MlpSpec): string {
  return `forward|${mlpKey(spec)}|wg${FORWARD_WORKGROUP}`;
}

export function forwardWgsl(spec: MlpSpec): string {
  return fillTemplate(forwardSource, {
    PARAMS_STRUCT: EVAL_PARAMS.wgsl(),
    D: stateDim(spec),
    MLP: mlpWgsl(spec),
    WG: FORWARD_WORKGROUP,
  });
}

export function forwardWorkgroups(batch: number): number {
  return Math.ceil(batch / FORWARD_WORKGROUP);
}
