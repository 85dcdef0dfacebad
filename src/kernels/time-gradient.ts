/**
 * dL/dt at every output time (time-gradient.wgsl): per-sample terms
 * f(t_i, y_i) · (cotangent), summed over the batch by the reduction kernel.
 */
import timeGradientSource from './time-gradient.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';
import { type MlpSpec, mlpKey, mlpOffsets, mlpWgsl, stateDim, thetaBindingWgsl } from '../mlp/mlp';

export const TIME_GRADIENT_WORKGROUP = 64;

export const TIME_GRADIENT_PARAMS = new StructLayout('TimeGradientParams', [
  ['batch', 'u32'],
  ['n_out', 'u32'],
] as const);

export function timeGradientKey(spec: MlpSpec): string {
  return `time-gradient|${mlpKey(spec)}|wg${TIME_GRADIENT_WORKGROUP}`;
}

export function timeGradientLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'time gradient', [
    'uniform',
    'read-only-storage',
    'read-only-storage',
    'read-only-storage',
    'read-only-storage',
    'read-only-storage',
    'storage',
  ]);
}

export function timeGradientWgsl(spec: MlpSpec): string {
  return fillTemplate(timeGradientSource, {
    PARAMS_STRUCT: TIME_GRADIENT_PARAMS.wgsl(),
    D: stateDim(spec),
    THETA_BINDING: thetaBindingWgsl(mlpOffsets(spec.layers).count),
    MLP: mlpWgsl(spec),
    WG: TIME_GRADIENT_WORKGROUP,
  });
}
