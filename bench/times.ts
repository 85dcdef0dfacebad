/**
 * Section 'times' (table 9): the cost of per-sample output times. The same
 * solve (spiral 2→50→2, dopri5, rtol 1e-6, atol 1e-7, 11 outputs on [0, 1])
 * with the times shared by the batch and given per sample (every row equal
 * to the shared times, so both take the same steps and write the same
 * outputs), interleaved round by round. Per-sample times run on the
 * one-sample kernel; the shared times are measured on it too (the like-for-
 * like ratio) and with the default kernel choice (the lane kernel from 64
 * samples), which per-sample times cannot use.
 */
import { type Runtime, odeint } from '../src/index';
import { ATOL, RTOL, SPIRAL, linspace, makeModel, modelY0 } from './solves';
import { type SectionResult, sig } from './table';
import { interleave, progress } from './timing';

const BATCHES = [256, 4096];

export async function timesSection(rt: Runtime): Promise<SectionResult> {
  const f = makeModel(rt, SPIRAL);
  const t = linspace(0, 1, 11);
  const rows: string[][] = [];
  const data: unknown[] = [];
  try {
    for (const B of BATCHES) {
      progress(`times: B = ${B}`);
      const y0 = modelY0(SPIRAL, B);
      const perSample = Array.from({ length: B }, () => t);
      const opts = { method: 'dopri5', rtol: RTOL, atol: ATOL } as const;
      const run = (times: number[] | number[][], kernel?: 'invocation') => async () => {
        const t0 = performance.now();
        const sol = await odeint(f, y0, times, kernel ? { ...opts, kernel } : opts);
        const ms = performance.now() - t0;
        sol.destroy();
        return ms;
      };
      // Warm-up: compile every pipeline first.
      for (const r of [run(t, 'invocation'), run(perSample), run(t)]) await r();
      const { samples, ratios } = await interleave([run(t, 'invocation'), run(perSample), run(t)], { repeats: 7, minRepeats: 3, budgetMs: 20_000 });
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const perOverShared = med(ratios[1]);
      const perOverDefault = med(ratios[1].map((r, i) => r / ratios[2][i]));
      rows.push([
        String(B),
        sig(samples[0].median),
        sig(samples[1].median),
        sig(perOverShared),
        sig(samples[2].median),
        sig(perOverDefault),
      ]);
      data.push({ batch: B, sharedInvocationMs: samples[0], perSampleMs: samples[1], sharedDefaultMs: samples[2], perOverShared, perOverDefault });
    }
  } finally {
    f.destroy();
  }
  return {
    tables: [
      {
        id: '9',
        title: 'Per-sample output times (every row equal to the shared times) against shared times',
        columns: ['B', 'shared, one-sample kernel (ms)', 'per-sample (ms)', 'per-sample / shared', 'shared, default kernel (ms)', 'per-sample / shared default'],
        rows,
        notes: [
          `${SPIRAL.name}, dopri5, rtol ${RTOL}, atol ${ATOL}, 11 outputs on [0, 1]; median wall time of odeint (one host wait each) over interleaved rounds after a warm-up; ratios are medians of per-round ratios.`,
          'A ratio above 1 means the shared-times path is the faster one. Per-sample times use the one-sample kernel; the default kernel for shared times is the lane kernel from 64 samples.',
        ],
      },
    ],
    data,
  };
}
