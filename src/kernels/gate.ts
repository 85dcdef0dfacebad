/**
 * The gate of a wait-free training iteration (gate.wgsl): turns the
 * reports of a deferred forward and gradient solve into the optimizer's
 * indirect-dispatch arguments (its workgroup counts, or zero after a failure)
 * and the trainer's health words.
 */
import gateSource from './gate.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';
import { SUMMARY } from './summary';

export const GATE_PARAMS = new StructLayout('GateParams', [
  /** The iteration being gated (1-based). */
  ['iteration', 'u32'],
  /** Parameter tensors of the optimizer. */
  ['tensors', 'u32'],
  /** The iteration's entry in the nfe ring. */
  ['slot', 'u32'],
] as const);

/** What the trainer reads back with the loss. */
export const HEALTH = new StructLayout('Health', [
  /** The first iteration whose solves failed (0: none since the last read). */
  ['bad_iteration', 'u32'],
  /** 1: the forward solve, 2: the gradient solve. */
  ['bad_phase', 'u32'],
  /** Its first failing sample, that sample's status and the time it reached. */
  ['bad_sample', 'u32'],
  ['bad_status', 'u32'],
  ['bad_t', 'f32'],
  /** Samples of that solve that failed or had not finished. */
  ['bad_failing', 'u32'],
  /** Iterations whose update was skipped (the failing one included). */
  ['skipped', 'u32'],
  /** The last iteration's solves: function evaluations (total, largest per sample) and steps. */
  ['forward_nfe', 'u32'],
  ['forward_nfe_max', 'u32'],
  ['forward_accepted', 'u32'],
  ['forward_rejected', 'u32'],
  ['backward_nfe', 'u32'],
  ['backward_nfe_max', 'u32'],
  ['backward_accepted', 'u32'],
  ['backward_rejected', 'u32'],
] as const);
export type HealthValues = ReturnType<typeof HEALTH.unpack>;

export function gateKey(): string {
  return 'gate';
}

export function gateLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'gate', [
    'uniform',
    'read-only-storage',
    'read-only-storage',
    'storage',
    'read-only-storage',
    'storage',
    'storage',
  ]);
}

export function gateWgsl(): string {
  return fillTemplate(gateSource, {
    HEALTH_STRUCT: HEALTH.wgsl(),
    SUMMARY_STRUCT: SUMMARY.wgsl(),
    GATE_PARAMS_STRUCT: GATE_PARAMS.wgsl(),
  });
}
