/**
 * Table 3: dopri5 solves. (a) forward solves of the spiral and the
 * [4, 64, 64, 4] models across batch sizes, with the cost of one step against
 * six evaluations of the MLP alone; (b) per-sample against batch-shared step
 * control on a batch mixing easy and hard samples; (c) the three problems the
 * issue measured torchdiffeq on. Backward rows are placeholders until the
 * adjoint exists; `timeSolve` is what they will call.
 */
import { MLP, type OdeintOptions, type Runtime, type Solution, type SolveSummary, Tensor, mulberry32, odeint } from '../src/index';
import { ForwardKernelTimer, randomStates } from './kernels';
import type { Limits } from './limits';
import { NOT_YET, type SectionResult, type Table, int, ms, ratio, sig } from './table';
import { type RepeatPolicy, type Sample, adaptiveRepeat, progress, repeat } from './timing';

export const RTOL = 1e-6;
export const ATOL = 1e-7;

export interface Model {
  readonly name: string;
  readonly layers: readonly number[];
  /** Initial states are uniform in ±y0Scale. */
  readonly y0Scale: number;
}

export const SPIRAL: Model = { name: 'spiral 2→50→2', layers: [2, 50, 2], y0Scale: 2 };
export const WIDE: Model = { name: '4→64→64→4', layers: [4, 64, 64, 4], y0Scale: 1 };
const MODELS = [SPIRAL, WIDE];
const BATCHES = [1, 1024, 65_536];

/** n evenly spaced times from a to b (inclusive). */
export function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (n === 1 ? a : a + ((b - a) * i) / (n - 1)));
}

/** The MLP of a model: tanh, PyTorch's default initialisation from a fixed seed. */
export function makeModel(rt: Runtime, m: Model): MLP {
  return new MLP(rt, { layers: m.layers, activation: 'tanh', seed: 0 });
}

export function modelY0(m: Model, batch: number, seed = 11): Float32Array {
  return randomStates(batch * m.layers[m.layers.length - 1], seed, m.y0Scale);
}

export interface SolveTiming {
  readonly wall: Sample;
  readonly summary: SolveSummary;
  /** Largest accepted + rejected attempts of one sample: the steps the wall time pays for. */
  readonly maxAttempts: number;
  readonly maxAccepted: number;
  readonly maxRejected: number;
  readonly meanNfe: number;
  readonly minNfe: number;
  /** Outputs [T][B][D] of the last run. */
  readonly y: Float32Array;
}

/**
 * Median wall time of `odeint` (upload of y0, every dispatch, its own host
 * waits, up to the returned Solution), repeated as `adaptiveRepeat` judges
 * from the first solve, or by an explicit policy. Statistics and outputs are
 * read after the clock stops.
 */
export async function timeSolve(
  f: MLP,
  y0: Float32Array,
  t: readonly number[],
  options: OdeintOptions,
  policy: Partial<RepeatPolicy> | 'adaptive' = 'adaptive',
): Promise<SolveTiming> {
  let last: Solution | null = null;
  const once = async () => {
    last?.destroy();
    const t0 = performance.now();
    last = await odeint(f, y0, t, options);
    return performance.now() - t0;
  };
  const wall = policy === 'adaptive' ? await adaptiveRepeat(once) : await repeat(once, policy);
  // TypeScript cannot see the assignment inside the closure.
  const sol = last as Solution | null;
  if (!sol) throw new Error('no solve ran');
  try {
    const stats = await sol.stats();
    let maxAttempts = 0;
    let maxAccepted = 0;
    let maxRejected = 0;
    let minNfe = Infinity;
    for (let b = 0; b < sol.batch; b++) {
      maxAttempts = Math.max(maxAttempts, stats.accepted[b] + stats.rejected[b]);
      maxAccepted = Math.max(maxAccepted, stats.accepted[b]);
      maxRejected = Math.max(maxRejected, stats.rejected[b]);
      minNfe = Math.min(minNfe, stats.nfe[b]);
    }
    return {
      wall,
      summary: sol.summary,
      maxAttempts,
      maxAccepted,
      maxRejected,
      meanNfe: stats.total.nfe / sol.batch,
      minNfe,
      y: await sol.y.read(),
    };
  } finally {
    sol.destroy();
  }
}

/**
 * Longest single solve a row may take (projected from the next smaller batch,
 * since a saturated adapter's time grows linearly with B). A row projected
 * beyond it is reported as skipped, so the whole benchmark keeps to its time
 * budget while the kernels are slow, and runs in full once they are fast.
 */
export const SOLVE_BUDGET_MS = 150_000;

interface ForwardRow {
  readonly model: string;
  readonly batch: number;
  readonly timing: SolveTiming | null;
  readonly sixEvalsMs: number;
  /** Why the row was not measured. */
  readonly skipped?: string;
}

