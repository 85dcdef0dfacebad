/**
 * Table 8, section `peer-torchdiffeq`: a live peer in the same run —
 * torchdiffeq on the CPU (PyTorch, 2 threads, and 1) solving the same problems as
 * webode, forward (`odeint_adjoint`, dopri5) plus backward (its adjoint), with
 * the same parameters, initial states, output times, tolerances and loss.
 *
 * The page cannot start a process, so the section has three steps, driven by
 * bench/run.mjs:
 *   1. `torchdiffeqRequest` (page): builds the problems — each model's
 *      PyTorch-default parameters from webode's fixed seed (already in
 *      nn.Linear order), y0, t, tolerances — as plain JSON, and keeps them;
 *   2. run.mjs hands them to bench/torchdiffeq-process.mjs, which runs
 *      bench/torchdiffeq_peer.py while the page is idle (so the two never
 *      share the 2 CPU cores) and returns its answer, or why it has none;
 *   3. `torchdiffeqSection` (page): times webode on the kept problems and
 *      prints both, with the speed-up and a check that the forward outputs
 *      (and the gradients) agree.
 * The peer runs between the two page steps, so neither competes with the
 * other for the cores (other work on the machine still can: the notes print
 * the load average), and webode's outputs never leave the page.
 */
import { MLP, type Runtime } from '../src/index';
import type { Limits } from './limits';
import { CHECK, relDiff } from './peer';
import { ATOL, RTOL, SPIRAL, WIDE, type Model, fbData, linspace, makeModel, modelY0, timeForwardBackward, toleranceUnits } from './solves';
import { type SectionResult, ms, ratio, sig } from './table';
import { type Sample, progress } from './timing';

/**
 * PyTorch's thread counts (torch.set_num_threads), one torchdiffeq run each:
 * the machine's 2 cores, as the issue timed it — the figure checked against
 * webode — and 1, because PyTorch's OpenMP threads spin while they wait and
 * on a busy 2-core machine two threads were measured up to 20× slower than one.
 */
export const TORCHDIFFEQ_THREADS = [2, 1] as const;

/** The workloads: a spiral training step's solve, and the two larger batches the issue timed. */
const WORKLOADS: readonly { name: string; model: Model; batch: number; t: number[] }[] = [
  { name: 'spiral training step: 2→50→2, B = 20, 10 outputs over [0, 0.225]', model: SPIRAL, batch: 20, t: linspace(0, 0.225, 10) },
  { name: '2→50→2, B = 1,024, 11 outputs over [0, 1]', model: SPIRAL, batch: 1024, t: linspace(0, 1, 11) },
  { name: '4→64→64→4, B = 4,096, 11 outputs over [0, 1]', model: WIDE, batch: 4096, t: linspace(0, 1, 11) },
];

/** One problem as both sides solve it (JSON; bench/torchdiffeq_peer.py documents the fields). */
export interface PeerProblem {
  readonly name: string;
  readonly layers: readonly number[];
  readonly activation: 'tanh';
  /** Flat θ in nn.Linear order: weight [out, in] row-major, then bias, layer by layer (webode's own layout). */
  readonly params: number[];
  /** [batch, dim] row-major. */
  readonly y0: number[];
  readonly batch: number;
  readonly t: number[];
  readonly method: 'dopri5';
  readonly rtol: number;
  readonly atol: number;
  /** L = mean(y²) over every output [T, batch, dim], the loss of table 3's gradients. */
  readonly loss: 'mean_square';
}

export interface TorchdiffeqRequest {
  readonly threads: readonly number[];
  readonly warmup: number;
  readonly repeats: number;
  readonly minRepeats: number;
  readonly budgetMs: number;
  readonly longMs: number;
  readonly mediumMs: number;
  readonly problems: readonly PeerProblem[];
}

interface PeerAnswerProblem {
  readonly name: string;
  readonly forwardMs: Sample;
  readonly backwardMs: Sample;
  readonly totalMs: Sample;
  readonly nfeForward: number;
  readonly nfeBackward: number;
  readonly loss: number;
  /** Outputs and gradients: in the first thread count's run only. */
  readonly y?: number[];
  readonly gy0?: number[];
  readonly gtheta?: number[];
}

/** What bench/torchdiffeq-process.mjs returns: the script's answer, or why there is none. */
export type TorchdiffeqAnswer =
  | {
      readonly available: true;
      readonly torchdiffeq: string;
      readonly torch: string;
      readonly python: string;
      readonly path: string;
      readonly interpreter: string;
      /** os.loadavg() (1, 5, 15 min) when the peer started and ended. */
      readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
      /** One per thread count, in the request's order. */
      readonly runs: readonly { readonly threads: number; readonly problems: readonly PeerAnswerProblem[] }[];
    }
  | { readonly available: false; readonly reason: string; readonly path?: string };

