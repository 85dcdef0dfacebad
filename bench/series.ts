/**
 * Table 10: the recurrent cells (src/series/cells.ts) over a sequence: a GRU
 * and a tanh RNN with H = 25 hidden units, T = 100 steps, a batch of 64
 * samples and I = 2 inputs (a planar series), one forward over the whole
 * sequence and one backpropagation through time from dL/dh at every step
 * (dL/dθ, dL/dx, dL/dh0). Each run is timed with performance.now() from the
 * call to one `onSubmittedWorkDone` after it (the forward and the backward
 * themselves never wait), the tensors freed after the timed part.
 */
import { GRUCell, RNNCell, type Runtime, Tensor, mulberry32 } from '../src/index';
import type { Limits } from './limits';
import { type SectionResult, type Table, int, ms } from './table';
import { type Sample, gpuIdle, progress, repeat } from './timing';

const H = 25;
const T = 100;
const B = 64;
const I = 2;

export interface SeriesRun {
  readonly cell: 'gru' | 'rnn';
  readonly parameters: number;
  readonly forward: Sample;
  readonly backward: Sample;
  /** Host waits and dispatches of one forward + backward (before any read). */
  readonly hostWaits: number;
  readonly dispatches: number;
}

async function measure(rt: Runtime, kind: 'gru' | 'rnn'): Promise<SeriesRun> {
  progress(`series: ${kind} H=${H} T=${T} B=${B}`);
  const cell = kind === 'gru' ? new GRUCell(rt, { inputSize: I, hiddenSize: H, seed: 1 }) : new RNNCell(rt, { inputSize: I, hiddenSize: H, seed: 1 });
  const rng = mulberry32(2);
  const x = Tensor.fromArray(rt, Float32Array.from({ length: T * B * I }, () => 2 * rng() - 1), [T, B, I], 'bench series x');
  const gh = Tensor.fromArray(rt, Float32Array.from({ length: T * B * H }, () => 2 * rng() - 1), [T, B, H], 'bench series dL/dh');
  try {
    const forward = await repeat(async () => {
      const t0 = performance.now();
      const seq = cell.forward({ x, steps: T, batch: B });
      await gpuIdle(rt.device);
      const dt = performance.now() - t0;
      seq.destroy();
      return dt;
    });
    const seq = cell.forward({ x, steps: T, batch: B });
    await gpuIdle(rt.device);
    const backward = await repeat(async () => {
      const t0 = performance.now();
      const g = cell.backward(seq, { gradHidden: gh });
      await gpuIdle(rt.device);
      const dt = performance.now() - t0;
      g.destroy();
      return dt;
    });
    const waits0 = rt.counters.hostWaits;
    const dispatches0 = rt.counters.dispatches;
    const s2 = cell.forward({ x, steps: T, batch: B });
    const g2 = cell.backward(s2, { gradHidden: gh });
    const hostWaits = rt.counters.hostWaits - waits0;
    const dispatches = rt.counters.dispatches - dispatches0;
    await gpuIdle(rt.device);
    g2.destroy();
    s2.destroy();
    seq.destroy();
    return { cell: kind, parameters: cell.parameterCount, forward, backward, hostWaits, dispatches };
  } finally {
    x.destroy();
    gh.destroy();
    cell.destroy();
  }
}

export function seriesTable(runs: readonly SeriesRun[]): Table {
  return {
    id: '10',
    title: `Recurrent cells over a sequence (H = ${H}, T = ${T}, B = ${B}, I = ${I})`,
    columns: ['cell', 'parameters', 'forward', 'BPTT', 'host waits', 'dispatches'],
    rows: runs.map((r) => [r.cell.toUpperCase(), int(r.parameters), ms(r.forward.median), ms(r.backward.median), int(r.hostWaits), int(r.dispatches)]),
    notes: [
      'forward: every hidden state [T][B][H]; BPTT: dL/dθ, dL/dx, dL/dh0 from dL/dh at every step; medians, each run ending in one onSubmittedWorkDone.',
      'host waits and dispatches: one forward + one backward, counted by the runtime before any read.',
    ],
  };
}

export async function seriesSection(rt: Runtime, _limits: Limits): Promise<SectionResult> {
  const runs = [await measure(rt, 'gru'), await measure(rt, 'rnn')];
  return { data: { runs }, tables: [seriesTable(runs)] };
}
