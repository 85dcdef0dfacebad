/**
 * The gradient a training iteration computes, through the whole chain on the
 * GPU — forward solve → [Linear readout] → loss → cotangent buffer → adjoint
 * solve — against central finite differences of the same loss computed in
 * float64 on the CPU (the solve by the accurate dopri5 reference, the readout
 * and the losses by the formulas of test/gpu/train-reference.ts).
 *
 * The iteration runs with SGD at lr = 0, so the parameters stay put and the
 * optimizer's gradient tensors hold dL/dθ of the vector field and of the
 * readout. Tolerance 1e-3 norm-wise relative: the adjoint solve runs at
 * rtol 1e-6 / atol 1e-7 in float32 (its error against the exact gradient is
 * ~1e-5 here), the finite differences at h = 1e-5 in float64 carry ~1e-8;
 * a wrong sign, scale, offset or row shows up at 1e-1 or more.
 */
import { expect, it } from 'vitest';
import { makeRng } from '../reference/mlp';
import { solveAccurate } from '../reference/solve';
import { makeProblem } from './problems';
import { useHarness } from './solve-helpers';
import { crossEntropyRef, linearRef, mseRef, relErr } from './train-reference';
import { decode, encodeF32 } from './wire';

const harness = useHarness();
const SOLVER = { method: 'dopri5' as const, rtol: 1e-6, atol: 1e-7 };

/** Central differences of `loss` in every coordinate of `x`. */
function fd(loss: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const g = new Float64Array(x0.length);
  for (let k = 0; k < x0.length; k++) {
    const a = Float64Array.from(x0);
    const b = Float64Array.from(x0);
    a[k] += h;
    b[k] -= h;
    g[k] = (loss(a) - loss(b)) / (2 * h);
  }
  return g;
}

it('ODE block → Linear → cross-entropy: dL/dθ of the field and of the readout match finite differences', async () => {
  const h = harness();
  const p = makeProblem({ layers: [3, 12, 3], B: 6, seed: 5, y0Scale: 1.5 });
  const C = 2;
  const rng = makeRng(8);
  const lin = Float32Array.from({ length: C * 3 + C }, () => 2 * rng() - 1);
  const labels = Float32Array.from({ length: p.B }, () => (rng() < 0.5 ? 0 : 1));
  const t = [0, 0.5, 1];
  const r = await h.call('trainChain', {
    mlp: p.mlp,
    mlpParams: encodeF32(p.params),
    readout: { outFeatures: C, params: encodeF32(lin) },
    y0: encodeF32(p.y0),
    target: encodeF32(labels),
    t,
    solver: SOLVER,
    loss: 'cross-entropy',
  });
  expect(r.gpuErrors).toEqual([]);
  expect(Array.from(decode(r.paramsAfter))).toEqual(Array.from(p.params));
  const finals = (theta: ArrayLike<number>) => {
    const rhs = p.rhsWith(theta);
    const out: number[] = [];
    for (let b = 0; b < p.B; b++) out.push(...solveAccurate(rhs, Array.from(p.y0.subarray(b * 3, b * 3 + 3)), t)[t.length - 1]);
    return out;
  };
  const yT = finals(p.params);
  const lossOf = (theta: ArrayLike<number>, w: ArrayLike<number>, y: number[]) => crossEntropyRef(linearRef(w, y, 3, C), labels, C).value;
  const L0 = lossOf(p.params, lin, yT);
  const gReadout = fd((w) => lossOf(p.params, w, yT), lin);
  const gField = fd((th) => lossOf(th, lin, finals(th)), p.params);
  const eR = relErr(decode(r.gr!), gReadout);
  const eF = relErr(decode(r.gf), gField);
  console.log('loss', r.loss, L0, 'readout grad rel err', eR, 'field grad rel err', eF);
  expect(Math.abs((r.loss ?? NaN) - L0) / L0).toBeLessThan(1e-4);
  expect(eR).toBeLessThan(1e-3);
  expect(eF).toBeLessThan(1e-3);
});

it('ODE block → MSE on every output row (the spiral setup): dL/dθ matches finite differences', async () => {
  const h = harness();
  const p = makeProblem({ layers: [2, 16, 2], B: 5, seed: 6 });
  const t = [0, 0.1, 0.25, 0.4];
  const T = t.length;
  const rng = makeRng(9);
  const target = Float32Array.from({ length: T * p.B * 2 }, () => 2 * rng() - 1);
  const r = await h.call('trainChain', {
    mlp: p.mlp,
    mlpParams: encodeF32(p.params),
    readout: null,
    y0: encodeF32(p.y0),
    target: encodeF32(target),
    t,
    solver: SOLVER,
    loss: 'mse',
  });
  expect(r.gpuErrors).toEqual([]);
  const lossOf = (theta: ArrayLike<number>) => {
    const rhs = p.rhsWith(theta);
    const y = new Float64Array(T * p.B * 2);
    for (let b = 0; b < p.B; b++) {
      const ys = solveAccurate(rhs, Array.from(p.y0.subarray(b * 2, b * 2 + 2)), t);
      for (let i = 0; i < T; i++) for (let d = 0; d < 2; d++) y[(i * p.B + b) * 2 + d] = ys[i][d];
    }
    return mseRef(y, target).value;
  };
  const g = fd(lossOf, p.params);
  const e = relErr(decode(r.gf), g);
  console.log('loss', r.loss, lossOf(p.params), 'field grad rel err', e);
  expect(e).toBeLessThan(1e-3);
});
