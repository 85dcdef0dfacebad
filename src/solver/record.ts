/**
 * What a per-sample solve leaves besides its outputs: each sample's SAMPLE
 * record on the GPU (the controller state a reverse solve starts from, and
 * the per-sample statistics), the solve's totals, and a deferred solve's
 * report until `check` reads it. `Solution` and the flows' results
 * (src/flows/cnf.ts) each hold one.
 */
import { DestroyedError, OdeSolveError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { SAMPLE } from '../wgsl/rk';
import { readReport, reportCounts } from './driver';
import type { SolveSummary } from './solution';
import { type SolveStats, failuresOf, parseSamples } from './status';

export class SolveRecord {
  /** True for a deferred solve: its report had not been read when it returned. */
  readonly deferred: boolean;
  private totals: SolveSummary;
  private samples: GPUBuffer | null;
  /** A deferred solve's report (SUMMARY words, on the GPU) until `check()` has read it. */
  private report: GPUBuffer | null;
  private checked: Promise<SolveSummary> | null = null;

  /** `name`: what a use after `destroy` names in its `DestroyedError`. */
  constructor(
    private readonly rt: Runtime,
    readonly batch: number,
    init: { summary: SolveSummary; samples: GPUBuffer; report?: GPUBuffer | null },
    private readonly name: string,
  ) {
    this.totals = init.summary;
    this.samples = init.samples;
    this.report = init.report ?? null;
    this.deferred = this.report !== null;
  }

  /** The totals; a deferred solve's counts are NaN until `check()` has resolved. */
  get summary(): SolveSummary {
    return this.totals;
  }

  /** The report buffer of a deferred solve, for callers that gate on it on the GPU; null once checked or destroyed. */
  get reportBuffer(): GPUBuffer | null {
    return this.report;
  }

  /** The SAMPLE records [B]. */
  samplesBuffer(): GPUBuffer {
    if (!this.samples) throw new DestroyedError(this.name);
    return this.samples;
  }

  /**
   * Reads a deferred solve's outcome once (one host wait; one more, for the
   * per-sample detail, on failure), fills in the totals and rejects with
   * `OdeSolveError` about `owner` (the partial result) if a sample failed
   * or had not finished. A solve that waited resolves to its totals at once.
   */
  check(owner: object): Promise<SolveSummary> {
    if (!this.report) {
      if (!this.samples) return Promise.reject(new DestroyedError(this.name));
      return Promise.resolve(this.totals);
    }
    this.checked ??= this.readReport(this.report, owner);
    return this.checked;
  }

  private async readReport(report: GPUBuffer, owner: object): Promise<SolveSummary> {
    const values = await readReport(this.rt, report, this.name);
    this.report = null;
    this.totals = { ...this.totals, ...reportCounts(values) };
    if (values.running > 0 || values.failed > 0) {
      throw new OdeSolveError(failuresOf(await this.stats(), { unfinished: true }), owner, this.batch);
    }
    return this.totals;
  }

  /** Per-sample statistics (one host wait). */
  async stats(): Promise<SolveStats> {
    const bytes = await this.rt.readBuffer(this.samplesBuffer(), 0, this.batch * SAMPLE.stride);
    return parseSamples(bytes, this.batch);
  }

  /** Frees the records and the report. Idempotent. */
  destroy(): void {
    if (this.samples) this.rt.destroyBuffer(this.samples);
    if (this.report) this.rt.destroyBuffer(this.report);
    this.samples = null;
    this.report = null;
  }
}
