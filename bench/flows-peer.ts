/**
 * Section `flows-peer` (opt-in: `node bench/run.mjs flows-peer`), tables 13a and 13b:
 * continuous normalizing flows next to an FFJORD-style PyTorch +
 * torchdiffeq peer (bench/ffjord_peer.py), run by bench/run.mjs while the
 * page is idle.
 *
 * 13a  one logProb + backward (the adjoint) per second: MLP [D + 1, 64, 64, D]
 *      tanh with time input, t1 = 0.5, dopri5 rtol = atol = 1e-5, D = 2, 8, 32,
 *      B = 512 and 4,096, exact trace and Hutchinson's (one ε per sample,
 *      the same ε on both sides); the same parameters and points.
 * 13b  training on FFJORD's `8gaussians` and `pinwheel`: MLP [3, 64, 64, 2],
 *      exact trace, batch 512, Adam lr 1e-3, the same initial parameters,
 *      training points, mini-batches (the PointSampler's indices) and number
 *      of iterations on both sides; the mean log-likelihood of held-out
 *      points and iterations per second.
 *
 * Step 1 (`flowsRequest`) builds the problems and the peer's request; step 2
 * (`flowsSection`) runs webode on them and prints both.
 */
import {
  Adam,
  CNF,
  MLP,
  PointDataset,
  PointSampler,
  FlowTrainer,
  type Runtime,
  type ToyDataset,
  toyData,
  mulberry32,
} from '../src/index';
import type { SectionResult } from './table';
import { int, ms, sig } from './table';
import { adaptiveRepeat, progress, timed } from './timing';

const T1 = 0.5;
const TOL = 1e-5;
const SOLVER = { method: 'dopri5', rtol: TOL, atol: TOL } as const;
const SPEED_DIMS = [2, 8, 32] as const;
const SPEED_BATCHES = [512, 4096] as const;
const TRACES = ['exact', 'hutchinson'] as const;
const TRAIN_SETS: readonly ToyDataset[] = ['8gaussians', 'pinwheel'];
const TRAIN_POINTS = 20_000;
const TEST_POINTS = 5_000;
const BATCH = 512;
const LR = 1e-3;
/** Training iterations of each side per dataset (WEBODE_FLOWS_ITERATIONS in bench/run.mjs's environment overrides). */
export const DEFAULT_ITERATIONS = 40;

interface SpeedCase {
  dim: number;
  batch: number;
  trace: 'exact' | 'hutchinson';
  params: number[];
  x: number[];
  noise: number[];
}

interface TrainSpec {
  name: ToyDataset;
  layers: number[];
  params: number[];
  data: number[];
  test: number[];
  batch: number;
  seed: number;
  iterations: number;
  lr: number;
  t1: number;
  rtol: number;
  atol: number;
}

export interface FlowsRequest {
  threads: number;
  trains: TrainSpec[];
  speed: { t1: number; rtol: number; atol: number; budgetMs: number; maxRuns: number; cases: SpeedCase[] };
}

interface PeerSpeed {
  dim: number;
  batch: number;
  trace: string;
  runs: number;
  ms: { median: number; min: number; max: number };
  perSec: number;
  nfeForward: number;
  nfeBackward: number;
}
interface PeerTrain {
  name: string;
  iterations: number;
  seconds: number;
  itPerSec: number;
  losses: number[];
  testLogLik: number;
  nfeForward: number[];
  nfeBackward: number[];
}
export type FlowsAnswer =
  | { available: true; torch: string; torchdiffeq: string; python: string; threads: number; trains: PeerTrain[]; speed: PeerSpeed[]; loadAverage?: { before: number[]; after: number[] } }
  | { available: false; reason: string };

/** Standard normal draws (Box–Muller) from webode's seeded generator. */
function normals(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const a = 2 * Math.PI * u();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** Rademacher ±1 draws. */
function signs(n: number, seed: number): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (u() < 0.5 ? -1 : 1));
}

