/**
 * Table 7: work-precision of the step-size controllers. For three MLP vector
 * fields, every tolerance rtol ∈ {1e-3 … 1e-7} (atol = rtol/10), dopri5 and
 * tsit5, per-sample step control, and two controllers — the default PI
 * (pcoeff 0.4, icoeff 0.3) and the classic I controller (pcoeff 0,
 * icoeff 1) — it measures the error reached against a float64 reference,
 * the function evaluations per sample (mean and max) and the wall time.
 * Table 7b compares the two controllers at equal error. Tables 7c and 7d put
 * torchdiffeq's `odeint` (bench/precision_peer.py, run by bench/run.mjs
 * while the page is idle) on the same problems, measured against the same
 * reference, next to the default controller. bench/run.mjs draws the curves
 * as bench/work-precision.svg from the data returned here.
 *
 * The reference is computed on the host in float64, independently of the
 * kernels: test/reference/mlp.ts evaluates the MLP (from the same float32
 * parameters and float32 initial states the GPU sees), and
 * test/reference/solve.ts's dopri5 integrates it at rtol = atol = 1e-11.
 * For the linear oscillator that reference is itself checked against the
 * exact solution e^{WT} y0 (test/reference/solve.ts's `expm`).
 */
import { type ControllerOptions, MLP, type MethodName, type Runtime, defaultParameters, odeint } from '../src/index';
import { mlpForward } from '../test/reference/mlp';
import { expm, solveAccurate } from '../test/reference/solve';
import { randomStates } from './kernels';
import { type SectionResult, type Table, int, ms, sig } from './table';
import { type Sample, interleave, progress } from './timing';

/** A problem: an MLP with fixed parameters, a time span [0, T] and a box of initial states. */
interface Problem {
  readonly name: string;
  /** Linear widths (no time input: layers[0] is the state dimension). */
  readonly layers: readonly number[];
  readonly activation: 'tanh' | 'identity';
  readonly params: Float32Array;
  readonly T: number;
  /** Initial states uniform in ±y0Scale. */
  readonly y0Scale: number;
  /** The exact flow e^{WT} of a linear field, to check the float64 reference against. */
  readonly linear?: readonly (readonly number[])[];
}

export const TOLERANCES = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7];
const METHODS: readonly MethodName[] = ['dopri5', 'tsit5'];
const CONTROLLERS: readonly { readonly name: 'PI' | 'I'; readonly options: ControllerOptions }[] = [
  { name: 'PI', options: { pcoeff: 0.4, icoeff: 0.3 } },
  { name: 'I', options: { pcoeff: 0, icoeff: 1 } },
];
/** Samples per solve: the error is an average over them. */
const BATCH = 256;
/** Timed rounds per (problem, method, tolerance); each round runs PI then I, after an untimed run of each. */
const ROUNDS = 3;
const REFERENCE_TOL = 1e-11;
/** atol = rtol × this, on both sides. */
const ATOL_FACTOR = 0.1;
/**
 * Table 7b also compares the controllers only at errors at least this large:
 * near float32 round-off (errors of 3e-7–1e-6 here) the error no longer
 * follows the tolerance, and the cost there says little about the controller.
 */
const ABOVE_ROUNDOFF = 1e-5;

/** The linearisation at 0 of the spiral field: torchdiffeq's ode_demo matrix. */
const SPIRAL_A = [
  [-0.1, 2],
  [-2, -0.1],
];

/**
 * A 2→50→2 tanh MLP f(z) = W2 tanh(W1 z) whose linearisation at the origin
 * is SPIRAL_A: W1 from PyTorch's default initialisation (seed 0), biases
 * zero, W2 = A (W1ᵀW1)⁻¹ W1ᵀ, the least-norm solution of W2 W1 = A. Near 0
 * it spirals inwards like torchdiffeq's ode_demo; further out tanh saturates
 * and the rotation slows with the radius.
 */
