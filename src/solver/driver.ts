/**
 * Runs a solve to completion without a host wait per step.
 *
 * The caller records "units" of work into a compute pass (the forward kernel:
 * dispatches that each advance every running sample by up to
 * stepsPerDispatch attempts, or a multiple of it; batch mode: one shared
 * attempt; the gradient kernels: like the forward kernel).
 *
 * A deferred solve (`driveDeferred`) records a fixed budget of units in one
 * submit and reads nothing: every unit allows maxScale times the usual
 * attempts (`dispatchGrowth` when stepsPerDispatch was chosen
 * automatically: 16 on a GPU, 256 on a CPU adapter; 1 when the caller set
 * it), a cheap probe after each zeroes the next dispatches once no sample
 * runs, and the final summary is folded into a
 * report buffer on the GPU, which the caller reads later together with
 * whatever else it reads (or gates later GPU work on): the solve costs no
 * host wait at all. A dispatch whose samples all finish early ends early
 * whatever its bound, so nothing is gained by starting with short ones,
 * and every unit recorded costs a dispatch and a probe even when empty.
 *
 * A per-sample solve that waits (`driveInRounds`) is rounds of the same, each
 * followed by one read of the report: first as few units as allow the
 * default step limit (at most 8; for a small problem three on a GPU, one on
 * a CPU adapter; one for a reverse solve sized from its forward solve),
 * then 16, 32, … up to 512, so
 * almost every solve costs one host wait and a long one O(log steps).
 *
 * Batch-shared step control (`driveToCompletion`), where a unit is one
 * attempt of the whole batch, submits chunks of units, each followed by the
 * summary kernel and a copy of its few words to a mappable buffer. Two chunks
 * are in flight at a time, so the GPU never idles while the host reads a
 * summary; chunk lengths double up to a cap, so a solve of N steps costs
 * O(log N) host waits.
 */
import { SUMMARY, SUMMARY_PARAMS, type SummaryField, emptyReport, summaryKernel } from '../kernels/summary';
import type { BoundKernel } from '../runtime/kernel';
import { SAMPLE } from '../wgsl/rk';
import { GPUWorkError, type SampleFailure } from '../errors';
import type { AdapterKind, Runtime } from '../runtime/runtime';
import { failuresOf, parseSamples } from './status';

export interface DriveSpec {
  readonly label: string;
  /** Samples the summary folds (the first `batch` entries of `samples`). */
  readonly batch: number;
  readonly samples: GPUBuffer;
  /** Workgroups of a per-sample dispatch. */
  readonly workgroups: number;
  /**
   * Records `units` units of work into `pass` (pipelines and bind groups
   * included); per-sample dispatches use `dispatchWorkgroupsIndirect(indirect, 0)`,
   * which the summary zeroes once no sample runs. With `scale` (every
   * per-sample solve, deferred or waiting, passes `maxScale`; batch-shared
   * control passes none), each per-sample dispatch allows `scale` times its
   * usual step attempts.
   */
  record(pass: GPUComputePassEncoder, units: number, indirect: GPUBuffer, scale?: number): void;
  /** The largest step-attempt scale of a unit (1: every unit is one ordinary dispatch). */
  readonly maxScale: number;
  /** Step attempts per sample an ordinary dispatch allows, when known (sizes a waiting solve's first round: `firstRoundUnits`). */
  readonly attemptsPerUnit?: number;
  /**
   * Step attempts per sample the solve is expected to need at most, when
   * known (a reverse solve: from its forward solve's): a waiting solve's
   * first round then covers these instead of the default step limit.
   */
  readonly expectedAttempts?: number;
}

/** The summary words after the run, by field. */
export type SummaryValues = Readonly<Record<SummaryField, number>>;

/** The summary kernel's buffers and bind group (summarize, probe and fold) for one solve (or chunk of samples). */
interface SummaryRig {
  readonly summarizer: BoundKernel<'summarize' | 'probe' | 'fold'>;
  readonly indirect: GPUBuffer;
  readonly summary: GPUBuffer;
  readonly owned: GPUBuffer[];
}

