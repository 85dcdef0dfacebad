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
 * iterations and one final wait for the GPU. Each loop runs twice, from the
 * same initial state: wait-free (the Trainer's default: deferred solves, the
 * update gated on the GPU, no host wait) and waiting (`waitFree: false`: each
 * solve reads its summary), so their ratio is measured in the same run.
 */
import { CirclesRun, SpiralRun } from '../demo/experiments';
import type { LossHistory, Runtime, StepResult } from '../src/index';
import type { Limits } from './limits';
import { ATOL, RTOL, TORCHDIFFEQ } from './solves';
import { type SectionResult, type Table, int, ms, ratio, sig } from './table';
import { gpuIdle, progress } from './timing';

const WARMUP = 3;
const MIN_ITERATIONS = 10;
const BUDGET_MS = 4_000;
/** The loss is read every this many iterations (`Trainer.fit`'s default progress interval). */
const READ_EVERY = 10;

export interface TrainingRun {
  readonly loop: string;
  readonly waitFree: boolean;
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
  readonly trainer: { readonly waitFree: boolean; readLossHistory(): Promise<LossHistory> };
  destroy(): void;
}

const mean = (x: Uint32Array) => x.reduce((a, b) => a + b, 0) / Math.max(1, x.length);

async function timeLoop(rt: Runtime, name: string, run: Loop, torchdiffeqMs: number | null): Promise<TrainingRun> {
  try {
    const first = await run.step(true);
    for (let i = 1; i < WARMUP; i++) await run.step();
    await run.trainer.readLossHistory(); // the timed iterations' counts are read after the clock
    await gpuIdle(rt.device);
    let n = 0;
    let waits = 0;
    const t0 = performance.now();
    while (n < MIN_ITERATIONS || performance.now() - t0 < BUDGET_MS) {
      const r = await run.step(n % READ_EVERY === READ_EVERY - 1);
      n++;
      waits += r.hostWaits;
    }
    await gpuIdle(rt.device);
    const elapsed = performance.now() - t0;
    const hist = await run.trainer.readLossHistory();
    const last = await run.step(true);
    const out: TrainingRun = {
      loop: name,
      waitFree: run.trainer.waitFree,
      iterations: n,
      elapsedMs: elapsed,
      itPerSec: (1000 * n) / elapsed,
      msPerIteration: elapsed / n,
      forwardMaxNfe: mean(hist.forwardNfe),
      backwardMaxNfe: mean(hist.backwardNfe),
      hostWaits: waits / n,
      lossFirst: first.loss ?? NaN,
      lossLast: last.loss ?? NaN,
      torchdiffeqMs,
    };
    progress(`training: ${name}${out.waitFree ? '' : ' (waiting)'}: ${sig(out.itPerSec)} it/s`);
    return out;
  } finally {
    run.destroy();
  }
}

export async function measureTraining(rt: Runtime): Promise<TrainingRun[]> {
  const runs: TrainingRun[] = [];
  for (const waitFree of [true, false]) {
    runs.push(
      await timeLoop(
        rt,
        `spiral: batch 20 windows of 10, dopri5 rtol ${RTOL.toExponential()}, adjoint, Adam`,
        new SpiralRun(rt, { rtol: RTOL, atol: ATOL, waitFree }),
        TORCHDIFFEQ[0].ms,
      ),
    );
  }
  for (const waitFree of [true, false]) {
    const circles = new CirclesRun(rt, { augment: 1, waitFree });
    const c = circles.config;
    runs.push(
      await timeLoop(
        rt,
        `augmented NODE, circles: D = ${2 + c.augment}, batch ${c.batch}, dopri5 rtol ${c.rtol.toExponential()}, adjoint, Adam`,
        circles,
        null,
      ),
    );
  }
  return runs;
}

function speedUp(r: TrainingRun, runs: readonly TrainingRun[]): string {
  const waiting = runs.find((x) => x.loop === r.loop && !x.waitFree);
  return waiting ? ratio(waiting.msPerIteration / r.msPerIteration) : '';
}

export function trainingTable(runs: readonly TrainingRun[]): Table {
  return {
    id: '4',
    title: 'Training: Trainer.step (forward solve, loss, adjoint solve, Adam update) of the demo experiments',
    columns: ['loop', 'iterations', 'iterations / s', 'per iteration', 'wait-free speed-up', 'iterations timed', 'nfe fwd / bwd (max, mean)', 'host waits / it', 'loss first → last', 'vs torchdiffeq'],
    rows: runs.map((r) => [
      r.loop,
      r.waitFree ? 'wait-free' : 'waiting',
      sig(r.itPerSec),
      ms(r.msPerIteration),
      r.waitFree ? speedUp(r, runs) : '',
      int(r.iterations),
      `${sig(r.forwardMaxNfe)} / ${sig(r.backwardMaxNfe)}`,
      sig(r.hostWaits),
      `${sig(r.lossFirst)} → ${sig(r.lossLast)}`,
      r.torchdiffeqMs === null ? '' : `${ratio(r.torchdiffeqMs / r.msPerIteration)} (${r.torchdiffeqMs} ms)`,
    ]),
    notes: [
      'wait-free speed-up: time per waiting iteration / time per wait-free iteration of the same loop, in this run (same initial state, same steps).',
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