async function forwardSolves(rt: Runtime): Promise<ForwardRow[]> {
  const rows: ForwardRow[] = [];
  const t = linspace(0, 1, 11);
  for (const m of MODELS) {
    const f = makeModel(rt, m);
    try {
      // Compile the pipelines on a small batch, so big batches need no warm-up solve of their own.
      await timeSolve(f, modelY0(m, 8), t, { rtol: RTOL, atol: ATOL }, { warmup: 0, repeats: 1, minRepeats: 1 });
      let prev: { batch: number; ms: number } | null = null;
      for (const batch of BATCHES) {
        const projected = prev ? (prev.ms * batch) / prev.batch : 0;
        if (projected > SOLVE_BUDGET_MS) {
          rows.push({
            model: m.name,
            batch,
            timing: null,
            sixEvalsMs: NaN,
            skipped: `skipped: projected ${sig(projected / 1000)} s > ${SOLVE_BUDGET_MS / 1000} s budget`,
          });
          continue;
        }
        const y0 = modelY0(m, batch);
        const timing = await timeSolve(f, y0, t, { rtol: RTOL, atol: ATOL });
        progress(`solves: ${m.name} B = ${batch}: ${ms(timing.wall.median)}`);
        prev = { batch, ms: timing.wall.median };
        const z = Tensor.fromArray(rt, y0, [batch, m.layers[m.layers.length - 1]], 'bench y0');
        const timer = new ForwardKernelTimer(rt, f.spec, f.params, z, batch);
        try {
          const evalMs = (await timer.perEval(100)).ms;
          rows.push({ model: m.name, batch, timing, sixEvalsMs: 6 * evalMs });
        } finally {
          timer.destroy();
          z.destroy();
        }
      }
    } finally {
      f.destroy();
    }
  }
  return rows;
}

function forwardTable(rows: readonly ForwardRow[]): Table {
  const body = rows.map((r) => {
    if (!r.timing) return ['forward', r.model, int(r.batch), r.skipped ?? '', '', '', '', '', '', '', '', '', ''];
    const s = r.timing.summary;
    const perStep = r.timing.wall.median / r.timing.maxAttempts;
    return [
      'forward',
      r.model,
      int(r.batch),
      ms(r.timing.wall.median),
      `${r.timing.wall.runs}`,
      `${int(s.maxNfe)} / ${sig(r.timing.meanNfe)}`,
      `${r.timing.maxAccepted} / ${r.timing.maxRejected}`,
      ms(perStep),
      ms(r.sixEvalsMs),
      ratio(perStep / r.sixEvalsMs),
      int(s.dispatches),
      int(s.submits),
      int(s.hostWaits),
    ];
  });
  const pending = MODELS.flatMap((m) =>
    BATCHES.map((b) => ['backward', m.name, int(b), NOT_YET, '', '', '', '', '', '', '', '', '']),
  );
  return {
    id: '3a',
    title: `Solves: dopri5, rtol ${RTOL.toExponential()}, atol ${ATOL.toExponential()}, t = 0…1 (11 outputs), per-sample step control`,
    columns: [
      'solve',
      'model',
      'B',
      'wall',
      'runs',
      'nfe max/mean',
      'acc/rej (max)',
      'per step',
      '6 MLP evals',
      'step / 6 evals',
      'dispatches',
      'submits',
      'host waits',
    ],
    rows: [...body, ...pending, ['backward / forward', 'both', 'all', NOT_YET, '', '', '', '', '', '', '', '', '']],
    notes: [
      'wall: median of odeint from call to resolved Solution (includes y0 upload and its own host waits); stats read afterwards.',
      '"per step" = wall / the largest accepted+rejected count of one sample (the steps the batch waits for); "6 MLP evals" = six dispatches of the forward kernel on the same batch, kernel only.',
      'Target: step / 6 evals ≤ 1.5×; host waits a small constant independent of the step count.',
    ],
  };
}

/** |Δ| of two solutions in units of the solver's own tolerance, atol + rtol·|y|, worst element. */
export function toleranceUnits(a: Float32Array, b: Float32Array, rtol = RTOL, atol = ATOL): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + rtol * Math.max(Math.abs(a[i]), Math.abs(b[i]))));
  }
  return a.length === b.length ? worst : Infinity;
}

/**
 * Spiral initial states whose magnitudes span six decades (random direction,
 * radius 10^u with u uniform in [-3, 3]): the tanh MLP saturates far out, so
 * large states need few steps at a relative tolerance while small ones sit at
 * the absolute tolerance and need many — easy and hard samples in one batch.
 */
function mixedY0(batch: number): Float32Array {
  const rng = mulberry32(23);
  const y = new Float32Array(batch * 2);
  for (let b = 0; b < batch; b++) {
    const r = 10 ** (6 * rng() - 3);
    const a = 2 * Math.PI * rng();
    y[2 * b] = r * Math.cos(a);
    y[2 * b + 1] = r * Math.sin(a);
  }
  return y;
}