function spiralParams(): Float32Array {
  const H = 50;
  const p = defaultParameters([2, H, 2], 0);
  const W1 = Array.from({ length: H }, (_, h) => [p[2 * h], p[2 * h + 1]]);
  // G = W1ᵀW1 (2×2) and its inverse.
  let g00 = 0;
  let g01 = 0;
  let g11 = 0;
  for (const [a, b] of W1) {
    g00 += a * a;
    g01 += a * b;
    g11 += b * b;
  }
  const det = g00 * g11 - g01 * g01;
  const Gi = [
    [g11 / det, -g01 / det],
    [-g01 / det, g00 / det],
  ];
  const AGi = SPIRAL_A.map((row) => [0, 1].map((j) => row[0] * Gi[0][j] + row[1] * Gi[1][j]));
  const out = new Float32Array(p.length);
  out.set(p.subarray(0, 2 * H)); // W1
  // b1 = 0; W2[o][h] = Σ_j (A G⁻¹)[o][j] W1[h][j]; b2 = 0.
  const w2 = 2 * H + H;
  for (let o = 0; o < 2; o++) for (let h = 0; h < H; h++) out[w2 + o * H + h] = AGi[o][0] * W1[h][0] + AGi[o][1] * W1[h][1];
  return out;
}

/** Weight gain of the wide MLP: PyTorch's initialisation at gain 1 gives a field so smooth that rtol 1e-3 already meets float32 round-off. */
const WIDE_GAIN = 3;

/** PyTorch's default initialisation (seed 0) with every weight (not bias) multiplied by `gain`. */
function scaledParams(layers: readonly number[], gain: number): Float32Array {
  const p = defaultParameters(layers, 0);
  let off = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const weights = layers[l] * layers[l + 1];
    for (let k = off; k < off + weights; k++) p[k] *= gain;
    off += weights + layers[l + 1];
  }
  return p;
}

const OMEGA = 50;
const DAMPING = 0.5;
/** The oscillator's weight: a rotation generator with small damping. */
const OSCILLATOR_W = [
  [-DAMPING, OMEGA],
  [-OMEGA, -DAMPING],
];

function problems(): Problem[] {
  return [
    { name: 'spiral 2→50→2 tanh', layers: [2, 50, 2], activation: 'tanh', params: spiralParams(), T: 5, y0Scale: 2 },
    {
      name: `4→64→64→4 tanh, gain ${WIDE_GAIN}`,
      layers: [4, 64, 64, 4],
      activation: 'tanh',
      params: scaledParams([4, 64, 64, 4], WIDE_GAIN),
      T: 5,
      y0Scale: 1,
    },
    {
      name: `oscillator [2, 2] identity, ω = ${OMEGA}`,
      layers: [2, 2],
      activation: 'identity',
      params: Float32Array.from([...OSCILLATOR_W.flat(), 0, 0]),
      T: 1,
      y0Scale: 1,
      linear: OSCILLATOR_W,
    },
  ];
}

/** y(T) of every sample in float64, [B][D] flat; plus, for a linear field, the reference's own error. */
function reference(p: Problem, y0: Float32Array): { yT: Float64Array; selfError: number } {
  const D = p.layers[0];
  const params = Array.from(p.params);
  const f = (t: number, y: readonly number[]) => Array.from(mlpForward(p.layers, p.activation, false, params, t, y));
  const yT = new Float64Array(y0.length);
  for (let b = 0; b < y0.length / D; b++) {
    const z0 = Array.from(y0.subarray(b * D, (b + 1) * D));
    const sol = solveAccurate(f, z0, [0, p.T], REFERENCE_TOL, REFERENCE_TOL);
    yT.set(sol[1], b * D);
  }
  let selfError = NaN;
  if (p.linear) {
    // The float32 weights, as the reference and the GPU use them.
    const W = p.linear.map((row, i) => row.map((_, j) => params[i * D + j] * p.T));
    const E = expm(W);
    selfError = 0;
    for (let b = 0; b < y0.length / D; b++) {
      for (let i = 0; i < D; i++) {
        let exact = 0;
        for (let j = 0; j < D; j++) exact += E[i][j] * y0[b * D + j];
        selfError = Math.max(selfError, Math.abs(exact - yT[b * D + i]));
      }
    }
  }
  return { yT, selfError };
}

/** The initial states of problem number `index`: B × D, uniform in ±y0Scale, seeded. */
function initialStates(p: Problem, index: number): Float32Array {
  return randomStates(BATCH * p.layers[0], 100 + index, p.y0Scale);
}