/** Step 1: the problems, with each model's parameters read back from webode. */
export async function torchdiffeqRequest(rt: Runtime): Promise<TorchdiffeqRequest> {
  const problems: PeerProblem[] = [];
  for (const w of WORKLOADS) {
    const f = makeModel(rt, w.model);
    try {
      problems.push({
        name: w.name,
        layers: [...w.model.layers],
        activation: 'tanh',
        params: Array.from(await f.readParameters()),
        y0: Array.from(modelY0(w.model, w.batch, 31)),
        batch: w.batch,
        t: w.t,
        method: 'dopri5',
        rtol: RTOL,
        atol: ATOL,
        loss: 'mean_square',
      });
    } finally {
      f.destroy();
    }
  }
  // The page's rule (timing.ts adaptiveRepeat): after a warm-up, one run if it took over 5 s, two over
  // 1.5 s, otherwise 3–7 runs within 3 s.
  return { threads: [...TORCHDIFFEQ_THREADS], warmup: 1, repeats: 7, minRepeats: 3, budgetMs: 3_000, longMs: 5_000, mediumMs: 1_500, problems };
}

/** webode's backward as torchdiffeq's: dL/dy0 and dL/dθ, no dL/dt (torchdiffeq computes none unless t requires grad). */
const ADJOINT = { label: 'adjoint', options: { timeGradient: false } } as const;

const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' ');

