/**
 * Table 3: dopri5 solves. (a) forward and backward solves of the spiral and
 * the [4, 64, 64, 4] models across batch sizes: the forward step against six
 * evaluations of the MLP alone, the backward (adjoint, and backprop for the
 * spiral at B = 1,024) against the forward of the same problem, measured in
 * alternation in the same rounds; (b) per-sample against batch-shared step
 * control on a batch mixing easy and hard samples; (c) the three problems
 * the issue measured torchdiffeq on, forward plus backward.
 */
import {
  type BackwardOptions,
  type BackwardSummary,
  type Gradients,
  MLP,
  type OdeintOptions,
  type Runtime,
  type Solution,
  type SolveSummary,
  Tensor,
  mulberry32,
  odeint,
} from '../src/index';
import { ForwardKernelTimer, randomStates } from './kernels';
import type { Limits } from './limits';
import { type SectionResult, type Table, int, ms, ratio, sig } from './table';
import { type RepeatPolicy, type Sample, adaptiveRepeat, median, progress, repeat, summarize } from './timing';

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

/** The per-sample statistics and outputs of a solve (two host waits, after the clock stopped). */
async function solveFigures(sol: Solution, wall: Sample): Promise<SolveTiming> {
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
    return await solveFigures(sol, wall);
  } finally {
    sol.destroy();
  }
}

/**
 * ∂L/∂y of L = mean(y²) over every output [T][B][D]: 2y / (T·B·D). The loss
 * the TF.js comparison differentiates too; any smooth loss costs the same.
 */
export function meanSquareCotangent(y: Float32Array): Float32Array {
  const s = 2 / y.length;
  return Float32Array.from(y, (v) => s * v);
}

/** One gradient mode of a forward + backward measurement. */
export interface BackwardTiming {
  readonly label: string;
  readonly options: BackwardOptions;
  /** Wall time of `sol.backward` alone, call to resolved Gradients. */
  readonly wall: Sample;
  /** Backward / forward time, median of the per-round ratios. */
  readonly ratio: number;
  /** Forward + this backward, median of the per-round sums. */
  readonly total: Sample;
  readonly summary: BackwardSummary;
  /** dL/dy0 and dL/dθ of the last round, when asked for. */
  readonly gy0?: Float32Array;
  readonly gtheta?: Float32Array;
}

/**
 * The same forward + backward as a wait-free training step records it: a
 * deferred forward solve, a deferred backward (the first mode's options) on
 * its outputs, and one host wait for both checks.
 */
export interface DeferredStepTiming {
  /** Call of odeint to both checks resolved. */
  readonly wall: Sample;
  /** This / the waiting forward + backward of the same round, median over rounds. */
  readonly ratio: number;
  /** Whether its dL/dy0 and dL/dθ equal the waiting backward's, bit for bit, in every round. */
  readonly identical: boolean;
}

export interface ForwardBackwardTiming {
  readonly forward: SolveTiming;
  readonly backward: BackwardTiming[];
  readonly rounds: number;
  /** With `deferredStep`: the deferred step, timed in the same rounds. */
  readonly deferredStep?: DeferredStepTiming;
}

/**
 * The forward solve and, on its solution, each gradient mode of `modes`, in
 * rounds (forward, backward, backward, …), so every backward/forward ratio is
 * measured under the same load. The cotangent is that of mean(y²), uploaded
 * once as a GPU tensor (what a training loop passes). Rounds adapt to their
 * length: one round over 20 s is the sample; over 5 s, it and two more (so
 * the B = 65,536 ratios are medians too); over 1.5 s, two more; shorter
 * ones, the first as warm-up and up to 7 within 3 s.
 * An untimed round on the first `warmupSamples` samples compiles every
 * pipeline first, so a single long round is representative. With
 * `deferredStep`, each round ends with the deferred step (`DeferredStepTiming`).
 */
