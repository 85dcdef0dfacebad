/**
 * Timing helpers of the benchmark page.
 *
 * Every figure is a median over repeated runs after a warm-up, each run timed
 * by performance.now() around GPU work that ends in exactly one host wait.
 * Short kernels are repeated inside one run (calibrated so a run lasts long
 * enough for the millisecond-resolution clock and the wait to be noise).
 */

/** Repeated measurements of one quantity (milliseconds). */
export interface Sample {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(xs: readonly number[]): Sample {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length };
}

/** How many warm-up and timed runs; long runs get fewer repeats so the whole bench fits its time budget. */
export interface RepeatPolicy {
  readonly warmup: number;
  readonly repeats: number;
  /** Stop repeating (after at least `minRepeats`) once this much time has been spent. */
  readonly budgetMs: number;
  readonly minRepeats: number;
}

export const DEFAULT_POLICY: RepeatPolicy = { warmup: 1, repeats: 7, budgetMs: 4_000, minRepeats: 3 };

/**
 * Runs `once` (which returns its own elapsed milliseconds) `warmup` times
 * untimed, then repeatedly, and returns the spread of the timed runs.
 */
export async function repeat(once: () => Promise<number>, policy: Partial<RepeatPolicy> = {}): Promise<Sample> {
  const p = { ...DEFAULT_POLICY, ...policy };
  for (let i = 0; i < p.warmup; i++) await once();
  const xs: number[] = [];
  const start = performance.now();
  while (xs.length < p.repeats) {
    xs.push(await once());
    if (xs.length >= p.minRepeats && performance.now() - start > p.budgetMs) break;
  }
  return summarize(xs);
}

/** Times `body` (which must end in one host wait) with performance.now(). */
export async function timed(body: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await body();
  return performance.now() - t0;
}

/**
 * Finds a repeat count n for `runN(n)` (n units of work ending in one wait)
 * such that one run takes about `targetMs`. The first run is untimed warm-up
 * (pipeline compilation, first-touch allocation); if one unit alone then
 * exceeds the target, n = 1; otherwise n doubles until a run exceeds a
 * quarter of the target and then scales linearly. Bounded by `maxN`.
 * Callers need no further warm-up.
 */
export async function calibrate(runN: (n: number) => Promise<number>, targetMs: number, maxN = 4096): Promise<number> {
  await runN(1);
  let n = 1;
  for (;;) {
    const ms = await runN(n);
    if (ms >= targetMs / 4 || n >= maxN) {
      return Math.max(1, Math.min(maxN, Math.round((n * targetMs) / Math.max(ms, 1e-3))));
    }
    n *= 2;
  }
}

/**
 * Runs several measurements in alternation (A, B, A, B, …) so that both sides
 * of a ratio see the same machine load, and returns each side's runs plus the
 * per-round ratios `runs[i] / runs[0]`, whose median is the robust ratio.
 */
export async function interleave(
  runs: readonly (() => Promise<number>)[],
  policy: Partial<RepeatPolicy> = {},
): Promise<{ samples: Sample[]; ratios: number[][] }> {
  const p = { ...DEFAULT_POLICY, ...policy };
  const times: number[][] = runs.map(() => []);
  const start = performance.now();
  for (let round = 0; round < p.repeats; round++) {
    for (let i = 0; i < runs.length; i++) times[i].push(await runs[i]());
    if (round + 1 >= p.minRepeats && performance.now() - start > p.budgetMs) break;
  }
  return {
    samples: times.map(summarize),
    ratios: times.map((ts) => ts.map((x, r) => x / times[0][r])),
  };
}

/**
 * Repeats adapted to a run's length, judged by a first run: long runs (over
 * `longMs`) are measured once — that run is the sample; medium ones (over
 * `mediumMs`) twice more after it; short ones by `repeat` with the first run
 * as warm-up. For work whose pipelines are already compiled, so the first
 * run is representative.
 */
export async function adaptiveRepeat(
  once: () => Promise<number>,
  { longMs = 5_000, mediumMs = 1_500 }: { longMs?: number; mediumMs?: number } = {},
): Promise<Sample> {
  const first = await once();
  if (first > longMs) return summarize([first]);
  if (first > mediumMs) return summarize([await once(), await once()]);
  return repeat(once, { warmup: 0, repeats: 7, minRepeats: 3, budgetMs: 3_000 });
}

/** Waits once for all work submitted to `device` so far. */
export function gpuIdle(device: GPUDevice): Promise<undefined> {
  return device.queue.onSubmittedWorkDone();
}

/** Prefix of page console messages the orchestrator shows as progress. */
export const PROGRESS_PREFIX = 'bench: ';

/** Reports progress to the orchestrator (stderr there), with the page's clock. */
export function progress(message: string): void {
  console.info(`${PROGRESS_PREFIX}${message}`);
}