/** Step 3: webode on the same problems, next to the peer's answer. */
export async function torchdiffeqSection(
  rt: Runtime,
  _limits: Limits,
  request: TorchdiffeqRequest | undefined,
  answer: TorchdiffeqAnswer | undefined,
): Promise<SectionResult> {
  if (!request) throw new Error('section peer-torchdiffeq needs its problems from torchdiffeqRequest (run it through bench/run.mjs)');
  const peer: TorchdiffeqAnswer = answer ?? { available: false, reason: 'no answer passed to the page' };
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (const [i, p] of request.problems.entries()) {
    const f = new MLP(rt, { layers: p.layers, activation: p.activation });
    try {
      f.setParameters(p.params);
      const r = await timeForwardBackward(f, Float32Array.from(p.y0), p.t, { rtol: p.rtol, atol: p.atol }, [ADJOINT], { keepGradients: true, deferredStep: true });
      const b = r.backward[0];
      const step = r.deferredStep;
      if (!step) throw new Error('no deferred step timed');
      const stepCell = `${ms(step.wall.median)}${step.identical ? '' : ' (gradients DIFFER)'}`;
      const webodeNfe = `${r.forward.summary.maxNfe} + ${b.summary.maxNfe}`;
      const webode = [ms(b.total.median), `${ms(r.forward.wall.median)} / ${ms(b.wall.median)}`, webodeNfe];
      progress(`peer-torchdiffeq: ${p.name}: webode ${ms(b.total.median)}`);
      const runs = peer.available ? peer.runs : [];
      const theirs = runs[0]?.problems[i];
      const others = runs.slice(1).map((run) => ({ threads: run.threads, ms: run.problems[i]?.totalMs.median ?? NaN }));
      if (!theirs || theirs.name !== p.name || !theirs.y || !theirs.gy0 || !theirs.gtheta) {
        const reason = peer.available ? `no answer for ${p.name}` : peer.reason;
        rows.push([p.name, ...webode, stepCell, `torchdiffeq unavailable: ${reason}`, '', '', '', '', '', '', '', '']);
        data.push({ problem: p.name, webode: fbData(r), torchdiffeq: null, reason });
        continue;
      }
      // Forward outputs [T, B, D]: the largest absolute difference, and in units of atol + rtol·|y|.
      const ty = Float32Array.from(theirs.y);
      let maxAbs = 0;
      for (let k = 0; k < ty.length; k++) maxAbs = Math.max(maxAbs, Math.abs(r.forward.y[k] - ty[k]));
      if (ty.length !== r.forward.y.length) maxAbs = Infinity;
      const units = toleranceUnits(r.forward.y, ty, p.rtol, p.atol);
      const gy0 = b.gy0 ? relDiff(b.gy0, theirs.gy0) : NaN;
      const gth = b.gtheta ? relDiff(b.gtheta, theirs.gtheta) : NaN;
      const ok = units <= CHECK.dopri5Units && Math.max(gy0, gth) <= CHECK.gradient && step.identical;
      rows.push([
        p.name,
        ...webode,
        stepCell,
        ms(theirs.totalMs.median),
        `${ms(theirs.forwardMs.median)} / ${ms(theirs.backwardMs.median)}`,
        `${theirs.nfeForward} + ${theirs.nfeBackward}`,
        ratio(theirs.totalMs.median / b.total.median),
        ratio(theirs.totalMs.median / step.wall.median),
        others.map((o) => `${ms(o.ms)} (${ratio(o.ms / b.total.median)} / ${ratio(o.ms / step.wall.median)})`).join(', '),
        `${sig(maxAbs, 2)} (${sig(units, 2)} tol)`,
        `${sig(gy0, 2)} / ${sig(gth, 2)}`,
        ok ? 'ok' : 'DISAGREE',
      ]);
      data.push({
        problem: p.name,
        webode: fbData(r),
        torchdiffeq: { ...theirs, y: undefined, gy0: undefined, gtheta: undefined },
        torchdiffeqThreads: runs[0].threads,
        speedUp: theirs.totalMs.median / b.total.median,
        deferredStepSpeedUp: theirs.totalMs.median / step.wall.median,
        others: runs.slice(1).map((run) => {
          const theirMs = run.problems[i]?.totalMs.median ?? NaN;
          return { threads: run.threads, torchdiffeq: run.problems[i], speedUp: theirMs / b.total.median, deferredStepSpeedUp: theirMs / step.wall.median };
        }),
        forwardMaxAbs: maxAbs,
        forwardToleranceUnits: units,
        gradientRelDiff: { y0: gy0, theta: gth },
        ok,
      });
    } finally {
      f.destroy();
    }
  }
  // Thread counts as run (WEBODE_TORCHDIFFEQ_THREADS may change the request's).
  const threads = peer.available ? peer.runs.map((r) => r.threads) : [...request.threads];
  const plural = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  const who = peer.available
    ? `torchdiffeq ${peer.torchdiffeq}, PyTorch ${peer.torch} on the CPU, float32, torch.set_num_threads(${peer.runs.map((r) => r.threads).join(', then ')}), Python ${peer.python} (${peer.interpreter}), from ${peer.path}; load average ${load(peer.loadAverage.before)} when it started, ${load(peer.loadAverage.after)} when it ended (PyTorch's OpenMP threads spin while waiting, so a busy machine slows two threads far more than one)`
    : `torchdiffeq unavailable: ${peer.reason}`;
  return {
    data: { peer: peer.available ? { ...peer, runs: peer.runs.map((r) => r.threads) } : peer, rows: data },
    tables: [
      {
        id: '8',
        title: `The live peer: torchdiffeq in the same run, forward + backward (dopri5, rtol ${RTOL.toExponential()}, atol ${ATOL.toExponential()}, adjoint, L = mean(y²))`,
        columns: [
          'problem',
          'webode',
          'webode fwd / bwd',
          'webode nfe',
          'webode deferred step',
          `torchdiffeq, ${plural(threads[0])}`,
          'torchdiffeq fwd / bwd',
          'torchdiffeq nfe',
          'webode speed-up',
          'deferred step speed-up',
          threads.length > 1 ? `torchdiffeq, ${threads.slice(1).map(plural).join(', ')} (speed-ups)` : '',
          'fwd max|Δ|',
          'grad rel Δ y0 / θ',
          '',
        ],
        rows,
        notes: [
          who + '.',
          'Both sides: one forward solve then one backward (webode: odeint, then sol.backward with the adjoint and timeGradient: false — the same gradients, dL/dy0 and dL/dθ, as torchdiffeq\'s, whose t does not require grad; torchdiffeq: odeint_adjoint, then loss.backward()), median of the sums over several runs after a warm-up; the same parameters (PyTorch-default initialisation from webode\'s fixed seed, nn.Linear order), y0, t and loss. torchdiffeq runs first, while the browser is idle, once per thread count. webode speed-up = torchdiffeq / webode (above 1× webode is faster), against the first thread count, whose outputs and gradients are the ones checked; the torchdiffeq column after it gives the other thread counts\' figures and speed-ups.',
          "webode deferred step: the same forward + backward as a wait-free training step records it — odeint with deferred: true, sol.backward with deferred: true on its outputs, then one host wait for both solves' checks (sol.check(), g.check()) — timed in the same rounds, before the waiting pair in every other round and after it in the rest; its clock stops when both checks have been read, so after all of its GPU work, dL/dθ's final reduction included, where the waiting pair's stops when sol.backward returns, with that reduction still queued; its gradients are compared with the waiting backward's bit for bit (the row says DIFFER and DISAGREE otherwise). The speed-ups in brackets after the other thread counts are against the waiting pair, then against the deferred step.",
          'nfe = forward + backward evaluations of f: webode\'s of its most expensive sample (per-sample step control), torchdiffeq\'s counted calls of f (one per stage for the whole batch).',
          "torchdiffeq's defaults differ from webode's: one step size for the whole batch from one RMS error norm over every sample (webode: per sample), an I controller (safety 0.9, factors 0.2…10; webode: PI), and an adjoint whose error norm also covers the parameter-gradient accumulators.",
          `fwd max|Δ|: largest |webode − torchdiffeq| over every forward output, and the largest |Δ| / (atol + rtol·|y|). Two dopri5 solves with different step sequences each stay within a small multiple of atol + rtol·|y| of the true solution; float32 round-off is about 1e-7·|y| per step. The row is marked DISAGREE above ${CHECK.dopri5Units} such units (≈ ${sig(CHECK.dopri5Units * (ATOL + RTOL))} at |y| = 1), or when a gradient differs norm-wise (max|Δ| / max|torchdiffeq|) by more than ${CHECK.gradient.toExponential()}.`,
        ],
      },
    ],
  };
}
