/**
 * Irregularly sampled time series, generated on the host from a seed:
 *
 * - `periodicSeries`: the "periodic" toy of Rubanova et al. (2019), y(t) =
 *   sin(φ(t)) + c with the phase advancing at a per-series frequency
 *   f ~ U[0.4, 0.8] (φ = 2π f t), a per-series offset c = 1 + N(0, 0.1²), a
 *   shared grid of irregular times on (0, tMax] and small uniform noise; each
 *   series keeps its own random subset of the grid.
 * - `spiralSeries`: torchdiffeq's latent-ODE spirals (examples/latent_ode.py):
 *   clockwise r = a + 50b/z and counter-clockwise r = a + b z Archimedean
 *   spirals, centred at (∓5, 0), on ntotal points of θ ∈ [0, stop]; each
 *   series is a window of nsample consecutive points from a random start
 *   (away from both ends) with N(0, noiseStd²) noise, of which it keeps a
 *   random subset.
 *
 * Times are relative to each series' origin t = 0, where the latent ODE's z0
 * lives, and observations are strictly after it. Every dataset comes split
 * into an observed window (t ≤ split: what an encoder sees and a model is
 * trained to reconstruct), the held-out grid points of that window (for an
 * interpolation error) and an extrapolation window (t > split, every grid
 * point), each as a padded `SeriesBatch`.
 */
import { ArgumentError } from '../errors';
import { mulberry32 } from '../field/mlp';
import { checkInt, checkNumber } from '../train/common';

/**
 * B series of D-dimensional observations at per-series times, padded to a
 * common length T. Series b's i-th observation (i < counts[b]) is at
 * times[b][i] with values values[(i·B + b)·D + d]; slots past counts[b] have
 * mask 0, value 0 and times continuing past the last observation in steps of
 * `PAD_STEP` (times stay strictly increasing, as a solve needs them).
 */
export interface SeriesBatch {
  /** Series B. */
  readonly batch: number;
  /** Padded length T (the largest count). */
  readonly length: number;
  /** Values per observation D. */
  readonly dim: number;
  /** [B][T] increasing times per series. */
  readonly times: Float64Array[];
  /** [T][B][D] values (0 where missing). */
  readonly values: Float32Array;
  /** [T][B][D] 1 where observed, 0 where missing or padding. */
  readonly mask: Float32Array;
  /** Observations of each series. */
  readonly counts: Int32Array;
}

/** A generated dataset: its windows and the noise-free truth. */
export interface SeriesDataset {
  /** Values per observation D. */
  readonly dim: number;
  /** Observations with t ≤ split (what a model encodes and reconstructs). */
  readonly observed: SeriesBatch;
  /** The grid points with t ≤ split that the series did not keep (interpolation targets, noise-free; a series that kept every point repeats its observations here). */
  readonly heldOut: SeriesBatch;
  /** Every grid point with t > split (extrapolation targets, noise-free). */
  readonly extrapolation: SeriesBatch;
  /** The end of the observed window. */
  readonly split: number;
  /** The end of the extrapolation window. */
  readonly end: number;
  /** The noise-free value of series b at time t (D numbers). */
  truth(b: number, t: number): number[];
}

/** Spacing of the padded times after a series' last observation. */
export const PAD_STEP = 1e-3;

/** One series before padding: its times and its rows of D values. */
export interface RaggedSeries {
  /** Increasing observation times after 0. */
  readonly times: readonly number[];
  /** One row of D values per time. */
  readonly values: readonly (readonly number[])[];
}

/**
 * Pads ragged series into a `SeriesBatch` ([T][B][D] values and mask, [B][T]
 * times). Each series needs at least one observation, strictly increasing
 * times after 0, and D values per observation.
 */
export function padSeries(series: readonly RaggedSeries[], dim: number): SeriesBatch {
  const B = series.length;
  if (B < 1) throw new ArgumentError('series', series, 'at least one series');
  checkInt('dim', dim, 1);
  const counts = Int32Array.from(series, (s) => s.times.length);
  const T = Math.max(...counts);
  const times: Float64Array[] = [];
  const values = new Float32Array(T * B * dim);
  const mask = new Float32Array(T * B * dim);
  series.forEach((s, b) => {
    if (s.times.length < 1) throw new ArgumentError(`series[${b}].times`, s.times, 'at least one observation');
    if (s.values.length !== s.times.length) throw new ArgumentError(`series[${b}].values`, s.values.length, `${s.times.length} rows`);
    const t = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      if (i < s.times.length) {
        const ti = s.times[i];
        const prev = i === 0 ? 0 : t[i - 1];
        if (!Number.isFinite(ti) || !(Math.fround(ti) > Math.fround(prev))) {
          throw new ArgumentError(`series[${b}].times[${i}]`, ti, `a finite time after ${prev} (increasing, after the origin 0)`);
        }
        t[i] = ti;
        const row = s.values[i];
        if (row.length !== dim) throw new ArgumentError(`series[${b}].values[${i}]`, row, `${dim} values`);
        for (let d = 0; d < dim; d++) {
          values[(i * B + b) * dim + d] = row[d];
          mask[(i * B + b) * dim + d] = 1;
        }
      } else {
        t[i] = t[i - 1] + PAD_STEP;
      }
    }
    times.push(t);
  });
  return { batch: B, length: T, dim, times, values, mask, counts };
}