/**
 * The error norm: RMS over samples of the max-over-components absolute error
 * at T, divided by the same RMS of the reference state (the state scale).
 */
function relativeError(y: ArrayLike<number>, ref: Float64Array, D: number): number {
  let e2 = 0;
  let s2 = 0;
  for (let b = 0; b < ref.length / D; b++) {
    let e = 0;
    let s = 0;
    for (let d = 0; d < D; d++) {
      e = Math.max(e, Math.abs(y[b * D + d] - ref[b * D + d]));
      s = Math.max(s, Math.abs(ref[b * D + d]));
    }
    e2 += e * e;
    s2 += s * s;
  }
  return Math.sqrt(e2 / s2);
}

export interface PrecisionPoint {
  readonly rtol: number;
  readonly atol: number;
  readonly error: number;
  readonly meanNfe: number;
  readonly maxNfe: number;
  readonly wall: Sample;
}

export interface PrecisionCurve {
  readonly method: MethodName;
  readonly controller: 'PI' | 'I';
  readonly points: PrecisionPoint[];
}

export interface PrecisionProblem {
  readonly name: string;
  readonly T: number;
  readonly stateScale: number;
  readonly referenceSelfError: number;
  readonly referenceMs: number;
  readonly curves: PrecisionCurve[];
  /** torchdiffeq's curves on the same problem (empty when the peer did not answer). */
  readonly torchdiffeq: TorchdiffeqCurve[];
}

/** torchdiffeq's precision types, as the peer script names them. */
export type PeerDtype = 'float32' | 'float64';
const PEER_DTYPES: readonly PeerDtype[] = ['float32', 'float64'];

/** One torchdiffeq solve: its error against the same reference, and its calls of f (each over the whole batch). */
export interface TorchdiffeqPoint {
  readonly rtol: number;
  readonly atol: number;
  readonly error: number;
  /** Calls of f: every call evaluates every sample, so this is also its evaluations per sample. */
  readonly nfe: number;
  readonly wall: Sample;
}

export interface TorchdiffeqCurve {
  readonly method: MethodName;
  readonly dtype: PeerDtype;
  readonly points: TorchdiffeqPoint[];
}

/** What bench/precision_peer.py solves: the problems exactly as webode solves them (its docstring documents the fields). */
export interface PrecisionPeerRequest {
  readonly methods: readonly MethodName[];
  readonly tolerances: readonly number[];
  readonly atolFactor: number;
  readonly dtypes: readonly PeerDtype[];
  readonly threads: number;
  readonly repeats: number;
  readonly budgetMs: number;
  readonly problems: readonly {
    readonly name: string;
    readonly layers: readonly number[];
    readonly activation: 'tanh' | 'identity';
    /** nn.Linear order (webode's own layout). */
    readonly params: number[];
    /** [batch, dim] row-major. */
    readonly y0: number[];
    readonly batch: number;
    readonly T: number;
  }[];
}

interface PeerRun {
  readonly method: string;
  readonly dtype: PeerDtype;
  readonly rtol: number;
  readonly atol: number;
  readonly nfe: number;
  readonly wallMs: Sample;
  readonly yT: number[];
}

/** bench/precision_peer.py's answer (through bench/torchdiffeq-process.mjs), or why there is none. */
export type PrecisionPeerAnswer =
  | {
      readonly available: true;
      readonly torchdiffeq: string;
      readonly torch: string;
      readonly python: string;
      readonly interpreter: string;
      readonly path: string;
      readonly threads: number;
      /** Requested methods torchdiffeq does not have. */
      readonly missing: readonly string[];
      readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
      readonly problems: readonly { readonly name: string; readonly runs: readonly PeerRun[] }[];
    }
  | { readonly available: false; readonly reason: string };

/**
 * PyTorch threads for the peer: one. Its OpenMP threads spin while they wait,
 * and on this shared 2-core machine two were measured far slower than one
 * (table 8); the evaluation counts do not depend on it.
 */
const PEER_THREADS = 1;