export async function timeForwardBackward(
  f: MLP,
  y0: Float32Array,
  t: readonly number[],
  options: OdeintOptions,
  modes: readonly { label: string; options: BackwardOptions }[],
  { keepGradients = false, warmupSamples = 8, deferredStep = false }: { keepGradients?: boolean; warmupSamples?: number; deferredStep?: boolean } = {},
): Promise<ForwardBackwardTiming> {
  const rt = f.runtime;
  if (warmupSamples > 0) {
    const y0w = y0.subarray(0, Math.min(y0.length, warmupSamples * f.stateDim));
    const sol = await odeint(f, y0w, t, options);
    try {
      const cot = Tensor.fromArray(rt, meanSquareCotangent(await sol.y.read()), [t.length, sol.batch, sol.dim], 'bench warm-up cotangent');
      try {
        for (const mode of modes) (await sol.backward(cot, mode.options)).destroy();
      } finally {
        cot.destroy();
      }
    } finally {
      sol.destroy();
    }
  }
  // What the rounds leave alive: the last solution, its gradients, the cotangent (made from the first solution).
  const live: { sol: Solution | null; grads: (Gradients | null)[]; cot: Tensor | null } = { sol: null, grads: [], cot: null };
  const fwdMs: number[] = [];
  const bwdMs: number[][] = modes.map(() => []);
  const stepMs: number[] = [];
  let identical = true;
  /** The deferred step (timed), then its gradients (read after the clock). */
  const step = async (): Promise<{ ms: number; y0: Float32Array; params: Float32Array }> => {
    const cot = live.cot;
    if (!cot) throw new Error('no cotangent');
    const t0 = performance.now();
    const sol = await odeint(f, y0, t, { ...options, deferred: true });
    try {
      const gd = await sol.backward(cot, { ...modes[0].options, deferred: true });
      try {
        await Promise.all([sol.check(), gd.check()]);
        const ms = performance.now() - t0;
        return { ms, y0: await gd.y0.read(), params: await gd.params.read() };
      } finally {
        gd.destroy();
      }
    } finally {
      sol.destroy();
    }
  };
  const same = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  let rounds = 0;
  const round = async () => {
    live.sol?.destroy();
    for (const g of live.grads) g?.destroy();
    live.grads = [];
    // The deferred step before the waiting pair in every other round, so neither always follows the other.
    const stepFirst = deferredStep && live.cot !== null && rounds++ % 2 === 1;
    const early = stepFirst ? await step() : null;
    const t0 = performance.now();
    const sol = (live.sol = await odeint(f, y0, t, options));
    const tf = performance.now() - t0;
    const tb: number[] = [];
    for (const mode of modes) {
      live.cot ??= Tensor.fromArray(rt, meanSquareCotangent(await sol.y.read()), [t.length, sol.batch, sol.dim], 'bench cotangent');
      const t1 = performance.now();
      live.grads.push(await sol.backward(live.cot, mode.options));
      tb.push(performance.now() - t1);
    }
    if (!deferredStep) return { tf, tb, ts: NaN };
    const s = early ?? (await step());
    const g0 = live.grads[0];
    if (g0) identical &&= same(s.y0, await g0.y0.read()) && same(s.params, await g0.params.read());
    return { tf, tb, ts: s.ms };
  };
  const keep = (r: { tf: number; tb: number[]; ts: number }) => {
    fwdMs.push(r.tf);
    r.tb.forEach((x, i) => bwdMs[i].push(x));
    stepMs.push(r.ts);
  };
  try {
    const first = await round();
    const firstMs = first.tf + first.tb.reduce((a, b) => a + b, 0);
    if (firstMs > 20_000) {
      keep(first);
    } else if (firstMs > 5_000) {
      // Rounds of 5–20 s (the B = 65,536 spiral): three, so the ratio is a median too.
      keep(first);
      for (let i = 0; i < 2; i++) keep(await round());
    } else if (firstMs > 1_500) {
      for (let i = 0; i < 2; i++) keep(await round());
    } else {
      const start = performance.now();
      while (fwdMs.length < 7 && (fwdMs.length < 3 || performance.now() - start < 3_000)) keep(await round());
    }
    if (!live.sol) throw new Error('no solve ran');
    const forward = await solveFigures(live.sol, summarize(fwdMs));
    const backward: BackwardTiming[] = [];
    for (let i = 0; i < modes.length; i++) {
      const g = live.grads[i];
      if (!g) throw new Error(`no ${modes[i].label} gradients`);
      backward.push({
        label: modes[i].label,
        options: modes[i].options,
        wall: summarize(bwdMs[i]),
        ratio: median(bwdMs[i].map((x, r) => x / fwdMs[r])),
        total: summarize(bwdMs[i].map((x, r) => x + fwdMs[r])),
        summary: g.summary,
        ...(keepGradients ? { gy0: await g.y0.read(), gtheta: await g.params.read() } : {}),
      });
    }
    const stepped = deferredStep
      ? { deferredStep: { wall: summarize(stepMs), ratio: median(stepMs.map((x, r) => x / (fwdMs[r] + bwdMs[0][r]))), identical } }
      : {};
    return { forward, backward, rounds: fwdMs.length, ...stepped };
  } finally {
    live.sol?.destroy();
    for (const g of live.grads) g?.destroy();
    live.cot?.destroy();
  }
}

