/**
 * Forward solves across network shapes and batch sizes: layers [2, 50, 2],
 * [4, 64, 64, 4] and [2, 512, 2] (each also with the time input), batches of
 * 1, 1,000 and 100,000 samples. A covering set, not the full cross product:
 * every shape meets B = 1 and B = 1,000, every batch size meets a fixed-step
 * and an adaptive method, both time directions and both time-input settings.
 * B = 100,000 runs only on the small network (on this 2-core CPU WebGPU a
 * [4, 64, 64, 4] solve of 10^5 samples takes over a minute); for it a seeded
 * subset of 100 samples, always with the first and the last, is checked
 * against the CPU reference, and every sample's status and output count.
 *
 * Tolerances (relative, `relError`):
 *  - FIXED_TOL = 5e-6 against `solveFixed` (same method, same grid, float64):
 *    round-off only. Per step a few u = 6e-8 from the stage sums and the grid
 *    times, plus the MLP's float32 dot products: a 512-term sum is off by
 *    ≈ √512·u ≈ 1.4e-6 of its terms' size at worst in practice (random-sign
 *    errors), diluted by the output layer's own sum; ≤ 10 steps here.
 *  - ADAPTIVE_TOL = 5e-5 against `solveAccurate` at rtol 1e-6, atol 1e-7: the
 *    global error of ≤ 30 steps each with local error ≤ atol + rtol·|y|
 *    ≈ 1e-6, amplified ≤ 1.5 by the flow (as in solve-methods.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { MethodName } from '../../src/methods/tableau';
import { TABLEAUX } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { makeProblem, relError } from './problems';
import { gather, solveOk, someSamples, useHarness } from './solve-helpers';

const FIXED_TOL = 5e-6;
const ADAPTIVE_TOL = 5e-5;
const STEP = 0.1;
/** Samples compared with the CPU reference at most. */
const CHECKED = 100;

const harness = useHarness();

const FORWARD = [0, 0.35, 0.8, 1];
const BACKWARD = [1, 0.55, 0];

interface Case {
  layers: number[];
  timeInput: boolean;
  B: number;
  method: MethodName;
  t: number[];
}

// [input, hidden…, output] as webode takes them: input = D + 1 with the time input.
const CASES: Case[] = [
  { layers: [2, 50, 2], timeInput: false, B: 1, method: 'tsit5', t: FORWARD },
  { layers: [3, 50, 2], timeInput: true, B: 1000, method: 'dopri5', t: BACKWARD },
  { layers: [2, 50, 2], timeInput: false, B: 100_000, method: 'dopri5', t: FORWARD },
  { layers: [3, 50, 2], timeInput: true, B: 100_000, method: 'rk4', t: BACKWARD },
  { layers: [4, 64, 64, 4], timeInput: false, B: 1, method: 'rk38', t: BACKWARD },
  { layers: [5, 64, 64, 4], timeInput: true, B: 1000, method: 'dopri5', t: FORWARD },
  { layers: [3, 512, 2], timeInput: true, B: 1, method: 'bosh3', t: FORWARD },
  { layers: [2, 512, 2], timeInput: false, B: 1000, method: 'tsit5', t: BACKWARD },
  { layers: [2, 512, 2], timeInput: false, B: 1000, method: 'midpoint', t: FORWARD },
];

describe('shapes and batch sizes', () => {
  for (const c of CASES) {
    const dir = c.t[1] > c.t[0] ? 'forward' : 'backward';
    it(`layers [${c.layers.join(', ')}], B = ${c.B}, ${c.method}, ${dir}`, async () => {
      const p = makeProblem({ layers: c.layers, timeInput: c.timeInput, B: c.B, seed: 11 });
      const adaptive = TABLEAUX[c.method].adaptive;
      const options = adaptive ? { method: c.method, rtol: 1e-6, atol: 1e-7 } : { method: c.method, stepSize: STEP };
      const started = Date.now();
      const { y, r } = await solveOk(harness(), p, c.t, options);
      const gpuMs = Date.now() - started;
      const s = r.stats!;
      expect(s.status.every((x) => x === 'done')).toBe(true);
      expect(s.outputsWritten.every((n) => n === c.t.length)).toBe(true);
      expect(s.status.length).toBe(c.B);
      const samples = someSamples(c.B, CHECKED);
      const { got, want } = gather(p, y, c.t, samples, (y0) =>
        adaptive ? solveAccurate(p.rhs, y0, c.t) : solveFixed(p.rhs, TABLEAUX[c.method], y0, c.t, STEP),
      );
      const err = relError(got, want);
      const tol = adaptive ? ADAPTIVE_TOL : FIXED_TOL;
      console.log(
        `[measure] shape [${c.layers.join(',')}] B=${c.B} ${c.method} ${dir}: rel err ${err.toExponential(2)} over ${samples.length} samples (tol ${tol}); ` +
          `solve ${r.ms.toFixed(0)} ms in the page, ${gpuMs} ms round trip; max nfe ${r.summary!.maxNfe}`,
      );
      expect(err).toBeLessThan(tol);
    });
  }
});