/** The request for bench/precision_peer.py: every problem's parameters and initial states as webode uses them. */
export function precisionPeerRequest(): PrecisionPeerRequest {
  return {
    methods: METHODS,
    tolerances: TOLERANCES,
    atolFactor: ATOL_FACTOR,
    dtypes: PEER_DTYPES,
    threads: PEER_THREADS,
    repeats: ROUNDS,
    budgetMs: 2_000,
    problems: problems().map((p, k) => ({
      name: p.name,
      layers: p.layers,
      activation: p.activation,
      params: Array.from(p.params),
      y0: Array.from(initialStates(p, k)),
      batch: BATCH,
      T: p.T,
    })),
  };
}

/** torchdiffeq's curves for one problem: its y(T) measured against the same float64 reference. */
function peerCurves(name: string, answer: PrecisionPeerAnswer, yT: Float64Array, D: number): TorchdiffeqCurve[] {
  if (!answer.available) return [];
  const mine = answer.problems.find((q) => q.name === name);
  if (!mine) return [];
  const curves: TorchdiffeqCurve[] = [];
  for (const method of METHODS) {
    for (const dtype of PEER_DTYPES) {
      const runs = mine.runs.filter((r) => r.method === method && r.dtype === dtype);
      if (!runs.length) continue;
      curves.push({
        method,
        dtype,
        points: runs.map((r) => {
          if (r.yT.length !== yT.length) throw new Error(`torchdiffeq answered ${r.yT.length} values of y(T) for ${name}, expected ${yT.length}`);
          return { rtol: r.rtol, atol: r.atol, error: relativeError(r.yT, yT, D), nfe: r.nfe, wall: r.wallMs };
        }),
      });
    }
  }
  return curves;
}

/**
 * log y at log x = log `at` along a curve of (x, y) points in the order of
 * decreasing tolerance, interpolated linearly in log-log on the first
 * segment whose x range holds `at`; NaN outside the curve.
 */
export function interpolateLogLog(points: readonly { x: number; y: number }[], at: number): number {
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i];
    const b = points[i + 1];
    const lo = Math.min(a.x, b.x);
    const hi = Math.max(a.x, b.x);
    if (at < lo || at > hi) continue;
    if (a.x === b.x) return Math.exp((Math.log(a.y) + Math.log(b.y)) / 2);
    const s = (Math.log(at) - Math.log(a.x)) / (Math.log(b.x) - Math.log(a.x));
    return Math.exp(Math.log(a.y) + s * (Math.log(b.y) - Math.log(a.y)));
  }
  return NaN;
}

/** Geometric mean, range and count of a list of ratios (NaN and 0 when empty). */
function ratioSummary(ratios: readonly number[]): RatioSummary {
  if (!ratios.length) return { geoMean: NaN, min: NaN, max: NaN, count: 0 };
  const geoMean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  return { geoMean, min: Math.min(...ratios), max: Math.max(...ratios), count: ratios.length };
}

