/**
 * Gradients at the sizes the issue names (dopri5, rtol 1e-6, atol 1e-7):
 * layers [2, 50, 2], [4, 64, 64, 4] and [2, 512, 2] (B = 8; and B = 1 for
 * the two larger, which the workgroup kernel serves); a batch of 100,000; a
 * batch split into chunks by `memoryBudget`; and run-to-run determinism.
 *
 * References are finite differences of the float64 reference solve: dL/dy0
 * entry by entry (all samples, or a seeded subset of the large batch), dL/dθ
 * along seeded unit directions, one per Linear layer and one over all
 * parameters (adjoint-helpers.ts), compared as the vector of directional
 * derivatives. Tolerance GRAD_TOL = 1e-3 relative (norm-wise): the issue's
 * acceptance criterion; expected errors are ~1e-5 (solver, see
 * adjoint-methods.test.ts) plus float32 round-off, which grows with the width
 * of the sums (512-term dot products: ~√512·6e-8 ≈ 1e-6 per evaluation) and,
 * for dL/dθ, with the batch (a sum of B rows in float32, blocks of 256: ≲ 256·6e-8
 * ≈ 2e-5 of Σ|row| worst case, ~1e-6 typical).
 *
 * B = 100,000 with an affordable reference: the initial states repeat with
 * period K = 101 (y0_b = s_{b mod K}; 101 is prime, so the classes do not line
 * up with workgroups of 64 or reduction blocks of 256) while the cotangents
 * are independent per sample. L = Σ_b c_b·y(s_{b mod K}) = Σ_k C_k·y(s_k) with
 * C_k = Σ_{b ≡ k} c_b, so the reference needs K solves per loss, yet the GPU
 * reduces 100,000 distinct non-zero per-sample rows into dL/dθ.
 *
 * Chunked vs unsplit: every sample's solve is the same in both (it does not
 * depend on the batch), so dL/dy0 must be bit-identical; dL/dθ sums the same
 * float32 rows in another grouping (chunks of 300 then blocks, vs blocks of
 * 256), which changes the rounding only: CHUNK_TOL = 1e-5 relative, the
 * worst-case bound above with a margin for Σ|row| ≈ |Σ row| (rows of similar
 * samples have the same signs).
 */
import { describe, expect, it } from 'vitest';
import {
  batchLoss,
  cotangents,
  dot,
  fdDirectional,
  fdGradY0,
  gradientArgs,
  gradientOk,
  layerDirections,
  logError,
  rows,
  sampleLoss,
  y0Of,
} from './adjoint-helpers';
import { makeProblem, relError } from './problems';
import { allSamples, someSamples, useHarness } from './solve-helpers';
import { decode } from './wire';

const GRAD_TOL = 1e-3;
const CHUNK_TOL = 1e-5;
const OPTIONS = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;

const harness = useHarness();

describe('layer shapes', () => {
  // B = 8 runs the lane kernel where it fits (not [2, 512, 2]); B = 1 the workgroup kernel for the two larger MLPs.
  const SHAPES = [
    { layers: [2, 50, 2], seed: 41, batches: [8] },
    { layers: [4, 64, 64, 4], seed: 42, batches: [8, 1] },
    { layers: [2, 512, 2], seed: 43, batches: [8, 1] },
  ];
  const t = [0, 0.5, 1];
  for (const { layers, seed, batches } of SHAPES) {
    for (const B of batches) {
      it(`[${layers.join(', ')}], B = ${B}: dL/dy0 entry by entry, dL/dθ along one direction per layer and one overall`, async () => {
        const p = makeProblem({ layers, B, seed: B === 8 ? seed : seed + 50 });
        const c = cotangents(t.length, p.B, p.D, seed + 1);
        const { gy0, gth, r } = await gradientOk(harness(), p, t, OPTIONS, c);
        const dirs = layerDirections(layers, seed + 2);
        const fdY0 = fdGradY0(p, p.y0, t, c, allSamples(p.B));
        const fdDirs = dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, p.y0, t, c), p.params, v));
        const e = { gy0: relError(gy0, fdY0), gthDirectional: relError(dirs.map(({ v }) => dot(gth, v)), fdDirs) };
        logError(`[${layers.join(', ')}] B=${B} (nfe fwd ${r.forward.nfe}, bwd ${r.summary!.nfe})`, e);
        expect(e.gy0).toBeLessThan(GRAD_TOL);
        expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
      });
    }
  }
});