/** Raw figures of a forward + backward measurement for results.json (no arrays). */
export function fbData(r: ForwardBackwardTiming | null): unknown {
  if (!r) return null;
  return { ...r, forward: { ...r.forward, y: undefined }, backward: r.backward.map((b) => ({ ...b, gy0: undefined, gtheta: undefined })) };
}

/**
 * Longest single solve a row may take (projected from the next smaller batch,
 * since a saturated adapter's time grows linearly with B). A row projected
 * beyond it is reported as skipped, so the whole benchmark keeps to its time
 * budget while the kernels are slow, and runs in full once they are fast.
 * Forward and backward are gated separately: a row may get its forward only.
 */
export const SOLVE_BUDGET_MS = 150_000;

const ADJOINT = { label: 'adjoint', options: {} } as const;
const BACKPROP = { label: 'backprop', options: { mode: 'backprop' } } as const;
/** The adjoint's one-sample kernel where the lane or workgroup kernel is the default, for comparison. */
const ONE_SAMPLE = { label: 'adjoint, 1 sample/inv.', options: { kernel: 'invocation' } } as const;

interface SolveRow {
  readonly model: string;
  readonly batch: number;
  readonly timing: ForwardBackwardTiming | null;
  readonly sixEvalsMs: number;
  /** The same with one sample per invocation, as the solver kernels evaluate the MLP. */
  readonly sixOneSampleMs: number;
  /** Why the row was not measured at all. */
  readonly skipped?: string;
  /** Why its backward was not measured. */
  readonly backwardSkipped?: string;
}

const skipText = (projected: number) => `skipped: projected ${sig(projected / 1000)} s > ${SOLVE_BUDGET_MS / 1000} s budget`;

async function forwardBackwardSolves(rt: Runtime): Promise<SolveRow[]> {
  const rows: SolveRow[] = [];
  const t = linspace(0, 1, 11);
  const opts = { rtol: RTOL, atol: ATOL };
  for (const m of MODELS) {
    const f = makeModel(rt, m);
    try {
      let prev: { batch: number; fwd: number; bwd: number } | null = null;
      for (const batch of BATCHES) {
        const fwdProjected = prev ? (prev.fwd * batch) / prev.batch : 0;
        const bwdProjected = prev ? (prev.bwd * batch) / prev.batch : 0;
        if (fwdProjected > SOLVE_BUDGET_MS) {
          rows.push({ model: m.name, batch, timing: null, sixEvalsMs: NaN, sixOneSampleMs: NaN, skipped: skipText(fwdProjected) });
          continue;
        }
        const withBackward = bwdProjected <= SOLVE_BUDGET_MS;
        // For comparison: backprop (the exact gradient of the discretisation) and the adjoint's
        // one-sample kernel, against the lane kernel (spiral, B = 1,024) and the workgroup kernel
        // (the larger model at B = 1).
        const modes = !withBackward
          ? []
          : m === SPIRAL && batch === 1024
            ? [ADJOINT, ONE_SAMPLE, BACKPROP]
            : m !== SPIRAL && batch === 1
              ? [ADJOINT, ONE_SAMPLE]
              : [ADJOINT];
        const y0 = modelY0(m, batch);
        const timing = await timeForwardBackward(f, y0, t, opts, modes);
        const bwd = timing.backward[0];
        progress(
          `solves: ${m.name} B = ${batch}: forward ${ms(timing.forward.wall.median)}` +
            (bwd ? `, backward ${ms(bwd.wall.median)} (${ratio(bwd.ratio)})` : ', backward skipped'),
        );
        prev = { batch, fwd: timing.forward.wall.median, bwd: bwd ? bwd.wall.median : Infinity };
        const z = Tensor.fromArray(rt, y0, [batch, m.layers[m.layers.length - 1]], 'bench y0');
        const timer = new ForwardKernelTimer(rt, f.spec, f.params, z, batch);
        const oneSample = new ForwardKernelTimer(rt, f.spec, f.params, z, batch, { lanes: 1, workgroupSize: 64 });
        try {
          const evalMs = (await timer.perEval(100)).ms;
          const oneSampleMs = (await oneSample.perEval(100)).ms;
          rows.push({
            model: m.name,
            batch,
            timing,
            sixEvalsMs: 6 * evalMs,
            sixOneSampleMs: 6 * oneSampleMs,
            backwardSkipped: withBackward ? undefined : skipText(bwdProjected),
          });
        } finally {
          timer.destroy();
          oneSample.destroy();
          z.destroy();
        }
      }
    } finally {
      f.destroy();
    }
  }
  return rows;
}