/** Ratios at equal error: their geometric mean, range and how many. */
export interface RatioSummary {
  readonly geoMean: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

/**
 * Curve b against curve a at equal error: at every error either curve
 * reached (x, in tolerance order), the other curve's cost interpolated in
 * log-log; the ratios b/a where both curves cover that error (and it is at
 * least `minError`).
 */
export function curveRatioAtEqualError(
  a: readonly { x: number; y: number }[],
  b: readonly { x: number; y: number }[],
  minError = 0,
): RatioSummary {
  const ratios: number[] = [];
  for (const e of [...a, ...b].map((p) => p.x).filter((e) => e >= minError)) {
    const r = interpolateLogLog(b, e) / interpolateLogLog(a, e);
    if (Number.isFinite(r)) ratios.push(r);
  }
  return ratioSummary(ratios);
}

/**
 * I against PI at equal error: at every error either curve reached, the
 * other curve's cost interpolated in log-log; the ratios I/PI where both
 * curves cover that error (and it is at least `minError`). Returns their
 * geometric mean, range and count.
 */
export function costRatioAtEqualError(
  pi: readonly PrecisionPoint[],
  i: readonly PrecisionPoint[],
  cost: (p: PrecisionPoint) => number,
  minError = 0,
): RatioSummary {
  const curve = (ps: readonly PrecisionPoint[]) => ps.map((p) => ({ x: p.error, y: cost(p) }));
  return curveRatioAtEqualError(curve(pi), curve(i), minError);
}

async function measureProblem(rt: Runtime, p: Problem, index: number, peer: PrecisionPeerAnswer): Promise<PrecisionProblem> {
  const D = p.layers[0];
  const y0 = initialStates(p, index);
  const r0 = performance.now();
  const { yT, selfError } = reference(p, y0);
  const referenceMs = performance.now() - r0;
  let s2 = 0;
  for (let b = 0; b < BATCH; b++) {
    let s = 0;
    for (let d = 0; d < D; d++) s = Math.max(s, Math.abs(yT[b * D + d]));
    s2 += s * s;
  }
  progress(`precision: ${p.name}: float64 reference in ${(referenceMs / 1000).toFixed(1)} s`);

  const f = new MLP(rt, { layers: p.layers, activation: p.activation });
  f.setParameters(p.params);
  const ts = [0, p.T];
  const curves: PrecisionCurve[] = [];
  try {
    for (const method of METHODS) {
      const byController = CONTROLLERS.map((c) => ({ method, controller: c.name, points: [] as PrecisionPoint[] }));
      for (const rtol of TOLERANCES) {
        const atol = rtol * ATOL_FACTOR;
        const options = CONTROLLERS.map((c) => ({ method, rtol, atol, stepControl: 'per-sample' as const, controller: c.options }));
        // An untimed solve of each: compiles pipelines, and gives the outputs and counts (the same every run).
        const figures: { error: number; meanNfe: number; maxNfe: number }[] = [];
        for (const o of options) {
          const sol = await odeint(f, y0, ts, o);
          try {
            const stats = await sol.stats();
            const y = await sol.y.read();
            figures.push({
              error: relativeError(y.subarray(D * BATCH), yT, D),
              meanNfe: stats.total.nfe / BATCH,
              maxNfe: stats.total.maxNfe,
            });
          } finally {
            sol.destroy();
          }
        }
        const runs = options.map((o) => async () => {
          const t0 = performance.now();
          const sol = await odeint(f, y0, ts, o);
          const elapsed = performance.now() - t0;
          sol.destroy();
          return elapsed;
        });
        const { samples } = await interleave(runs, { repeats: ROUNDS, minRepeats: ROUNDS, budgetMs: 0 });
        byController.forEach((c, k) => c.points.push({ rtol, atol, ...figures[k], wall: samples[k] }));
      }
      curves.push(...byController);
      progress(`precision: ${p.name}: ${method} done`);
    }
  } finally {
    f.destroy();
  }
  const torchdiffeq = peerCurves(p.name, peer, yT, D);
  return { name: p.name, T: p.T, stateScale: Math.sqrt(s2 / BATCH), referenceSelfError: selfError, referenceMs, curves, torchdiffeq };
}

function curveOf(p: PrecisionProblem, method: MethodName, controller: 'PI' | 'I'): PrecisionPoint[] {
  const c = p.curves.find((x) => x.method === method && x.controller === controller);
  if (!c) throw new Error(`no ${method} ${controller} curve for ${p.name}`);
  return c.points;
}

function pointsTable(ps: readonly PrecisionProblem[]): Table {
  const rows: string[][] = [];
  for (const p of ps) {
    for (const method of METHODS) {
      for (const rtol of TOLERANCES) {
        const [pi, i] = (['PI', 'I'] as const).map((c) => curveOf(p, method, c).find((x) => x.rtol === rtol));
        if (!pi || !i) continue;
        rows.push([
          p.name,
          method,
          sig(rtol, 1),
          sig(pi.error),
          sig(i.error),
          sig(pi.meanNfe),
          sig(i.meanNfe),
          int(pi.maxNfe),
          int(i.maxNfe),
          ms(pi.wall.median),
          ms(i.wall.median),
        ]);
      }
    }
  }
  return {
    id: '7',
    title: `Work-precision, PI (pcoeff 0.4, icoeff 0.3; the default) vs I (pcoeff 0, icoeff 1) controller: per-sample step control, B = ${BATCH}, atol = rtol/10`,
    columns: ['problem', 'method', 'rtol', 'error PI', 'error I', 'nfe mean PI', 'nfe mean I', 'nfe max PI', 'nfe max I', 'time PI', 'time I'],
    rows,
    notes: [
      'error: RMS over the samples of max over components |y(T) − y_ref(T)|, divided by the RMS over the samples of max over components |y_ref(T)| (the state scale); outputs at t = 0 and T only.',
      `y_ref: float64 on the host (test/reference/mlp.ts evaluating the MLP from the same float32 parameters and initial states, test/reference/solve.ts's dopri5 at rtol = atol = ${REFERENCE_TOL}).`,
      'nfe: function evaluations per sample (solution stats), mean and max over the batch.',
      `time: median of ${ROUNDS} odeint calls (upload, dispatches, its own waits), after an untimed one; PI and I alternate in each round so both see the same load.`,
      'Problems (fixed parameters, initial states uniform in a box, seeded):',
      ...ps.map((p) => `  ${p.name}: t ∈ [0, ${p.T}], state scale ${sig(p.stateScale)}, reference ${sig(p.referenceMs / 1000)} s` +
        (Number.isFinite(p.referenceSelfError) ? `, reference vs exact e^{WT}y0: max |Δ| = ${sig(p.referenceSelfError)}` : '')),
      '  spiral: W1 PyTorch-initialised (seed 0), zero biases, W2 = A (W1ᵀW1)⁻¹W1ᵀ so that f′(0) = A = [[−0.1, 2], [−2, −0.1]] (torchdiffeq ode_demo\'s matrix); y0 ∈ ±2.',
      `  4→64→64→4: PyTorch default initialisation (seed 0), weights (not biases) × ${WIDE_GAIN}; y0 ∈ ±1.`,
      `  oscillator: f(z) = W z, W = [[−${DAMPING}, ${OMEGA}], [−${OMEGA}, −${DAMPING}]] (rotation generator with damping); y0 ∈ ±1.`,
      'Below rtol ≈ 1e-6 the error meets float32 round-off (unit round-off 6e-8 per operation, accumulated over the steps), so the curves flatten there.',
    ],
  };
}

/** A ratio summary as a cell: geometric mean (smallest–largest, how many). */
const fmtRatio = (r: RatioSummary) => (r.count ? `${sig(r.geoMean)} (${sig(r.min)}–${sig(r.max)}, ${r.count})` : 'no overlap');

function summaryTable(ps: readonly PrecisionProblem[]): { table: Table; data: unknown } {
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (const p of ps) {
    for (const method of METHODS) {
      const pi = curveOf(p, method, 'PI');
      const i = curveOf(p, method, 'I');
      const mean = costRatioAtEqualError(pi, i, (x) => x.meanNfe);
      const max = costRatioAtEqualError(pi, i, (x) => x.maxNfe);
      const time = costRatioAtEqualError(pi, i, (x) => x.wall.median);
      const meanAbove = costRatioAtEqualError(pi, i, (x) => x.meanNfe, ABOVE_ROUNDOFF);
      rows.push([p.name, method, fmtRatio(mean), fmtRatio(meanAbove), fmtRatio(max), fmtRatio(time)]);
      data.push({ problem: p.name, method, meanNfe: mean, meanNfeAboveRoundoff: meanAbove, maxNfe: max, time });
    }
  }
  return {
    table: {
      id: '7b',
      title: 'I vs PI at equal achieved error: cost of I / cost of PI',
      columns: ['problem', 'method', 'nfe mean I/PI', `same, error ≥ ${sig(ABOVE_ROUNDOFF, 1)}`, 'nfe max I/PI', 'time I/PI'],
      rows,
      notes: [
        'At every error either controller reached (its five tolerances), the other curve is interpolated linearly in log(error)–log(cost) along its tolerance sequence; a ratio counts where both curves cover that error.',
        'Cells: geometric mean of those ratios (smallest–largest, how many). Below 1: I needs less at equal error; above 1: PI does.',
        `"error ≥ ${sig(ABOVE_ROUNDOFF, 1)}": only errors well above float32 round-off, where the error still follows the tolerance.`,
      ],
    },
    data,
  };
}

function peerCurveOf(p: PrecisionProblem, method: MethodName, dtype: PeerDtype): TorchdiffeqPoint[] | undefined {
  return p.torchdiffeq.find((c) => c.method === method && c.dtype === dtype)?.points;
}

function peerWho(peer: PrecisionPeerAnswer): string {
  if (!peer.available) return `torchdiffeq unavailable: ${peer.reason}`;
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return (
    `torchdiffeq ${peer.torchdiffeq}, PyTorch ${peer.torch} on the CPU, torch.set_num_threads(${peer.threads}), Python ${peer.python} (${peer.interpreter}), from ${peer.path}; ` +
    `load average ${load(peer.loadAverage.before)} when it started, ${load(peer.loadAverage.after)} when it ended` +
    (peer.missing.length ? `; methods torchdiffeq lacks, left out: ${peer.missing.join(', ')}` : '')
  );
}

/**
 * Table 7c: webode's default controller (PI, per-sample step control)
 * against torchdiffeq's odeint (batch-shared step) at equal achieved error,
 * in evaluations per sample; and table 7d, torchdiffeq's own rows.
 */
function torchdiffeqTables(ps: readonly PrecisionProblem[], peer: PrecisionPeerAnswer): { tables: Table[]; data: unknown } {
  const rows: string[][] = [];
  const raw: string[][] = [];
  const data: unknown[] = [];
  const who = peerWho(peer);
  for (const p of ps) {
    for (const method of METHODS) {
      const pi = curveOf(p, method, 'PI');
      const t32 = peerCurveOf(p, method, 'float32');
      const t64 = peerCurveOf(p, method, 'float64');
      if (!t32) {
        const reason = peer.available ? (peer.missing.includes(method) ? `torchdiffeq has no ${method}` : `no answer for ${p.name}`) : who;
        rows.push([p.name, method, reason, '', '', '', '', '']);
        data.push({ problem: p.name, method, torchdiffeq: null, reason });
        continue;
      }
      const webode = (cost: (x: PrecisionPoint) => number) => pi.map((x) => ({ x: x.error, y: cost(x) }));
      const theirs = (ps: readonly TorchdiffeqPoint[], cost: (x: TorchdiffeqPoint) => number) => ps.map((x) => ({ x: x.error, y: cost(x) }));
      // Ratios webode / torchdiffeq: torchdiffeq's curve is the base.
      const mean = curveRatioAtEqualError(theirs(t32, (x) => x.nfe), webode((x) => x.meanNfe));
      const meanAbove = curveRatioAtEqualError(theirs(t32, (x) => x.nfe), webode((x) => x.meanNfe), ABOVE_ROUNDOFF);
      const max = curveRatioAtEqualError(theirs(t32, (x) => x.nfe), webode((x) => x.maxNfe));
      const mean64 = t64 ? curveRatioAtEqualError(theirs(t64, (x) => x.nfe), webode((x) => x.meanNfe)) : ratioSummary([]);
      const time = curveRatioAtEqualError(theirs(t32, (x) => x.wall.median), webode((x) => x.wall.median));
      const met = mean.count === 0 ? 'no overlap' : mean.max <= 1 ? 'yes' : mean.geoMean <= 1 ? `on average (worst ${sig(mean.max)})` : 'no';
      rows.push([p.name, method, fmtRatio(mean), fmtRatio(meanAbove), fmtRatio(max), fmtRatio(mean64), fmtRatio(time), met]);
      data.push({ problem: p.name, method, meanNfe: mean, meanNfeAboveRoundoff: meanAbove, maxNfe: max, meanNfeFloat64: mean64, time, met });
      for (const rtol of TOLERANCES) {
        const a = t32.find((x) => x.rtol === rtol);
        const b = t64?.find((x) => x.rtol === rtol);
        const w = pi.find((x) => x.rtol === rtol);
        raw.push([
          p.name,
          method,
          sig(rtol, 1),
          a ? sig(a.error) : '—',
          a ? int(a.nfe) : '—',
          a ? ms(a.wall.median) : '—',
          b ? sig(b.error) : '—',
          b ? int(b.nfe) : '—',
          b ? ms(b.wall.median) : '—',
          w ? sig(w.error) : '—',
          w ? sig(w.meanNfe) : '—',
          w ? int(w.maxNfe) : '—',
        ]);
      }
    }
  }
  return {
    tables: [
      {
        id: '7c',
        title: `webode's default controller (PI, per-sample step control) vs torchdiffeq's odeint (batch-shared step) at equal achieved error: webode's evaluations per sample / torchdiffeq's (B = ${BATCH})`,
        columns: [
          'problem',
          'method',
          'nfe mean webode / torchdiffeq f32',
          `same, error ≥ ${sig(ABOVE_ROUNDOFF, 1)}`,
          'nfe max webode / torchdiffeq f32',
          'nfe mean webode / torchdiffeq f64',
          'time webode / torchdiffeq f32',
          'webode mean ≤ torchdiffeq',
        ],
        rows,
        notes: [
          who + '.',
          "torchdiffeq: odeint with its defaults apart from method and tolerances (rtol as table 7, atol = rtol/10): one step size for the whole batch from one RMS error norm over every component of every sample, its I controller (safety 0.9, factors 0.2…10), its initial-step selection; the same float32 parameters, initial states and [0, T]; y(T) measured against the same float64 reference with table 7's error norm. torchdiffeq steps past T and returns y(T) from its interpolant; webode's last step ends on T. f32: float32 tensors; f64: float64 (the same numbers widened).",
          "torchdiffeq's nfe: counted calls of f; each call evaluates the whole batch, so it is also its evaluations per sample. webode's: mean (and max) over the samples of each sample's own evaluations (per-sample step control), PI controller, table 7's rows.",
          'Ratios as in table 7b: at every error either curve reached, the other is interpolated linearly in log(error)–log(cost) along its tolerance sequence; cells give the geometric mean of webode / torchdiffeq (smallest–largest, how many matched errors). Below 1: webode needs fewer evaluations per sample at equal error.',
          "webode mean ≤ torchdiffeq: 'yes' when every matched ratio of mean evaluations (against float32 torchdiffeq) is at most 1; 'on average' when only their geometric mean is.",
          'time: webode on the page\'s WebGPU adapter, torchdiffeq on the CPU (one thread), each the median of a few solves; both machines\' loads differ, so it is an indication, not a comparison of equals.',
        ],
      },
      {
        id: '7d',
        title: `torchdiffeq's odeint on the work-precision problems (B = ${BATCH}, atol = rtol/10), with webode's PI rows of table 7 for reference`,
        columns: ['problem', 'method', 'rtol', 'error f32', 'nfe f32', 'time f32', 'error f64', 'nfe f64', 'time f64', 'webode error', 'webode nfe mean', 'webode nfe max'],
        rows: raw,
        notes: [
          who + '.',
          `error: table 7's norm against the same float64 reference; nfe: calls of f (whole batch each); time: median of up to ${ROUNDS} solves after an untimed one, torch.no_grad().`,
        ],
      },
    ],
    data,
  };
}

/**
 * Section `precision`: tables 7–7d. `peer`: bench/precision_peer.py's answer
 * (bench/run.mjs passes it); without it, tables 7c and 7d say why.
 */
export async function precisionSection(rt: Runtime, answer?: PrecisionPeerAnswer): Promise<SectionResult> {
  const peer: PrecisionPeerAnswer = answer ?? { available: false, reason: 'no answer passed to the page (run the section through bench/run.mjs)' };
  const measured: PrecisionProblem[] = [];
  const list = problems();
  for (let k = 0; k < list.length; k++) measured.push(await measureProblem(rt, list[k], k, peer));
  const summary = summaryTable(measured);
  const versus = torchdiffeqTables(measured, peer);
  const peerInfo = peer.available ? { ...peer, problems: undefined } : peer;
  return {
    tables: [pointsTable(measured), summary.table, ...versus.tables],
    data: {
      batch: BATCH,
      tolerances: TOLERANCES,
      rounds: ROUNDS,
      referenceTol: REFERENCE_TOL,
      problems: measured,
      summary: summary.data,
      torchdiffeq: { peer: peerInfo, summary: versus.data },
    },
  };
}