/** Step 1: the problems, with webode's initial parameters. */
export async function flowsPeerRequest(rt: Runtime, iterations = DEFAULT_ITERATIONS): Promise<FlowsRequest> {
  const cases: SpeedCase[] = [];
  for (const dim of SPEED_DIMS) {
    const f = new MLP(rt, { layers: [dim + 1, 64, 64, dim], activation: 'tanh', timeInput: true, seed: dim });
    try {
      const params = Array.from(await f.readParameters());
      for (const batch of SPEED_BATCHES) {
        const x = Array.from(normals(batch * dim, 100 + dim + batch));
        const noise = Array.from(signs(batch * dim, 200 + dim + batch));
        for (const trace of TRACES) cases.push({ dim, batch, trace, params, x, noise });
      }
    } finally {
      f.destroy();
    }
  }
  const trains: TrainSpec[] = [];
  for (const [k, name] of TRAIN_SETS.entries()) {
    const f = new MLP(rt, { layers: [3, 64, 64, 2], activation: 'tanh', timeInput: true, seed: 7 });
    try {
      trains.push({
        name,
        layers: [3, 64, 64, 2],
        params: Array.from(await f.readParameters()),
        data: Array.from(toyData(name, TRAIN_POINTS, 1 + 10 * k)),
        test: Array.from(toyData(name, TEST_POINTS, 2 + 10 * k)),
        batch: BATCH,
        seed: 3 + k,
        iterations,
        lr: LR,
        t1: T1,
        rtol: TOL,
        atol: TOL,
      });
    } finally {
      f.destroy();
    }
  }
  return { threads: 1, trains, speed: { t1: T1, rtol: TOL, atol: TOL, budgetMs: 4_000, maxRuns: 5, cases } };
}

/** webode's logProb + backward (waiting for the gradients) on one speed case. */
async function webodeSpeed(rt: Runtime, c: SpeedCase): Promise<{ ms: number; runs: number; nfe: string }> {
  const f = new MLP(rt, { layers: [c.dim + 1, 64, 64, c.dim], activation: 'tanh', timeInput: true });
  f.setParameters(c.params);
  const flow = new CNF(f, { t0: 0, t1: T1, trace: c.trace });
  const x = Float32Array.from(c.x);
  const noise = c.trace === 'hutchinson' ? Float32Array.from(c.noise) : undefined;
  const cot = new Float32Array(c.batch).fill(-1 / c.batch);
  let nfe = '';
  try {
    const once = () =>
      timed(async () => {
        const r = await flow.logProb(x, { ...SOLVER, noise });
        try {
          const g = await r.backward(cot);
          nfe = `${r.summary.maxNfe} + ${g.summary.maxNfe}`;
          g.destroy();
        } finally {
          r.destroy();
        }
      });
    if (c.batch === SPEED_BATCHES[0]) await once(); // compiles this D and trace's pipelines (the larger batch reuses them)
    const s = await adaptiveRepeat(once);
    return { ms: s.median, runs: s.runs, nfe };
  } finally {
    f.destroy();
  }
}

/** webode's training run on one dataset; returns the test log-likelihood, it/s and the loss curve's ends. */
async function webodeTrain(rt: Runtime, spec: TrainSpec): Promise<{ testLogLik: number; itPerSec: number; seconds: number; first: number; last: number }> {
  const f = new MLP(rt, { layers: spec.layers, activation: 'tanh', timeInput: true });
  f.setParameters(spec.params);
  const flow = new CNF(f, { t0: 0, t1: spec.t1, trace: 'exact' });
  const data = new PointDataset(rt, spec.data, new Uint32Array(spec.data.length / 2), { width: 2, classes: 1 });
  const sampler = new PointSampler(data, { batch: spec.batch, seed: spec.seed });
  const adam = new Adam([f.params], { lr: spec.lr });
  const trainer = new FlowTrainer(flow, adam, { solver: { method: 'dopri5', rtol: spec.rtol, atol: spec.atol } });
  try {
    const fit = await trainer.fit(sampler, {
      iterations: spec.iterations,
      progressEvery: 25,
      onProgress: (p) => progress(`flows-peer: ${spec.name} iteration ${p.iteration}: NLL ${p.loss.toFixed(4)}, ${p.itPerSec.toFixed(2)} it/s`),
    });
    const history = await trainer.readLossHistory();
    const testLogLik = await trainer.evaluate(spec.test, { chunk: 2500 });
    return {
      testLogLik,
      itPerSec: (1000 * fit.iterations) / fit.elapsedMs,
      seconds: fit.elapsedMs / 1000,
      first: history.losses[0],
      last: history.losses[history.losses.length - 1],
    };
  } finally {
    trainer.destroy();
    sampler.destroy();
    data.destroy();
    adam.destroy();
    f.destroy();
  }
}

