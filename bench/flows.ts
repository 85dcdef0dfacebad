/**
 * Table 9 (opt-in: `node bench/run.mjs flows`): continuous normalizing flows,
 * `flow.logProb` + `r.backward` per second (a training iteration's solves,
 * without the optimizer), for MLPs [D + 1, 64, 64, D] tanh with the time
 * input, t ∈ [0, 0.5], dopri5 at rtol = atol = 1e-5:
 *  - D = 2 at batches 512 and 4,096, exact trace and Hutchinson's;
 *  - exact against Hutchinson at D = 2, 8, 32 (batch 512): the exact trace
 *    costs D forward-mode sweeps per evaluation (2D + 2 passes in reverse),
 *    Hutchinson's one.
 * Each configuration: one warm-up pair (pipeline compilation), then pairs
 * within a 4 s budget (at least 2), each ending in its reads of log p and
 * dL/dθ; the median is reported. Data points are standard normal (seeded).
 */
import { CNF, MLP, type Runtime, drawNoise } from '../src/index';
import type { Limits } from './limits';
import { type SectionResult, int, ms, sig } from './table';
import { progress, repeat } from './timing';

const OPTS = { method: 'dopri5', rtol: 1e-5, atol: 1e-5 } as const;

interface FlowRun {
  readonly D: number;
  readonly batch: number;
  readonly trace: 'exact' | 'hutchinson';
  readonly msPerPair: number;
  readonly pairsPerSec: number;
  readonly forwardMaxNfe: number;
  readonly backwardMaxNfe: number;
  readonly repeats: number;
}

async function measure(rt: Runtime, D: number, batch: number, trace: 'exact' | 'hutchinson'): Promise<FlowRun> {
  const f = new MLP(rt, { layers: [D + 1, 64, 64, D], activation: 'tanh', timeInput: true, seed: 1 });
  const flow = new CNF(f, { t0: 0, t1: 0.5, trace });
  const x = drawNoise(batch * D, 7, 'gaussian');
  const dl = new Float32Array(batch).fill(-1 / batch);
  let fwdNfe = 0;
  let bwdNfe = 0;
  try {
    const once = async () => {
      const t0 = performance.now();
      const r = await flow.logProb(x, OPTS);
      const g = await r.backward(dl);
      await g.params.read();
      const elapsed = performance.now() - t0;
      fwdNfe = r.summary.maxNfe;
      bwdNfe = g.summary.maxNfe;
      g.destroy();
      r.destroy();
      return elapsed;
    };
    const s = await repeat(once, { warmup: 1, repeats: 5, budgetMs: 4_000, minRepeats: 2 });
    return { D, batch, trace, msPerPair: s.median, pairsPerSec: 1000 / s.median, forwardMaxNfe: fwdNfe, backwardMaxNfe: bwdNfe, repeats: s.runs };
  } finally {
    f.destroy();
  }
}

export async function flowsSection(rt: Runtime, _limits: Limits): Promise<SectionResult> {
  const configs: [number, number, 'exact' | 'hutchinson'][] = [
    [2, 512, 'exact'],
    [2, 512, 'hutchinson'],
    [2, 4096, 'exact'],
    [2, 4096, 'hutchinson'],
    [8, 512, 'exact'],
    [8, 512, 'hutchinson'],
    [32, 512, 'exact'],
    [32, 512, 'hutchinson'],
  ];
  const runs: FlowRun[] = [];
  for (const [D, B, trace] of configs) {
    progress(`flows: D = ${D}, B = ${B}, ${trace}`);
    runs.push(await measure(rt, D, B, trace));
  }
  return {
    tables: [
      {
        id: '11',
        title: 'Continuous normalizing flows: logProb + backward per second ([D+1, 64, 64, D] tanh, t ∈ [0, 0.5], dopri5 1e-5)',
        columns: ['D', 'batch', 'trace', 'ms per logProb + backward', 'per second', 'forward max nfe', 'backward max nfe', 'repeats'],
        rows: runs.map((r) => [String(r.D), int(r.batch), r.trace, ms(r.msPerPair), sig(r.pairsPerSec), int(r.forwardMaxNfe), int(r.backwardMaxNfe), String(r.repeats)]),
        notes: [
          'Median over the timed pairs after one warm-up pair; each pair ends in reading dL/dθ (one host wait per solve).',
          'Exact trace: D forward-mode sweeps per evaluation of the augmented field (2D + 2 MLP passes per reverse evaluation); Hutchinson: one (Rademacher ε drawn per call).',
        ],
      },
    ],
    data: runs,
  };
}
