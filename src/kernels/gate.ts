/**
 * The gate of a wait-free training iteration (gate.wgsl): turns the
 * reports of a deferred forward and gradient solve into the optimizer's
 * indirect-dispatch arguments (its workgroup counts, or zero after a failure)
 * and the trainer's health words.
 */
import gateSource from './gate.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, storageStruct, uniform } from '../wgsl/kernel';
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

/** The gate: one invocation of entry point `gate`. */
export const gateKernel = defineKernel({
  name: 'gate',
  bindings: () => ({
    G: uniform(GATE_PARAMS),
    /** The reports of the deferred forward and gradient solves. */
    forward: storageStruct('read', SUMMARY),
    backward: storageStruct('read', SUMMARY),
    health: storageStruct('read_write', HEALTH),
    /** Workgroup counts of the optimizer's dispatches, one per parameter tensor. */
    counts: storage('read', 'u32'),
    /** The optimizer's indirect-dispatch arguments, three words per parameter tensor. */
    args: storage('read_write', 'u32'),
    /** Per iteration (a ring): the forward and the gradient solve's largest nfe of one sample. */
    nfe_history: storage('read_write', 'u32'),
  }),
  entryPoints: ['gate'],
  wgsl: (_spec: null, decls) => fillTemplate(gateSource, { BINDINGS: decls }),
});