function solvesTable(rows: readonly SolveRow[]): Table {
  const blank = (n: number) => Array.from({ length: n }, () => '');
  const body: string[][] = [];
  for (const r of rows) {
    if (!r.timing) {
      body.push(['forward', r.model, int(r.batch), r.skipped ?? '', ...blank(11)]);
      continue;
    }
    const fw = r.timing.forward;
    const s = fw.summary;
    const perStep = fw.wall.median / fw.maxAttempts;
    body.push([
      'forward',
      r.model,
      int(r.batch),
      ms(fw.wall.median),
      `${fw.wall.runs}`,
      `${int(s.maxNfe)} / ${sig(fw.meanNfe)}`,
      `${fw.maxAccepted} / ${fw.maxRejected} max`,
      ms(perStep),
      ms(r.sixEvalsMs),
      ratio(perStep / r.sixEvalsMs),
      ratio(perStep / r.sixOneSampleMs),
      int(s.dispatches),
      int(s.submits),
      int(s.hostWaits),
      '',
    ]);
  }
  for (const r of rows) {
    if (!r.timing || r.timing.backward.length === 0) {
      body.push(['backward (adjoint)', r.model, int(r.batch), r.skipped ?? r.backwardSkipped ?? '', ...blank(11)]);
      continue;
    }
    for (const b of r.timing.backward) {
      const s = b.summary;
      body.push([
        `backward (${b.label})`,
        r.model,
        int(r.batch),
        ms(b.wall.median),
        `${b.wall.runs}`,
        `${int(s.maxNfe)} / ${sig(s.nfe / r.batch)}`,
        `${sig(s.accepted / r.batch)} / ${sig(s.rejected / r.batch)} mean`,
        '',
        '',
        '',
        '',
        int(s.dispatches),
        int(s.submits),
        int(s.hostWaits),
        ratio(b.ratio),
      ]);
    }
  }
  const ratios = rows.flatMap((r) => r.timing?.backward.filter((b) => b.label === 'adjoint').map((b) => b.ratio) ?? []);
  // bwd / fwd time = (bwd / fwd evaluations of the slowest sample) × (cost of one evaluation, bwd / fwd).
  const split = rows.flatMap((r) =>
    (r.timing?.backward ?? []).map((b) => {
      const fw = r.timing?.forward.summary.maxNfe ?? NaN;
      const nfe = b.summary.maxNfe / fw;
      return `${r.model} B = ${int(r.batch)} ${b.label} ${ratio(b.ratio)} = ${ratio(nfe)} nfe × ${ratio(b.ratio / nfe)} per evaluation`;
    }),
  );
  const worst = Math.max(...ratios);
  return {
    id: '3a',
    title: `Solves: dopri5, rtol ${RTOL.toExponential()}, atol ${ATOL.toExponential()}, t = 0…1 (11 outputs), per-sample step control; backward of L = mean(y²)`,
    columns: [
      'solve',
      'model',
      'B',
      'wall',
      'runs',
      'nfe max/mean',
      'acc/rej per sample',
      'per step',
      '6 MLP evals',
      'step / 6 evals',
      'step / 6 one-sample evals',
      'dispatches',
      'submits',
      'host waits',
      'bwd / fwd',
    ],
    rows: body,
    notes: [
      'wall: median of odeint from call to resolved Solution (includes y0 upload and its own host waits); backward: sol.backward(dLdy) from call to resolved Gradients, dLdy a GPU tensor; stats read afterwards.',
      'Forward and backward are measured in rounds (forward, then each backward on its solution), so "bwd / fwd" is the median of per-round ratios under the same load.',
      '"per step" = wall / the largest accepted+rejected count of one sample (the steps the batch waits for); "6 MLP evals" = six dispatches of the forward kernel (MLP.forward\'s, K samples per invocation) on the same batch, kernel only; "one-sample evals": the same kernel with one sample per invocation, as the solver kernels evaluate the MLP — the ratio to it is what the fused stages, error control and dense output add.',
      'Backward rows: nfe max is the largest augmented-system evaluation count of one sample (each evaluates f and both VJPs); acc/rej is the mean per sample (the summary has totals only; backprop reports the forward steps it differentiates).',
      'Adjoint kernel (the default): four samples per invocation in lockstep lanes for B ≥ 8 (where the MLP fits: both models here); at B = 1 one sample per workgroup for 4→64→64→4 (1 or 2 samples of an MLP of ≥ 1,024 parameters: the 64 invocations share each evaluation) and one per invocation for the spiral. Every attempt of the lane and workgroup kernels evaluates all 7 dopri5 stages; the first reverse step of each sample is the last step of its forward solve (no initial-step heuristic). "adjoint, 1 sample/inv." is the one-sample kernel for comparison (kernel: \'invocation\'; each attempt evaluates 6 stages and reuses the last step\'s 7th, plus one evaluation per output time it restarts at).',
      `Where bwd / fwd comes from (time ratio = ratio of the slowest sample's evaluations × ratio of time per evaluation): ${split.join('; ')}.`,
      `Targets: step / 6 evals ≤ 1.5×; host waits a small constant independent of the step count; backward ≤ 3× forward (adjoint, worst row: ${ratios.length ? ratio(worst) : '—'}, ${
        ratios.length && worst <= 3 ? 'met' : 'missed'
      }).`,
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
      const r = await timeForwardBackward(f, y0, p.t, { rtol: RTOL, atol: ATOL }, [ADJOINT]);
      const b = r.backward[0];
      const nfe = r.forward.summary.maxNfe + b.summary.maxNfe;
      progress(`solves: torchdiffeq problem ${p.name}: ${ms(b.total.median)}`);
      data.push({ problem: p.name, torchdiffeqMs: p.ms, torchdiffeqNfe: p.nfe, webode: fbData(r) });
      rows.push([
        p.name,
        `${p.ms} ms (${p.nfe} nfe)`,
        `${ms(b.total.median)} (${nfe} nfe)`,
        `${r.rounds}`,
        `${ms(r.forward.wall.median)} (${r.forward.summary.maxNfe})`,
        `${ms(b.wall.median)} (${b.summary.maxNfe})`,
        ratio(b.ratio),
        ratio(p.ms / b.total.median),
      ]);
    } finally {
      f.destroy();
    }
  }
  return {
    data,
    table: {
      id: '3c',
      title: 'The torchdiffeq reference problems, forward + backward (dopri5, rtol 1e-6, atol 1e-7, adjoint, L = mean(y²))',
      columns: [
        'problem',
        'torchdiffeq fwd+bwd (issue)',
        'webode fwd+bwd',
        'runs',
        'webode forward (nfe)',
        'webode backward (nfe)',
        'bwd / fwd',
        'webode speed-up',
      ],
      rows,
      notes: [
        "torchdiffeq figures are the issue's: 0.2.5 on PyTorch 1.13 CPU, float32, 2 threads, odeint_adjoint forward plus backward, median wall time; its nfe counts forward and backward of its batch-shared steps. Table 8 (section peer-torchdiffeq) runs torchdiffeq live on the same parameters.",
        "webode: odeint then sol.backward (default per-sample step control, adjoint), median over rounds of the sum; its nfe is the largest forward count of one sample plus the largest backward count of one sample. Speed-up = torchdiffeq / webode; above 1× webode is faster.",
        'Parameters are PyTorch-default initialisations from a fixed seed, not the trained models torchdiffeq was timed on, so step counts differ (compare the nfe). Batch-shared step control, torchdiffeq\'s, is compared with per-sample in table 3b.',
      ],
    },
  };
}

export async function solvesSection(rt: Runtime, _limits: Limits): Promise<SectionResult> {
  const solves = await forwardBackwardSolves(rt);
  const mixed = await stepControl(rt);
  const refs = await references(rt);
  return {
    data: {
      solves: solves.map((r) => ({ ...r, timing: fbData(r.timing) })),
      stepControl: mixed.data,
      torchdiffeq: refs.data,
    },
    tables: [solvesTable(solves), mixed.table, refs.table],
  };
}
