/**
 * The vector–Jacobian products of the adjoint kernel, for every activation
 * with the time input (and without it for tanh and ReLU: the time column is
 * emitted the same way whatever the activation): short backward solves
 * (bosh3, t from 0.3 to 0.5, so the time column of the first layer has
 * non-zero inputs) on small MLPs [3, 8, 2] / [2, 8, 2] (and [3, 6, 5, 2], two
 * hidden layers, for tanh and softplus: the hidden-to-hidden backward does
 * not depend on the activation, whose derivative the one-layer cases check),
 * B = 4, loss L = Σ c·y with random cotangents at
 * both output times, against central finite differences of the float64
 * reference loss; each with the three adjoint kernels, which have VJP code
 * of their own: four samples per invocation in vec4 lanes
 * (src/kernels/adjoint-lanes.ts), one sample per invocation
 * (src/kernels/vjp.ts) and one sample per workgroup
 * (src/kernels/adjoint-workgroup.ts).
 *
 * What is compared, and why:
 *  - dL/dθ: over a short span it is ∫ aᵀ∂f/∂θ dt, entirely the θ-VJP.
 *  - the VJP part of dL/dy0: dL/dy0 = c_0 + Φᵀ c_1 (Φ = ∂y(t1)/∂y0), and
 *    Φᵀc_1 − c_1 = ∫ aᵀ∂f/∂z dt is the z-VJP's contribution; comparing it alone
 *    (both sides minus c_0 + c_1) keeps the exact identity term from diluting
 *    an error in ∂f/∂z by a factor |c|/(span·|∂f/∂z|) ≈ 5.
 *
 * Tolerance VJP_TOL = 2e-4 relative (norm-wise, `relError`). Expected error:
 * the backward bosh3 solve at rtol 1e-6 keeps each step's local error in [z, a]
 * (|a| ≈ 1) below ~1e-6, ≈ 10 steps, so ≈ 1e-5 absolute on quantities of size
 * span·|∂f| ≈ 0.1–0.3, i.e. ≤ 1e-4 relative; float32 round-off (u = 6e-8 per
 * operation, 8-term dot products) adds ~1e-6 relative; the finite differences
 * are good to ~1e-6 (adjoint-helpers.ts). A wrong derivative of an activation,
 * a wrong weight offset or a missing time column changes these by O(1).
 *
 * ReLU (the table's only activation with `kink`): its derivative jumps at 0, where finite differences of a trajectory
 * that crosses the kink are only first-order accurate. The ReLU samples are
 * chosen (seeded) so that every hidden pre-activation stays at least 0.05 from
 * 0 along the reference trajectory (checked at 41 points of the 0.2 span, over
 * which u moves by < 0.01 between points), so the loss is smooth in y0 and θ
 * around the test point and the same tolerance applies.
 */
import { expect, it } from 'vitest';
import { ACTIVATIONS, ACTIVATION_TABLE } from '../../src/mlp/activations';
import { makeRng } from '../reference/mlp';
import { solveAccurate } from '../reference/solve';
import { cotangents, fdGradTheta, fdGradY0, gradientOk, logError, sampleCotangents } from './adjoint-helpers';
import { type MlpProblem, type Problem, makeProblem, relError } from './problems';
import { allSamples, useHarness } from './solve-helpers';

const VJP_TOL = 2e-4;
const KINK_MARGIN = 0.05;
const T_OUT = [0.3, 0.5];
const OPTIONS = { method: 'bosh3', rtol: 1e-6, atol: 1e-7 } as const;
const B = 4;

const harness = useHarness();

/** min over hidden units and over the reference trajectory of |pre-activation| (one hidden layer). */
function kinkDistance(p: Problem, y0: number[]): number {
  const [nIn, H] = p.mlp.layers;
  const ts = Array.from({ length: 41 }, (_, k) => T_OUT[0] + (k / 40) * (T_OUT[1] - T_OUT[0]));
  const ys = solveAccurate(p.rhs, y0, ts, 1e-10, 1e-10);
  let m = Infinity;
  ys.forEach((z, k) => {
    const x = p.mlp.timeInput ? [...z, ts[k]] : z;
    for (let o = 0; o < H; o++) {
      let u = p.params[nIn * H + o];
      for (let i = 0; i < nIn; i++) u += p.params[o * nIn + i] * x[i];
      m = Math.min(m, Math.abs(u));
    }
  });
  return m;
}