/** The rig of a solve; `report` is the deferred solve's report (`fold`), else a stand-in no entry point writes. */
function summaryRig(rt: Runtime, spec: DriveSpec, offset: number, report?: GPUBuffer): SummaryRig {
  const owned: GPUBuffer[] = [];
  const make = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
    const b = rt.createBuffer(`${spec.label} ${label}`, bytes, usage);
    owned.push(b);
    return b;
  };
  const uniform = make('summary params', SUMMARY_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  rt.device.queue.writeBuffer(uniform, 0, SUMMARY_PARAMS.pack({ batch: spec.batch, workgroups: spec.workgroups, offset }));
  const indirect = make('indirect dispatch', 12, GPUBufferUsage.INDIRECT | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  rt.device.queue.writeBuffer(indirect, 0, new Uint32Array([spec.workgroups, 1, 1]));
  const summary = make('summary', SUMMARY.byteSize, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const summarizer = rt.kernel(summaryKernel, null).bind(
    {
      samples: spec.samples,
      summary,
      S: uniform,
      indirect,
      report: report ?? make('report stand-in', SUMMARY.byteSize, GPUBufferUsage.STORAGE),
    },
    `${spec.label} summary bind group`,
  );
  return { summarizer, indirect, summary, owned };
}

/** Chunks of a batch-shared solve: the first has this many units, each next one twice as many, up to the cap. */
const FIRST_CHUNK = 8;
const MAX_CHUNK = 64;

export async function driveToCompletion(rt: Runtime, spec: DriveSpec): Promise<SummaryValues> {
  const device = rt.device;
  const rig = summaryRig(rt, spec, 0);
  const inflight: GPUBuffer[] = [];
  try {
    const submitChunk = (units: number) => {
      const readback = summaryReadback(rt, spec.label);
      inflight.push(readback);
      const encoder = device.createCommandEncoder({ label: `${spec.label} chunk of ${units}` });
      const pass = encoder.beginComputePass({ label: spec.label });
      spec.record(pass, units, rig.indirect);
      rig.summarizer.dispatch(pass, 'summarize', 1);
      pass.end();
      encoder.copyBufferToBuffer(rig.summary, 0, readback, 0, SUMMARY.byteSize);
      rt.submit([encoder.finish()]);
    };

    let chunk = FIRST_CHUNK;
    submitChunk(chunk);
    chunk = Math.min(chunk * 2, MAX_CHUNK);
    submitChunk(chunk);
    for (;;) {
      const rb = inflight.shift();
      if (!rb) throw new Error('webode: internal error: no chunk in flight');
      const values = await takeSummary(rt, rb, spec.label);
      if (values.running === 0) return values;
      chunk = Math.min(chunk * 2, MAX_CHUNK);
      submitChunk(chunk);
    }
  } finally {
    for (const b of [...rig.owned, ...inflight]) rt.destroyBuffer(b);
  }
}

/**
 * A mappable buffer for one copy of a summary. Made anew for every copy, so
 * it reads as zero (no fold) unless the submit holding that copy ran: a
 * reused one would still hold an earlier summary after a rejected submit.
 */
function summaryReadback(rt: Runtime, label: string): GPUBuffer {
  return rt.createBuffer(`${label} summary readback`, SUMMARY.byteSize, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
}

/**
 * Waits for the summary copied into `readback` (one host wait) and frees the
 * buffer; `GPUWorkError` about `what` if the submit holding the copy did not
 * run (`ranOrThrow`).
 */
async function takeSummary(rt: Runtime, readback: GPUBuffer, what: string): Promise<SummaryValues> {
  let values: SummaryValues;
  try {
    await rt.wait(readback.mapAsync(GPUMapMode.READ));
    values = SUMMARY.unpack(new DataView(readback.getMappedRange().slice(0)));
    readback.unmap();
  } finally {
    rt.destroyBuffer(readback);
  }
  ranOrThrow(rt, what, values, 1);
  return values;
}

/** A deferred solve's report buffer (SUMMARY words), initialised empty; the caller owns it. */
export function createReport(rt: Runtime, label: string): GPUBuffer {
  const report = rt.createBuffer(label, SUMMARY.byteSize, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
  rt.device.queue.writeBuffer(report, 0, emptyReport());
  return report;
}

/**
 * Throws `GPUWorkError` about `what` when fewer than `folds` summaries reached
 * `values` (a summary: 1 once written; a report: one per fold): WebGPU
 * rejected a submit holding them, so the work before them did not run either.
 */
export function ranOrThrow(rt: Runtime, what: string, values: SummaryValues, folds: number): void {
  if (values.folds >= folds) return;
  throw new GPUWorkError(what, rt.errors.slice(-3).map((e) => e.message));
}

/**
 * Reads a deferred solve's report (one host wait) and frees its buffer;
 * `GPUWorkError` about `what` if fewer than `folds` summaries were folded
 * into it (`ranOrThrow`).
 */
export async function readReport(rt: Runtime, report: GPUBuffer, what: string, folds = 1): Promise<SummaryValues> {
  let values: SummaryValues;
  try {
    values = SUMMARY.unpack(new DataView(await rt.readBuffer(report, 0, SUMMARY.byteSize)));
  } finally {
    rt.destroyBuffer(report);
  }
  ranOrThrow(rt, what, values, folds);
  return values;
}

/** The evaluation and step counts of a report, as a summary names them. */
export function reportCounts(v: SummaryValues): { nfe: number; maxNfe: number; accepted: number; rejected: number } {
  return { nfe: v.nfe_total, maxNfe: v.nfe_max, accepted: v.accepted, rejected: v.rejected };
}

/**
 * The largest step-attempt multiple of a dispatch when stepsPerDispatch was
 * chosen automatically, on a GPU. Each dispatch of a solver kernel has a
 * fixed cost even when every sample has finished (on SwiftShader, ~0.13 ms
 * with its probe when its indirect arguments are zero, ~1 ms when its
 * invocations all exit at once), so solves record few long dispatches
 * instead of many short ones; 16 bounds the longest at 16 times the work
 * the automatic stepsPerDispatch aims at (6.4e8 flops), short enough to
 * keep a page responsive on a modest GPU.
 */
export const DISPATCH_GROWTH = 16;

/**
 * The same on a CPU adapter (SwiftShader). Its kernels run on the CPU's
 * worker threads, not on a device that also draws the page, so a long
 * dispatch holds up nothing else; what costs is the dispatches recorded
 * but not needed, which a deferred solve records by the budget covering
 * `maxSteps`. 256 makes that budget 16 times shorter (the spiral's reverse
 * solve at B = 1,024: 8 units instead of 125). Interleaved A/B on
 * SwiftShader, 2 cores (deferred forward + deferred backward + one wait,
 * dopri5, rtol 1e-6, 11 outputs, 11 rounds; time against 16): [2, 50, 2]
 * 0.80 at B = 1,024, 0.76 at 4,096, 0.94 at 20; [4, 64, 64, 4] 0.90 at
 * 1,024; waiting solves unchanged (0.98–1.04).
 */
export const DISPATCH_GROWTH_CPU = 256;

/** The largest step-attempt multiple of a dispatch with the automatic stepsPerDispatch, by adapter kind. */
export function dispatchGrowth(kind: AdapterKind): number {
  return kind === 'cpu' ? DISPATCH_GROWTH_CPU : DISPATCH_GROWTH;
}

/**
 * A solver kernel's binds by step-attempt scale, each made on first use: at
 * scale 1 `base()`; at another scale, `rebind` of a uniform of its own (the
 * same buffers otherwise), made by `make` (the caller owns and frees it) and
 * written from `params(scale)`. A per-sample solve runs every dispatch at
 * its largest scale, so with the automatic stepsPerDispatch it never makes
 * the scale-1 bind group (batch step control and a given stepsPerDispatch
 * use it).
 */
export function scaledBinds<E extends string>(
  rt: Runtime,
  label: string,
  base: () => BoundKernel<E>,
  rebind: (uniform: GPUBuffer, label: string) => BoundKernel<E>,
  params: (scale: number) => ArrayBuffer,
  make: (label: string, bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer,
): (scale: number) => BoundKernel<E> {
  const binds = new Map<number, BoundKernel<E>>();
  return (scale) => {
    let bound = binds.get(scale);
    if (!bound && scale === 1) {
      bound = base();
      binds.set(1, bound);
    } else if (!bound) {
      const bytes = params(scale);
      const uniform = make(`${label} params ×${scale}`, bytes.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      rt.device.queue.writeBuffer(uniform, 0, bytes);
      bound = rebind(uniform, `${label} bind group ×${scale}`);
      binds.set(scale, bound);
    }
    return bound;
  };
}

/** Units (each maxScale ordinary dispatches' worth of attempts) that cover `dispatches` ordinary dispatches: at least one. */
export function deferredUnitsCovering(dispatches: number, maxScale: number): number {
  return Math.max(1, Math.ceil(dispatches / maxScale));
}

/**
 * A deferred solve: records and submits exactly `units` units of work,
 * without reading anything back. Every unit allows `spec.maxScale` times
 * the usual step attempts, and a probe follows every unit (does any sample
 * still run?), so once every sample has finished the remaining dispatches
 * are empty; the summary after
 * the last unit is folded into `report` (a SUMMARY the caller initialised
 * with `emptyReport()`), sample indices shifted by `offset`. The caller reads
 * the report later (or never). `prologue` is recorded first, in the same
 * submit.
 */
export function driveDeferred(
  rt: Runtime,
  spec: DriveSpec,
  units: number,
  report: GPUBuffer,
  offset = 0,
  prologue?: (encoder: GPUCommandEncoder) => void,
): void {
  submitUnits(rt, spec, units, report, offset, prologue);
}

/**
 * One submit: `prologue`, then `units` units of `spec` (a probe after each
 * but the last; the last summary folded into `report`), then `epilogue`.
 */
function submitUnits(
  rt: Runtime,
  spec: DriveSpec,
  units: number,
  report: GPUBuffer,
  offset: number,
  prologue?: (encoder: GPUCommandEncoder) => void,
  epilogue?: (encoder: GPUCommandEncoder) => void,
): void {
  const rig = summaryRig(rt, spec, offset, report);
  try {
    const encoder = rt.device.createCommandEncoder({ label: `${spec.label}, ${units} units` });
    prologue?.(encoder);
    const pass = encoder.beginComputePass({ label: spec.label });
    for (let k = 0; k < units; k++) {
      spec.record(pass, 1, rig.indirect, spec.maxScale);
      if (k < units - 1) rig.summarizer.dispatch(pass, 'probe', 1);
    }
    rig.summarizer.dispatch(pass, 'summarize', 1);
    rig.summarizer.dispatch(pass, 'fold', 1);
    pass.end();
    epilogue?.(encoder);
    rt.submit([encoder.finish()]);
  } finally {
    // Destroying a buffer that submitted work still uses is valid: it is freed once that work is done.
    for (const b of rig.owned) rt.destroyBuffer(b);
  }
}

/** One chunk of samples of a gradient solve (adjoint or backprop), run to completion. */
export interface SampleChunk {
  readonly label: string;
  /** The kernel's entry point. */
  readonly entry: string;
  /** The per-sample state of the chunk (zeroed here first). */
  readonly samples: GPUBuffer;
  /** Other buffers zeroed before the chunk starts. */
  readonly clear: readonly GPUBuffer[];
  /** Recorded after the zeroing, before the chunk's first dispatch (e.g. seeding `samples`). */
  readonly prepare?: (encoder: GPUCommandEncoder) => void;
  /** The kernel bound so that its dispatches allow `scale` times the usual step attempts (1 up to maxScale). */
  readonly scaled: (scale: number) => BoundKernel<string>;
  readonly maxScale: number;
  /** Samples in the chunk and the global index of its first one. */
  readonly count: number;
  readonly offset: number;
  readonly workgroupSize: number;
  /** Step attempts per sample an ordinary dispatch allows, when known (`DriveSpec.attemptsPerUnit`). */
  readonly attemptsPerUnit?: number;
  /** Step attempts per sample the chunk is expected to need at most, when known (`DriveSpec.expectedAttempts`). */
  readonly expectedAttempts?: number;
}

/** Units in the first round of a waiting per-sample solve, at most; each next round doubles, up to MAX_ROUND_UNITS. */
const FIRST_ROUND_UNITS = 8;
const MAX_ROUND_UNITS = 512;
/**
 * Step attempts per sample a first round of fewer than FIRST_ROUND_UNITS
 * units still covers: the default step limit (`OdeintOptions.maxSteps`), so
 * a solve within it takes one round.
 */
export const FIRST_ROUND_ATTEMPTS = 10_000;

/**
 * Units of a waiting solve's first round (`driveInRounds`): the fewest (up
 * to FIRST_ROUND_UNITS) allowing FIRST_ROUND_ATTEMPTS step attempts per sample — or `expected` attempts
 * when given (a reverse solve's, from its forward solve), if fewer — or
 * FIRST_ROUND_UNITS when the attempts per dispatch are unknown. Every unit
 * costs a dispatch and a probe (~0.1–0.2 ms each on SwiftShader) even once
 * every sample has finished, so on a GPU a small problem's forward solve
 * records three units (256 × 16 attempts each; on a CPU adapter one of
 * 256 × 256), and the spiral's reverse solve at B = 20 one.
 */
export function firstRoundUnits(attemptsPerUnit: number | undefined, maxScale: number, expected?: number): number {
  if (!attemptsPerUnit) return FIRST_ROUND_UNITS;
  const target = Math.min(FIRST_ROUND_ATTEMPTS, expected ?? FIRST_ROUND_ATTEMPTS);
  return Math.min(FIRST_ROUND_UNITS, Math.max(1, Math.ceil(target / (maxScale * attemptsPerUnit))));
}

/**
 * Units of the round after one of `units`: twice as many, and at least
 * twice FIRST_ROUND_UNITS (a solve that outgrew a short first round is a
 * long one), up to MAX_ROUND_UNITS.
 */
export function nextRoundUnits(units: number): number {
  return Math.min(Math.max(2 * units, 2 * FIRST_ROUND_UNITS), MAX_ROUND_UNITS);
}

/**
 * Runs a per-sample solve to completion in rounds of units (the first
 * `firstRoundUnits`, then `nextRoundUnits`), reading the report
 * after each: one submit and one host wait a round (the report's copy to a
 * mappable buffer in the round's own submit, `prologue` at the head of the
 * first), and no more units once it reads that every sample has finished.
 * Every unit runs at the largest scale, as in a
 * deferred solve, so one uniform serves every solve, whatever its length.
 * Returns the last report: the totals of the whole solve, since the
 * per-sample counters it folds are cumulative.
 */
export async function driveInRounds(
  rt: Runtime,
  spec: DriveSpec,
  prologue?: (encoder: GPUCommandEncoder) => void,
): Promise<SummaryValues> {
  for (let units = firstRoundUnits(spec.attemptsPerUnit, spec.maxScale, spec.expectedAttempts); ; units = nextRoundUnits(units)) {
    const readback = summaryReadback(rt, spec.label);
    const report = createReport(rt, `${spec.label} report`);
    try {
      submitUnits(rt, spec, units, report, 0, prologue, (encoder) => encoder.copyBufferToBuffer(report, 0, readback, 0, SUMMARY.byteSize));
    } catch (e) {
      rt.destroyBuffer(readback);
      throw e;
    } finally {
      // Freed once the round's work is done.
      rt.destroyBuffer(report);
    }
    prologue = undefined;
    const values = await takeSummary(rt, readback, spec.label);
    if (values.running === 0) return values;
  }
}

/** How to drive the chunk's single-entry-point kernel (one indirect dispatch per unit), and the zeroing of its state to record first. */
function startSampleChunk(chunk: SampleChunk): { spec: DriveSpec; prologue: (encoder: GPUCommandEncoder) => void } {
  const prologue = (encoder: GPUCommandEncoder) => {
    for (const b of [chunk.samples, ...chunk.clear]) encoder.clearBuffer(b);
    chunk.prepare?.(encoder);
  };
  const spec: DriveSpec = {
    label: chunk.label,
    batch: chunk.count,
    samples: chunk.samples,
    maxScale: chunk.maxScale,
    attemptsPerUnit: chunk.attemptsPerUnit,
    expectedAttempts: chunk.expectedAttempts,
    workgroups: Math.ceil(chunk.count / chunk.workgroupSize),
    record: (pass, units, indirect, scale = 1) => {
      const kernel = chunk.scaled(scale);
      for (let i = 0; i < units; i++) kernel.dispatchIndirect(pass, chunk.entry, indirect, 0);
    },
  };
  return { spec, prologue };
}

/**
 * Zeroes the chunk's state, runs its kernel to completion and returns the
 * totals and the failing samples (global indices; reading them costs one
 * more host wait, only on failure).
 */
export async function runSampleChunk(
  rt: Runtime,
  chunk: SampleChunk,
): Promise<{ totals: SummaryValues; failures: SampleFailure[] }> {
  const { spec, prologue } = startSampleChunk(chunk);
  const totals = await driveInRounds(rt, spec, prologue);
  if (totals.failed === 0) return { totals, failures: [] };
  const stats = parseSamples(await rt.readBuffer(chunk.samples, 0, chunk.count * SAMPLE.stride), chunk.count);
  return { totals, failures: failuresOf(stats, { unfinished: false, offset: chunk.offset }) };
}

/** Zeroes the chunk's state and records `units` units of its kernel without a host wait (one submit); the outcome goes into `report`. */
export function recordSampleChunk(rt: Runtime, chunk: SampleChunk, units: number, report: GPUBuffer): void {
  const { spec, prologue } = startSampleChunk(chunk);
  driveDeferred(rt, spec, units, report, chunk.offset, prologue);
}