async function stepControl(rt: Runtime): Promise<{ table: Table; data: unknown }> {
  const B = 1024;
  const f = makeModel(rt, SPIRAL);
  try {
    const y0 = mixedY0(B);
    const t = linspace(0, 1, 11);
    const modes = ['per-sample', 'batch'] as const;
    const runs: SolveTiming[] = [];
    for (const stepControl of modes) runs.push(await timeSolve(f, y0, t, { rtol: RTOL, atol: ATOL, stepControl }));
    const diff = toleranceUnits(runs[0].y, runs[1].y);
    return {
      data: { batch: B, modes: modes.map((m, i) => ({ mode: m, ...runs[i], y: undefined })), diffInTolerances: diff },
      table: {
        id: '3b',
        title: `Step control on a mixed batch: spiral, B = ${int(B)}, |y0| from 1e-3 to 1e3, dopri5 rtol ${RTOL.toExponential()}`,
        columns: ['step control', 'wall', 'nfe total', 'nfe max / mean / min', 'acc/rej (max)', 'dispatches', 'host waits', 'vs per-sample'],
        rows: modes.map((m, i) => {
          const r = runs[i];
          return [
            m,
            ms(r.wall.median),
            int(r.summary.nfe),
            `${int(r.summary.maxNfe)} / ${sig(r.meanNfe)} / ${int(r.minNfe)}`,
            `${r.maxAccepted} / ${r.maxRejected}`,
            int(r.summary.dispatches),
            int(r.summary.hostWaits),
            ratio(r.wall.median / runs[0].wall.median),
          ];
        }),
        notes: [
          `The two solutions differ by at most ${sig(diff)} × (atol + rtol·|y|) at any output.`,
          'Batch mode takes one step size for all samples from the RMS error over the batch (as torchdiffeq does), so every sample pays for the hardest.',
        ],
      },
    };
  } finally {
    f.destroy();
  }
}

/** The problems the issue timed torchdiffeq 0.2.5 on (PyTorch 1.13 CPU, 2 threads, odeint_adjoint forward + backward, median). */
export const TORCHDIFFEQ = [
  { name: 'spiral step: 2→50→2, B = 20, 10 outputs over 0.225', model: SPIRAL, batch: 20, t: linspace(0, 0.225, 10), ms: 25, nfe: 140 },
  { name: '2→50→2, B = 1,024, 11 outputs over [0, 1]', model: SPIRAL, batch: 1024, t: linspace(0, 1, 11), ms: 58, nfe: 166 },
  { name: '4→64→64→4, B = 4,096, t ∈ [0, 1]', model: WIDE, batch: 4096, t: [0, 1], ms: 411, nfe: 66 },
] as const;

async function references(rt: Runtime): Promise<{ table: Table; data: unknown }> {
  const data: unknown[] = [];
  const rows: string[][] = [];
  for (const p of TORCHDIFFEQ) {
    const f = makeModel(rt, p.model);
    try {
      const y0 = modelY0(p.model, p.batch, 31);
      const per = await timeSolve(f, y0, p.t, { rtol: RTOL, atol: ATOL });
      const bat = await timeSolve(f, y0, p.t, { rtol: RTOL, atol: ATOL, stepControl: 'batch' });
      data.push({ problem: p.name, torchdiffeqMs: p.ms, perSample: { ...per, y: undefined }, batch: { ...bat, y: undefined } });
      rows.push([
        p.name,
        `${p.ms} ms (${p.nfe} nfe)`,
        `${ms(per.wall.median)} (${per.summary.maxNfe} nfe)`,
        `${ms(bat.wall.median)} (${bat.summary.maxNfe} nfe)`,
        'forward only so far',
        NOT_YET,
      ]);
    } finally {
      f.destroy();
    }
  }
  return {
    data,
    table: {
      id: '3c',
      title: 'The torchdiffeq reference problems (dopri5, rtol 1e-6, atol 1e-7)',
      columns: ['problem', 'torchdiffeq fwd+bwd (issue)', 'webode fwd, per-sample', 'webode fwd, batch', 'webode scope', 'speed-up'],
      rows,
      notes: [
        "torchdiffeq figures are the issue's: 0.2.5 on PyTorch 1.13 CPU, float32, 2 threads, odeint_adjoint forward plus backward, median wall time, its nfe counts forward and backward. webode's nfe is forward only, the largest of one sample.",
        'Parameters are PyTorch-default initialisations from a fixed seed, not the trained models torchdiffeq was timed on, so step counts differ; the speed-up needs the backward solve.',
      ],
    },
  };
}

export async function solvesSection(rt: Runtime, _limits: Limits): Promise<SectionResult> {
  const forward = await forwardSolves(rt);
  const mixed = await stepControl(rt);
  const refs = await references(rt);
  return {
    data: { forward: forward.map((r) => ({ ...r, timing: r.timing && { ...r.timing, y: undefined } })), stepControl: mixed.data, torchdiffeq: refs.data },
    tables: [forwardTable(forward), mixed.table, refs.table],
  };
}
