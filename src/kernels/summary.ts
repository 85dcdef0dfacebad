/**
 * The summary kernel (shaders/summary.wgsl): folds the per-sample solver
 * state into the few words the host reads between chunks of dispatches.
 */
import summarySource from '../../shaders/summary.wgsl?raw';
import { StructLayout, fillTemplate } from './layout';
import { SAMPLE, statusWgsl } from './rk';

/** Invocations of the single summary workgroup. */
export const SUMMARY_WORKGROUP = 256;

export const SUMMARY_PARAMS = new StructLayout('SummaryParams', [
  ['batch', 'u32'],
  /** Workgroups of the solver's dispatches while samples are running. */
  ['workgroups', 'u32'],
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
export type SummaryField = Parameters<typeof SUMMARY.offset>[0];

export function summaryKey(): string {
  return `summary|wg${SUMMARY_WORKGROUP}`;
}

export function summaryWgsl(): string {
  return fillTemplate(summarySource, {
    SUMMARY_PARAMS_STRUCT: SUMMARY_PARAMS.wgsl(),
    SAMPLE_STRUCT: SAMPLE.wgsl(),
    STATUS_CONSTS: statusWgsl(),
    SUMMARY_STRUCT: SUMMARY.wgsl(),
    WG: SUMMARY_WORKGROUP,
  });
}