/** B seeded initial states in [−2, 2]^D whose trajectories keep away from every ReLU kink. */
function awayFromKinks(p: Problem, seed: number): Float32Array {
  const rng = makeRng(seed);
  const out: number[] = [];
  for (let tries = 0; out.length < B * p.D; tries++) {
    if (tries > 2000) throw new Error('no initial state away from the ReLU kinks found');
    const y0 = Array.from({ length: p.D }, () => Math.fround(4 * rng() - 2));
    if (kinkDistance(p, y0) >= KINK_MARGIN) out.push(...y0);
  }
  return Float32Array.from(out);
}

/** dL/dy0, its z-VJP part and dL/dθ of each adjoint kernel against finite differences. */
async function checkKernels(p: MlpProblem, y0: Float32Array, seed: number, label: string): Promise<void> {
  const c = cotangents(T_OUT.length, B, p.D, seed + 100);
  // The z-VJP part of dL/dy0: both sides minus the identity term c_0 + c_1.
  const identity = allSamples(B).flatMap((b) => {
    const cb = sampleCotangents(c, T_OUT.length, B, p.D, b);
    return cb[0].map((x, d) => x + cb[1][d]);
  });
  const fdY0 = fdGradY0(p, y0, T_OUT, c, allSamples(B));
  const partFd = fdY0.map((g, k) => g - identity[k]);
  const fdTh = fdGradTheta(p, y0, T_OUT, c);
  for (const kernel of ['lanes', 'invocation', 'workgroup'] as const) {
    const { gy0, gth } = await gradientOk(harness(), p, T_OUT, OPTIONS, c, { y0, backward: { kernel } });
    const partGpu = Array.from(gy0, (g, k) => g - identity[k]);
    const e = { gy0: relError(gy0, fdY0), vjpZ: relError(partGpu, partFd), gth: relError(gth, fdTh) };
    logError(`vjp ${label}, kernel ${kernel}`, e);
    expect(e.vjpZ).toBeLessThan(VJP_TOL);
    expect(e.gy0).toBeLessThan(VJP_TOL);
    expect(e.gth).toBeLessThan(VJP_TOL);
  }
}

/** The activations checked without the time input as well: one smooth, one with a kink. */
const WITHOUT_TIME = ['tanh', 'relu'];

for (const activation of ACTIVATIONS) {
  for (const timeInput of WITHOUT_TIME.includes(activation) ? [false, true] : [true]) {
    it(`${activation}, timeInput ${timeInput}: dL/dy0 and dL/dθ match finite differences, with each adjoint kernel (lanes, one sample per invocation, one per workgroup)`, async () => {
      const seed = 20 + ACTIVATIONS.indexOf(activation) * 2 + (timeInput ? 1 : 0);
      const p = makeProblem({ layers: timeInput ? [3, 8, 2] : [2, 8, 2], activation, timeInput, B, seed, y0Scale: 2 });
      await checkKernels(p, ACTIVATION_TABLE[activation].kink ? awayFromKinks(p, seed) : p.y0, seed, `${activation} timeInput ${timeInput}`);
    });
  }
}

// Two hidden layers wider than 4 ([3, 6, 5, 2] with the time input): the
// hidden-to-hidden backward of each kernel (the lane kernel sums each input's
// cotangent over the outputs), for two activations without a kink (the
// table's `kink` flag): one odd and bounded, one neither.
for (const activation of ['tanh', 'softplus'] as const) {
  it(`two hidden layers, ${activation}, timeInput true: dL/dy0 and dL/dθ match finite differences, with each adjoint kernel`, async () => {
    const seed = 40 + ACTIVATIONS.indexOf(activation);
    const p = makeProblem({ layers: [3, 6, 5, 2], activation, timeInput: true, B, seed, y0Scale: 2 });
    await checkKernels(p, p.y0, seed, `${activation} [3, 6, 5, 2]`);
  });
}