/** Normal deviates from a uniform generator (Box–Muller). */
function normal(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A series' kept grid points in three windows. */
function splitWindows(
  grid: readonly number[],
  keep: readonly boolean[],
  split: number,
  noisy: (t: number, j: number) => number[],
  clean: (t: number) => number[],
): [RaggedSeries, RaggedSeries, RaggedSeries] {
  const obs = { times: [] as number[], values: [] as number[][] };
  const held = { times: [] as number[], values: [] as number[][] };
  const extra = { times: [] as number[], values: [] as number[][] };
  grid.forEach((t, j) => {
    if (t > split) {
      extra.times.push(t);
      extra.values.push(clean(t));
    } else if (keep[j]) {
      obs.times.push(t);
      obs.values.push(noisy(t, j));
    } else {
      held.times.push(t);
      held.values.push(clean(t));
    }
  });
  return [obs, held, extra];
}

/** Options of `periodicSeries`. */
export interface PeriodicOptions {
  /** Series. */
  batch: number;
  /** Grid points on (0, tMax]. Default 100. */
  points?: number;
  /** End of the grid. Default 5. */
  tMax?: number;
  /** End of the observed window. Default tMax / 2. */
  split?: number;
  /** Fraction of the observed window's grid points each series keeps. Default 0.5. */
  keep?: number;
  /** Noise: each kept value gets noise · U[0, 1) added (Rubanova et al.'s noise_weight). Default 0.01. */
  noise?: number;
  /** Seed of the generator. Default 0. */
  seed?: number;
}

/**
 * Rubanova et al.'s periodic toy (generate_timeseries.py, Periodic_1d with
 * init_freq = final_freq sampled in [0.4, 0.8], amplitude 1, z0 = 1): series
 * b is y_b(t) = sin(2π f_b t) + c_b with f_b ~ U[0.4, 0.8], c_b = 1 +
 * N(0, 0.1²). The grid has `points` sorted uniform times on (0, tMax] shared
 * by every series; each series keeps its own random `keep` fraction of the
 * grid points in its observed window (at least two).
 */
export function periodicSeries(options: PeriodicOptions): SeriesDataset {
  const B = checkInt('batch', options.batch, 1);
  const N = checkInt('points', options.points ?? 100, 4);
  const tMax = checkNumber('tMax', options.tMax ?? 5, Number.MIN_VALUE);
  const split = checkNumber('split', options.split ?? tMax / 2, Number.MIN_VALUE, tMax, true);
  const keep = checkNumber('keep', options.keep ?? 0.5, Number.MIN_VALUE, 1);
  const noise = checkNumber('noise', options.noise ?? 0.01, 0);
  const rng = mulberry32(options.seed ?? 0);
  const grid = Array.from({ length: N }, () => tMax * (1 - rng())).sort((a, b) => a - b);
  const freq: number[] = [];
  const offset: number[] = [];
  const windows: [RaggedSeries, RaggedSeries, RaggedSeries][] = [];
  for (let b = 0; b < B; b++) {
    freq.push(0.4 + 0.4 * rng());
    offset.push(1 + 0.1 * normal(rng));
    const clean = (t: number) => [Math.sin(2 * Math.PI * freq[b] * t) + offset[b]];
    const inside = grid.map((t) => t <= split);
    let kept = grid.map((t, j) => inside[j] && rng() < keep);
    if (kept.filter(Boolean).length < 2) kept = inside.map((v, j) => v && j < 2);
    windows.push(splitWindows(grid, kept, split, (t) => [clean(t)[0] + noise * rng()], clean));
  }
  return {
    dim: 1,
    observed: padSeries(windows.map((w) => w[0]), 1),
    heldOut: padSeries(windows.map((w) => (w[1].times.length ? w[1] : w[0])), 1),
    extrapolation: padSeries(windows.map((w) => w[2]), 1),
    split,
    end: tMax,
    truth: (b, t) => [Math.sin(2 * Math.PI * freq[b] * t) + offset[b]],
  };
}

/** Options of `spiralSeries` (torchdiffeq's defaults in examples/latent_ode.py). */
export interface SpiralOptions {
  /** Series (spirals). */
  batch: number;
  /** Points of θ ∈ [0, stop]. Default 1000. */
  ntotal?: number;
  /** Points of each series' window. Default 100. */
  nsample?: number;
  /** Last θ. Default 6π. */
  stop?: number;
  /** Observation noise std. Default 0.3. */
  noiseStd?: number;
  /** Spiral parameter a of r = a + b θ. Default 0. */
  a?: number;
  /** Spiral parameter b of r = a + b θ. Default 0.3. */
  b?: number;
  /** Fraction of the observed window's points each series keeps. Default 0.5. */
  keep?: number;
  /** Fraction of the window that is observed (the rest is extrapolated). Default 0.5. */
  observedFraction?: number;
  /** Seed of the generator. Default 0. */
  seed?: number;
}

/**
 * torchdiffeq's latent-ODE spirals: θ_j = stop·j/(ntotal − 1); clockwise
 * z = stop + 1 − θ, r = a + 50b/z, (r cos z − 5, r sin z); counter-clockwise
 * z = θ, r = a + b z, (r cos z + 5, r sin z). Each series picks a direction
 * (probability ½) and a window start s uniform in [nsample, ntotal − nsample)
 * (away from both ends, as torchdiffeq does), and observes points s … s +
 * nsample − 1 at times (j + 1)·Δθ after its origin (Δθ the grid step; the
 * origin is one step before the first point), with N(0, noiseStd²) noise.
 */
export function spiralSeries(options: SpiralOptions): SeriesDataset {
  const B = checkInt('batch', options.batch, 1);
  const ntotal = checkInt('ntotal', options.ntotal ?? 1000, 8);
  const nsample = checkInt('nsample', options.nsample ?? 100, 4);
  if (2 * nsample >= ntotal) throw new ArgumentError('nsample', nsample, `fewer than ntotal / 2 = ${ntotal / 2} points`);
  const stop = checkNumber('stop', options.stop ?? 6 * Math.PI, Number.MIN_VALUE);
  const noiseStd = checkNumber('noiseStd', options.noiseStd ?? 0.3, 0);
  const a = checkNumber('a', options.a ?? 0, -Infinity);
  const bb = checkNumber('b', options.b ?? 0.3, -Infinity);
  const keep = checkNumber('keep', options.keep ?? 0.5, Number.MIN_VALUE, 1);
  const frac = checkNumber('observedFraction', options.observedFraction ?? 0.5, Number.MIN_VALUE, 1, true);
  const rng = mulberry32(options.seed ?? 0);
  const dt = stop / (ntotal - 1);
  const spiral = (cc: boolean, theta: number): number[] => {
    if (cc) {
      const r = a + bb * theta;
      return [r * Math.cos(theta) + 5, r * Math.sin(theta)];
    }
    const z = stop + 1 - theta;
    const r = a + (bb * 50) / z;
    return [r * Math.cos(z) - 5, r * Math.sin(z)];
  };
  const grid = Array.from({ length: nsample }, (_, j) => (j + 1) * dt);
  const split = grid[Math.max(1, Math.floor(frac * nsample)) - 1];
  const starts: number[] = [];
  const dirs: boolean[] = [];
  const windows: [RaggedSeries, RaggedSeries, RaggedSeries][] = [];
  for (let b = 0; b < B; b++) {
    const s = nsample + Math.floor(rng() * (ntotal - 2 * nsample));
    const cc = rng() > 0.5;
    starts.push(s);
    dirs.push(cc);
    const clean = (t: number) => spiral(cc, s * dt + t - dt);
    const inside = grid.map((t) => t <= split);
    let kept = grid.map((_, j) => inside[j] && rng() < keep);
    if (kept.filter(Boolean).length < 2) kept = inside.map((v, j) => v && j < 2);
    windows.push(
      splitWindows(grid, kept, split, (t) => clean(t).map((v) => v + noiseStd * normal(rng)), clean),
    );
  }
  return {
    dim: 2,
    observed: padSeries(windows.map((w) => w[0]), 2),
    heldOut: padSeries(windows.map((w) => (w[1].times.length ? w[1] : w[0])), 2),
    extrapolation: padSeries(windows.map((w) => w[2]), 2),
    split,
    end: grid[nsample - 1],
    truth: (b, t) => spiral(dirs[b], starts[b] * dt + t - dt),
  };
}
