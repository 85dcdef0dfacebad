/**
 * The summary kernel (summary.wgsl): folds the per-sample solver
 * state into the few words the host reads between chunks of dispatches, and
 * folds those into the report of a deferred solve.
 */
import summarySource from './summary.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, storageStruct, uniform } from '../wgsl/kernel';
import { SAMPLE, statusWgsl } from '../wgsl/rk';

/**
 * Invocations of the single summary workgroup. 64, not 256: SwiftShader took
 * 0.9 s to compile `summarize` with 256 invocations and 0.24 s with 64
 * (once per runtime, before the first solve's result), and the summary reads
 * only the per-sample records (48 bytes each), once per round of dispatches.
 */
export const SUMMARY_WORKGROUP = 64;
/** Invocations of the single workgroup of `probe`. */
export const PROBE_WORKGROUP = 64;

export const SUMMARY_PARAMS = new StructLayout('SummaryParams', [
  ['batch', 'u32'],
  /** Workgroups of the solver's dispatches while samples are running. */
  ['workgroups', 'u32'],
  /** Global index of the first sample of the chunk (`fold`). */
  ['offset', 'u32'],
] as const);

/** What the host reads back between chunks. */
export const SUMMARY = new StructLayout('Summary', [
  ['running', 'u32'],
  ['failed', 'u32'],
  ['nfe_total', 'u32'],
  ['nfe_max', 'u32'],
  ['accepted', 'u32'],
  ['rejected', 'u32'],
  /** Index of the first sample not done (running or failed), NO_SAMPLE when every sample is done. */
  ['first_unfinished', 'u32'],
  /** Its status and the time it reached. */
  ['first_status', 'u32'],
  ['first_t', 'f32'],
  /**
   * 1 in a summary once `summarize` has run; in a report, the summaries
   * folded into it. A summary or report still at 0 means the GPU never ran
   * the work that writes it (WebGPU rejected the submit).
   */
  ['folds', 'u32'],
] as const);
export type SummaryField = Parameters<typeof SUMMARY.offset>[0];

/** `first_unfinished` when every sample is done. */
export const NO_SAMPLE = 0xffffffff;

/** The initial value of a deferred solve's report: nothing counted, no unfinished sample. */
export function emptyReport(): ArrayBuffer {
  return SUMMARY.pack({
    running: 0,
    failed: 0,
    nfe_total: 0,
    nfe_max: 0,
    accepted: 0,
    rejected: 0,
    first_unfinished: NO_SAMPLE,
    first_status: 0,
    first_t: 0,
    folds: 0,
  });
}

/**
 * `summarize`, `probe` and `fold`: one bind group serves all three (each
 * entry point reads only some of the bindings).
 */
export const summaryKernel = defineKernel({
  name: 'summary',
  bindings: () => ({
    samples: storage('read', SAMPLE),
    summary: storageStruct('read_write', SUMMARY),
    S: uniform(SUMMARY_PARAMS),
    /**
     * Workgroup counts of the next chunk's solver dispatches
     * (dispatchWorkgroupsIndirect): zero once no sample runs, so a chunk
     * already in flight costs almost nothing.
     */
    indirect: storage('read_write', 'u32', 3),
    /** The deferred solve's report (`fold` only). */
    report: storageStruct('read_write', SUMMARY),
  }),
  entryPoints: ['summarize', 'probe', 'fold'],
  wgsl: (_spec: null, decls) =>
    fillTemplate(summarySource, {
      BINDINGS: decls,
      STATUS_CONSTS: statusWgsl(),
      WG: SUMMARY_WORKGROUP,
      PROBE_WG: PROBE_WORKGROUP,
    }),
});