describe('large batches', () => {
  const LAYERS = [2, 50, 2];

  it('B = 100,000, [2, 50, 2]: dL/dy0 of 8 samples, dL/dθ along 3 directions', async () => {
    const B = 100_000;
    const K = 101;
    // One short segment keeps this, the costliest test of the suite, to ≈ 4 steps per sample.
    const t = [0, 0.3];
    const T = t.length;
    const p = makeProblem({ layers: LAYERS, B: K, seed: 44 });
    const y0 = new Float32Array(B * 2);
    for (let b = 0; b < B; b++) y0.set(p.y0.subarray((b % K) * 2, (b % K) * 2 + 2), b * 2);
    const c = cotangents(T, B, 2, 45);
    const big = { ...p, B, y0 };
    const { gy0, gth, r } = await gradientOk(harness(), big, t, OPTIONS, c);

    // Per-class cotangents C_k = Σ_{b ≡ k (mod K)} c_b, [T][K][D], in float64.
    const C = Array.from({ length: K }, () => Array.from({ length: T }, () => [0, 0]));
    for (let i = 0; i < T; i++) for (let b = 0; b < B; b++) for (let d = 0; d < 2; d++) C[b % K][i][d] += c[(i * B + b) * 2 + d];
    const loss = (q: Float64Array) => {
      const rhs = p.rhsWith(q);
      let L = 0;
      for (let k = 0; k < K; k++) L += sampleLoss(rhs, y0Of(p.y0, 2, k), t, C[k]);
      return L;
    };
    const dirs = layerDirections(LAYERS, 46);
    const fdDirs = dirs.map(({ v }) => fdDirectional(loss, p.params, v));
    const checked = someSamples(B, 8, 47);
    const fdY0 = fdGradY0(big, y0, t, c, checked);
    const e = { gy0: relError(rows(gy0, 2, checked), fdY0), gthDirectional: relError(dirs.map(({ v }) => dot(gth, v)), fdDirs) };
    logError(`[2, 50, 2] B=100000 (nfe fwd ${r.forward.nfe}, bwd ${r.summary!.nfe}, bwd ms ${Math.round(r.ms)}, chunks ${r.summary!.chunks})`, e);
    expect(e.gy0).toBeLessThan(GRAD_TOL);
    expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
  });

  it('B = 1,000 split into chunks of 300 by memoryBudget equals the unsplit run; the same backward twice is bit-identical', async () => {
    const p = makeProblem({ layers: LAYERS, B: 1000, seed: 48 });
    const P = p.params.length;
    const t = [0, 0.4, 1];
    const c = cotangents(t.length, p.B, 2, 49);
    // Per sample the lane kernel takes its Sample (48 B), a quarter of its invocation's
    // parameter row (P B) and [z, a] (16 B): chunks of 300 samples.
    const budget = { memoryBudget: 300 * (48 + P + 16) };
    const r = await harness().call('backwardRuns', {
      ...gradientArgs(p, t, OPTIONS, c),
      runs: [{}, {}, budget, budget],
    });
    expect(r.gpuErrors).toEqual([]);
    for (const run of r.runs) expect(run.error).toBeNull();
    const [whole, again, split, splitAgain] = r.runs.map((run) => ({
      gy0: decode(run.gy0!),
      gth: decode(run.gth!),
      summary: run.summary!,
    }));
    expect(whole.summary.chunks).toBe(1);
    expect(split.summary.chunks).toBe(4); // 300 + 300 + 300 + 100
    // Determinism: the same backward on the same solution, bit for bit.
    expect(Array.from(again.gth)).toEqual(Array.from(whole.gth));
    expect(Array.from(again.gy0)).toEqual(Array.from(whole.gy0));
    expect(Array.from(splitAgain.gth)).toEqual(Array.from(split.gth));
    // Chunking: per-sample results unchanged, the parameter sum regrouped.
    expect(Array.from(split.gy0)).toEqual(Array.from(whole.gy0));
    const e = relError(split.gth, whole.gth);
    logError('[2, 50, 2] B=1000 chunks of 300 vs unsplit', { gth: e });
    expect(e).toBeLessThan(CHUNK_TOL);
    // The chunks did the same work as the whole batch.
    expect(split.summary.nfe).toBe(whole.summary.nfe);
  });
});
