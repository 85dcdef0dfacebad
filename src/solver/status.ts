/**
 * What the per-sample solver state says: each sample's status as a failure
 * kind, the per-sample statistics a host read returns, and the failures a
 * batch reports (with the sample and the time it reached).
 */
import type { FailureKind, SampleFailure } from '../errors';
import { SAMPLE, STATUS } from '../wgsl/rk';

/** Per-sample statistics (`solution.stats()`). */
export interface SolveStats {
  /** Function evaluations per sample. */
  readonly nfe: Uint32Array;
  /** Accepted steps per sample. */
  readonly accepted: Uint32Array;
  /** Rejected steps per sample. */
  readonly rejected: Uint32Array;
  /** 'done' or the failure kind, per sample. */
  readonly status: readonly ('done' | FailureKind | 'running')[];
  /** Time reached by each sample. */
  readonly tReached: Float64Array;
  /** Number of outputs written by each sample. */
  readonly outputsWritten: Uint32Array;
  /** Totals over the batch (maxNfe: the largest of one sample). */
  readonly total: {
    /** Function evaluations of all samples. */
    nfe: number;
    /** Accepted steps of all samples. */
    accepted: number;
    /** Rejected steps of all samples. */
    rejected: number;
    /** The largest function-evaluation count of one sample. */
    maxNfe: number;
  };
}

const FAILURE_OF_STATUS: Record<number, FailureKind> = {
  [STATUS.NONFINITE]: 'nonfinite',
  [STATUS.UNDERFLOW]: 'step-underflow',
  [STATUS.MAXSTEPS]: 'max-steps',
  [STATUS.TAPE]: 'tape-overflow',
};

/** The failure of a sample left with this status (not done): a still-running sample is 'unfinished'. */
export function failureOfStatus(status: number): FailureKind {
  return FAILURE_OF_STATUS[status] ?? 'unfinished';
}

/** Parses `batch` entries of a per-sample state buffer. */
export function parseSamples(bytes: ArrayBuffer, batch: number): SolveStats {
  const view = new DataView(bytes);
  const nfe = new Uint32Array(batch);
  const accepted = new Uint32Array(batch);
  const rejected = new Uint32Array(batch);
  const outputsWritten = new Uint32Array(batch);
  const tReached = new Float64Array(batch);
  const status: ('done' | FailureKind | 'running')[] = [];
  const o = (k: Parameters<typeof SAMPLE.offset>[0]) => SAMPLE.offset(k);
  let tn = 0;
  let ta = 0;
  let tr = 0;
  let mx = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * SAMPLE.stride;
    nfe[b] = view.getUint32(base + o('n_fe'), true);
    accepted[b] = view.getUint32(base + o('n_accepted'), true);
    rejected[b] = view.getUint32(base + o('n_rejected'), true);
    outputsWritten[b] = view.getUint32(base + o('out_idx'), true);
    tReached[b] = view.getFloat32(base + o('t_hi'), true) + view.getFloat32(base + o('t_lo'), true);
    const s = view.getUint32(base + o('status'), true);
    status.push(s === STATUS.DONE ? 'done' : (FAILURE_OF_STATUS[s] ?? 'running'));
    tn += nfe[b];
    ta += accepted[b];
    tr += rejected[b];
    mx = Math.max(mx, nfe[b]);
  }
  return { nfe, accepted, rejected, status, tReached, outputsWritten, total: { nfe: tn, accepted: ta, rejected: tr, maxNfe: mx } };
}

/**
 * The failures among parsed samples: every sample not done, with its kind
 * and the time it reached; a sample still running counts as 'unfinished'
 * when `unfinished` is set (a solve that stopped early) and is skipped
 * otherwise (a solve that stopped at the first failure). Sample indices are
 * shifted by `offset` (a chunk of a larger batch).
 */
export function failuresOf(stats: SolveStats, options: { unfinished: boolean; offset?: number }): SampleFailure[] {
  const failures: SampleFailure[] = [];
  stats.status.forEach((st, i) => {
    if (st === 'done' || (st === 'running' && !options.unfinished)) return;
    failures.push({ sample: (options.offset ?? 0) + i, kind: st === 'running' ? 'unfinished' : st, t: stats.tReached[i] });
  });
  return failures;
}