/** Step 2: webode on the same problems, next to the peer's answer. */
export async function flowsPeerSection(rt: Runtime, request: FlowsRequest | undefined, answer: FlowsAnswer | undefined): Promise<SectionResult> {
  if (!request) throw new Error('section flows-peer needs its problems from flowsPeerRequest (run it through bench/run.mjs)');
  const peer: FlowsAnswer = answer ?? { available: false, reason: 'no answer passed to the page' };
  const speedRows: string[][] = [];
  const speedData: unknown[] = [];
  for (const c of request.speed.cases) {
    const w = await webodeSpeed(rt, c);
    const theirs = peer.available ? peer.speed.find((s) => s.dim === c.dim && s.batch === c.batch && s.trace === c.trace) : undefined;
    progress(`flows-peer: D ${c.dim} B ${c.batch} ${c.trace}: webode ${ms(w.ms)}`);
    speedRows.push([
      String(c.dim),
      int(c.batch),
      c.trace,
      sig(1000 / w.ms),
      ms(w.ms),
      w.nfe,
      theirs ? sig(theirs.perSec) : '—',
      theirs ? ms(theirs.ms.median) : '—',
      theirs ? `${theirs.nfeForward} + ${theirs.nfeBackward}` : '—',
      theirs ? `${sig(theirs.ms.median / w.ms)}×` : '—',
    ]);
    speedData.push({ dim: c.dim, batch: c.batch, trace: c.trace, webode: w, peer: theirs ?? null });
  }
  const trainRows: string[][] = [];
  const trainData: unknown[] = [];
  for (const spec of request.trains) {
    const w = await webodeTrain(rt, spec);
    const theirs = peer.available ? peer.trains.find((t) => t.name === spec.name) : undefined;
    trainRows.push([
      spec.name,
      int(spec.iterations),
      sig(w.testLogLik, 4),
      theirs ? sig(theirs.testLogLik, 4) : '—',
      theirs ? sig(w.testLogLik - theirs.testLogLik, 2) : '—',
      `${sig(w.first, 4)} → ${sig(w.last, 4)}`,
      theirs ? `${sig(theirs.losses[0], 4)} → ${sig(theirs.losses[theirs.losses.length - 1], 4)}` : '—',
      sig(w.itPerSec),
      theirs ? sig(theirs.itPerSec) : '—',
    ]);
    trainData.push({ name: spec.name, iterations: spec.iterations, webode: w, peer: theirs ? { ...theirs, losses: undefined, nfeForward: undefined, nfeBackward: undefined } : null });
  }
  const who = peer.available
    ? `peer: FFJORD-style CNF in PyTorch ${peer.torch} + torchdiffeq ${peer.torchdiffeq} (odeint_adjoint, dopri5), float32 on the CPU, torch.set_num_threads(${peer.threads}), Python ${peer.python}`
    : `peer unavailable: ${peer.reason}`;
  return {
    data: { peer: peer.available ? { ...peer, trains: undefined, speed: undefined } : peer, speed: speedData, training: trainData },
    tables: [
      {
        id: '13a',
        title: `Continuous normalizing flows: logProb + backward per second (MLP [D+1, 64, 64, D] tanh, time input, t1 ${T1}, dopri5 rtol = atol = ${TOL.toExponential()})`,
        columns: ['D', 'B', 'trace', 'webode /s', 'webode', 'webode nfe', 'peer /s', 'peer', 'peer nfe', 'webode speed-up'],
        rows: speedRows,
        notes: [
          `${who}.`,
          'One logProb solve (t0 → t1, log-density carried along) and its adjoint backward (cotangent −1/B per sample), waiting for the gradients; median of several runs after a warm-up. The same parameters, points and Hutchinson ε (±1, one per sample and dimension) on both sides. webode: per-sample steps; peer: one step size for the batch.',
          "Exact trace: webode forward-mode sweeps on the GPU; the peer D reverse-mode passes through f per evaluation (FFJORD's divergence_bf). nfe = forward + backward evaluations (webode: of its most expensive sample).",
        ],
      },
      {
        id: '13b',
        title: `Training flows on FFJORD's toy data (MLP [3, 64, 64, 2] tanh, exact trace, t1 ${T1}, batch ${BATCH}, Adam ${LR}, the same iterations)`,
        columns: ['data', 'iterations', 'webode test log p', 'peer test log p', 'Δ (nats)', 'webode NLL first → last', 'peer NLL first → last', 'webode it/s', 'peer it/s'],
        rows: trainRows,
        notes: [
          `${who}.`,
          `Both sides start from the same parameters and train on the same ${int(TRAIN_POINTS)} points with the same mini-batches (webode's PointSampler indices, recomputed in Python); test log p is the mean log-likelihood of ${int(TEST_POINTS)} held-out points (dopri5, rtol = atol = ${TOL.toExponential()}). webode's iterations are wait-free (one host wait per 25 iterations for the progress line).`,
        ],
      },
    ],
  };
}
