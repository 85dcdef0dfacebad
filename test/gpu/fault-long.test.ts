/**
 * Long solves: 100,000 fixed steps are cut into bounded dispatches (browser
 * GPU watchdogs kill dispatches that run for seconds; a CPU adapter's
 * bound is 16 times longer, its dispatches holding no display), cost only
 * O(log N) host waits, and end at the right answer.
 *
 * Problem: z' = W z with W a slowly decaying rotation (a [2, 2] identity MLP
 * with weight W, zero bias), B = 4, rk4 with h = 1e-5 on [0, 1]. rk4's
 * truncation error (≈ h⁴/120 per unit time ≈ 1e-22) is nothing next to
 * float32 round-off, so the test measures the round-off of 100,000 steps
 * against the exact solution expm(W t) z0. Each step adds a correction of
 * relative size |h·f|/|z| ≈ 1e-5 to z and rounds the sum to float32 (unit
 * round-off u = 6e-8 relative to |z|), so the error after N steps is a sum of
 * N roundings: ≈ √N·u ≈ 2e-5 if they were independent, at most N·u = 6e-3
 * if every rounding went the same way — which a slowly turning trajectory
 * approaches, since its increment, and so its rounding, hardly changes from
 * one step to the next. Measured on SwiftShader: 1.4e-5 for the linear field
 * (a rotation: decorrelated roundings) and 1.35e-4 for a small tanh MLP
 * ([2, 16, 2], compared with the float64 reference solver). LONG_TOL = 1e-3
 * lies between those and the worst case; a step lost or repeated anywhere,
 * a chunk skipped or a wrong time grid would be caught by the exact step
 * counts checked as well.
 */
import { describe, expect, it } from 'vitest';
import type { MLPOptions } from '../../src/index';
import { solveAccurate } from '../reference/solve';
import type { WebodeTestHandle } from './harness';
import { makeProblem, relError, sampleY0 } from './problems';
import { linearExact, useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();
const LONG_TOL = 1e-3;

const W = [
  [-0.1, 1],
  [-1, -0.1],
];
const Y0 = [1, 0, 0, 1, 0.5, -0.5, 2, 1];
const B = 4;

/** Runs `odeint(rk4, h = 1e-5)` on its own runtime, in error scopes; returns the outputs and the counts. */
async function longSolve(args: { mlp: MLPOptions; params: number[]; y0: number[]; t: number[] }) {
  return harness().page.evaluate(async (a) => {
    const { webode, calls } = webodeTest;
    const uncaptured: string[] = [];
    const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
    try {
      return await webodeTest.errorScopes(rt.device, async () => {
        const f = new webode.MLP(rt, a.mlp);
        f.setParameters(a.params);
        const maps0 = calls.mapAsync;
        const t0 = performance.now();
        const sol = await webode.odeint(f, a.y0, a.t, { method: 'rk4', stepSize: 1e-5 });
        const ms = performance.now() - t0;
        const mapAsync = calls.mapAsync - maps0;
        const y = Array.from(await sol.y.read());
        const stats = await sol.stats();
        const out = {
          ms,
          mapAsync,
          y,
          summary: sol.summary,
          stepsPerDispatch: sol.options.stepsPerDispatch,
          growth: sol.options.dispatchGrowth,
          adapter: rt.adapterKind,
          accepted: Array.from(stats.accepted),
          status: [...stats.status],
          uncaptured,
        };
        sol.destroy();
        f.destroy();
        return out;
      });
    } finally {
      rt.destroy();
    }
  }, args);
}

const N = 100_000;
const t = [0, 0.25, 0.5, 0.75, 1];

/** Checks a 100,000-step solve against `want` ([T][B][D]) and its dispatch and wait counts. */
function checkLong(name: string, r: Awaited<ReturnType<typeof longSolve>>, want: number[]): void {
  const { value: v, gpuErrors } = r;
  expect(gpuErrors).toEqual([]);
  expect(v.uncaptured).toEqual([]);
  expect(v.status).toEqual(new Array(B).fill('done'));
  // The grid t0 + k·h: 100,000 steps (a last step shorter than 1e-4·h would be merged).
  for (const a of v.accepted) expect(Math.abs(a - N)).toBeLessThanOrEqual(1);
  const err = relError(v.y, want);
  // Every dispatch of the solve (solver, probes, summaries) counted.
  const dispatches = v.summary.dispatches;
  console.log(
    `[measure] long solve, ${name}: ${N} rk4 steps × B=${B} in ${(v.ms / 1000).toFixed(2)} s; rel error ${err.toExponential(2)}; ` +
      `stepsPerDispatch ${v.stepsPerDispatch}, dispatches ${v.summary.dispatches}, submits ${v.summary.submits}, ` +
      `host waits ${v.summary.hostWaits} (mapAsync counted ${v.mapAsync})`,
  );
  expect(err).toBeLessThan(LONG_TOL);
  // Bounded dispatches: the automatic stepsPerDispatch (≤ 256 steps per sample), grown at most
  // 16-fold on a GPU (DISPATCH_GROWTH), 256-fold on a CPU adapter (DISPATCH_GROWTH_CPU).
  expect(v.growth).toBe(v.adapter === 'cpu' ? 256 : 16);
  expect(v.stepsPerDispatch).toBeGreaterThanOrEqual(1);
  expect(v.stepsPerDispatch).toBeLessThanOrEqual(256);
  expect(dispatches * v.growth * v.stepsPerDispatch).toBeGreaterThanOrEqual(N);
  // O(log N) host waits: rounds of dispatches of growth × 256 steps each, first the fewest allowing
  // 10,000 steps (3 on a GPU, 1 on a CPU adapter), then 16, 32, …: 3 waits at most on a GPU, 2 on a CPU adapter.
  expect(v.summary.hostWaits).toBeLessThanOrEqual(4);
  expect(v.mapAsync).toBe(v.summary.hostWaits);
}

describe('long solves', () => {
  it('linear field, rk4, 100,000 steps of 1e-5 on [0, 1], B = 4: exact answer, short dispatches, few host waits', async () => {
    const r = await longSolve({ mlp: { layers: [2, 2], activation: 'identity' }, params: [W[0][0], W[0][1], W[1][0], W[1][1], 0, 0], y0: Y0, t });
    const W32 = W.map((row) => row.map(Math.fround));
    const perSample = Array.from({ length: B }, (_, b) => linearExact(W32, [Y0[2 * b], Y0[2 * b + 1]], t));
    checkLong('linear', r, t.flatMap((_, i) => perSample.flatMap((rows) => rows[i])));
  });

  it('tanh MLP [2, 16, 2], rk4, 100,000 steps of 1e-5 on [0, 1], B = 4: the float64 reference', async () => {
    const p = makeProblem({ layers: [2, 16, 2], B, seed: 31 });
    const r = await longSolve({ mlp: p.mlp, params: Array.from(p.params), y0: Array.from(p.y0), t });
    const perSample = Array.from({ length: B }, (_, b) => solveAccurate(p.rhs, sampleY0(p, b), t));
    checkLong('tanh MLP', r, t.flatMap((_, i) => perSample.flatMap((rows) => rows[i])));
  });
});
