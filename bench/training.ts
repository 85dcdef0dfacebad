/**
 * Table 4: training iterations per second of the two demo experiments,
 * exactly as the demo page trains them (demo/experiments.ts, on the public
 * `Trainer`): the spiral (MLP 2→50→2 tanh, mini-batches of 20 random windows
 * of length 10 of the A·y³ trajectory, dopri5, adjoint, Adam) at the
 * tolerances torchdiffeq was timed at, and the augmented Neural ODE on the
 * concentric circles (one extra zero dimension, Linear readout,
 * cross-entropy) at the demo's settings.
 *
 * An iteration is `Trainer.step`: forward solve, loss and its gradient on the
 * GPU, adjoint solve, Adam update; no loss read. The clock runs over many
 * iterations and one final wait for the GPU.
 */
import { CirclesRun, SpiralRun } from '../demo/experiments';
import type { Runtime, StepResult } from '../src/index';
import type { Limits } from './limits';
import { ATOL, RTOL, TORCHDIFFEQ } from './solves';
import { type SectionResult, type Table, int, ms, ratio, sig } from './table';
import { gpuIdle, progress } from './timing';

const WARMUP = 3;
const MIN_ITERATIONS = 10;
const BUDGET_MS = 4_000;

export interface TrainingRun {
  readonly loop: string;
  readonly iterations: number;
  readonly elapsedMs: number;
  readonly itPerSec: number;
  readonly msPerIteration: number;
  /** Means per iteration over the timed iterations. */
  readonly forwardMaxNfe: number;
  readonly backwardMaxNfe: number;
  readonly hostWaits: number;
  readonly lossFirst: number;
  readonly lossLast: number;
  /** The torchdiffeq figure of the same loop (issue 6), if there is one. */
  readonly torchdiffeqMs: number | null;
}

interface Loop {
  step(readLoss?: boolean): Promise<StepResult>;
  destroy(): void;
}

async function timeLoop(rt: Runtime, name: string, run: Loop, torchdiffeqMs: number | null): Promise<TrainingRun> {
  try {
    const first = await run.step(true);
    for (let i = 1; i < WARMUP; i++) await run.step();
    await gpuIdle(rt.device);
    let n = 0;
    let fwdNfe = 0;
    let bwdNfe = 0;
    let waits = 0;
    const t0 = performance.now();
    while (n < MIN_ITERATIONS || performance.now() - t0 < BUDGET_MS) {
      const r = await run.step();
      n++;
      fwdNfe += r.forward.maxNfe;
      bwdNfe += r.backward.maxNfe;
      waits += r.hostWaits;
    }
    await gpuIdle(rt.device);
    const elapsed = performance.now() - t0;
    const last = await run.step(true);
    const out: TrainingRun = {
      loop: name,
      iterations: n,
      elapsedMs: elapsed,
      itPerSec: (1000 * n) / elapsed,
      msPerIteration: elapsed / n,
      forwardMaxNfe: fwdNfe / n,
      backwardMaxNfe: bwdNfe / n,
      hostWaits: waits / n,
      lossFirst: first.loss ?? NaN,
      lossLast: last.loss ?? NaN,
      torchdiffeqMs,
    };
    progress(`training: ${name}: ${sig(out.itPerSec)} it/s`);
    return out;
  } finally {
    run.destroy();
  }
}

export async function measureTraining(rt: Runtime): Promise<TrainingRun[]> {
  const spiral = await timeLoop(
    rt,
    `spiral: batch 20 windows of 10, dopri5 rtol ${RTOL.toExponential()}, adjoint, Adam`,
    new SpiralRun(rt, { rtol: RTOL, atol: ATOL }),
    TORCHDIFFEQ[0].ms,
  );
  const circles = new CirclesRun(rt, { augment: 1 });
  const c = circles.config;
  const augmented = await timeLoop(
    rt,
    `augmented NODE, circles: D = ${2 + c.augment}, batch ${c.batch}, dopri5 rtol ${c.rtol.toExponential()}, adjoint, Adam`,
    circles,
    null,
  );
  return [spiral, augmented];
}

export function trainingTable(runs: readonly TrainingRun[]): Table {
  return {
    id: '4',
    title: 'Training: Trainer.step (forward solve, loss, adjoint solve, Adam update) of the demo experiments',
    columns: ['loop', 'iterations / s', 'per iteration', 'iterations timed', 'nfe fwd / bwd (max, mean)', 'host waits / it', 'loss first → last', 'vs torchdiffeq'],
    rows: runs.map((r) => [
      r.loop,
      sig(r.itPerSec),
      ms(r.msPerIteration),
      int(r.iterations),
      `${sig(r.forwardMaxNfe)} / ${sig(r.backwardMaxNfe)}`,
      sig(r.hostWaits),
      `${sig(r.lossFirst)} → ${sig(r.lossLast)}`,
      r.torchdiffeqMs === null ? '' : `${ratio(r.torchdiffeqMs / r.msPerIteration)} (${r.torchdiffeqMs} ms)`,
    ]),
    notes: [
      `Iterations from the start of training (${WARMUP} warm-up iterations, then at least ${MIN_ITERATIONS} and at least ${BUDGET_MS / 1000} s), no loss reads inside the clock; the clock stops after one wait for the last update.`,
      'nfe: the largest function-evaluation count of one sample in the forward and in the adjoint solve, averaged over the timed iterations; they change as the field is learned.',
      "vs torchdiffeq: the issue's 25 ms training step (torchdiffeq 0.2.5, PyTorch 1.13 CPU, 2 threads, odeint_adjoint, 140 nfe) / webode's time per iteration; above 1× webode is faster. Against TF.js: table 6.",
    ],
  };
}

export async function trainingSection(rt: Runtime, _limits: Limits): Promise<{ result: SectionResult; runs: TrainingRun[] }> {
  const runs = await measureTraining(rt);
  return { runs, result: { data: { runs }, tables: [trainingTable(runs)] } };
}
