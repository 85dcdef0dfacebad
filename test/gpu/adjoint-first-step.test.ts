/**
 * The reverse solve's first step: without `firstStep`, each sample starts
 * from the step size its forward solve ended with (the seed kernel copies it
 * into the sample's state), not from the initial-step heuristic, which costs
 * two evaluations of the augmented system per sample. Checked through the
 * evaluation counts, whose every term is known per kernel: lanes and
 * workgroup evaluate all 7 dopri5 stages per attempt (the workgroup kernel
 * plus one evaluation at its start), the one-sample kernel 6 per attempt plus
 * one per segment it starts. Any heuristic evaluation would add 2 per sample.
 * With `firstStep` the option wins (the same counts hold, other steps).
 * Gradients of the seeded solves match central finite differences of the
 * float64 reference solve to GRAD_TOL (norm-wise).
 */
import { expect, it } from 'vitest';
import { batchLoss, cotangents, dot, fdDirectional, fdGradY0, gradientArgs, layerDirections, logError } from './adjoint-helpers';
import { makeProblem, relError } from './problems';
import { allSamples, useHarness } from './solve-helpers';
import { decode } from './wire';

const GRAD_TOL = 1e-3;

const harness = useHarness();

it('without firstStep the reverse solve starts from the forward solve\'s last step: no initial-step evaluations with any kernel, gradients match finite differences', async () => {
  const layers = [2, 16, 2];
  const p = makeProblem({ layers, B: 9, seed: 71 });
  const t = [0, 0.3, 0.6, 1];
  const T = t.length;
  const c = cotangents(T, p.B, p.D, 72);
  const options = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } as const;
  const kernels = ['lanes', 'invocation', 'workgroup'] as const;
  const r = await harness().call('backwardRuns', {
    ...gradientArgs(p, t, options, c),
    runs: [...kernels.map((kernel) => ({ kernel })), ...kernels.map((kernel) => ({ kernel, firstStep: 0.01 }))],
  });
  for (const run of r.runs) expect(run.error).toBeNull();
  const evals = (kernel: (typeof kernels)[number], s: { accepted: number; rejected: number }) => {
    const attempts = s.accepted + s.rejected;
    if (kernel === 'invocation') return 6 * attempts + p.B * (T - 1);
    return 7 * attempts + (kernel === 'workgroup' ? p.B : 0);
  };
  const fdY0 = fdGradY0(p, p.y0, t, c, allSamples(p.B));
  const dirs = layerDirections(layers, 73);
  const fdDirs = dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, p.y0, t, c), p.params, v));
  kernels.forEach((kernel, i) => {
    const seeded = r.runs[i].summary!;
    const given = r.runs[i + kernels.length].summary!;
    console.log(`[measure] ${kernel}: seeded ${JSON.stringify(seeded)}; firstStep 0.01 ${JSON.stringify(given)}`);
    expect(seeded.nfe, `${kernel}, seeded`).toBe(evals(kernel, seeded));
    expect(given.nfe, `${kernel}, firstStep 0.01`).toBe(evals(kernel, given));
    // The forward's last steps are far longer than 0.01: fewer reverse steps.
    expect(seeded.accepted, kernel).toBeLessThan(given.accepted);
    const gy0 = decode(r.runs[i].gy0!);
    const gth = decode(r.runs[i].gth!);
    const e = { gy0: relError(gy0, fdY0), gthDirectional: relError(dirs.map(({ v }) => dot(gth, v)), fdDirs) };
    logError(`${kernel}, seeded first step`, e);
    expect(e.gy0).toBeLessThan(GRAD_TOL);
    expect(e.gthDirectional).toBeLessThan(GRAD_TOL);
  });
});
