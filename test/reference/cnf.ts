/**
 * Float64 CPU reference of a continuous normalizing flow (FFJORD convention:
 * data at t0, base N(0, I) at t1), written independently of the kernels:
 * the MLP's Jacobian ∂f/∂z is formed analytically as a matrix product,
 * J = W_L · diag(σ'(u_{L−1})) · W_{L−1} · … · diag(σ'(u_1)) · W_1[:, :D]
 * (the z columns of the first layer only), and the augmented system
 *
 *   dz/dt = f,  dl/dt = tr J (or εᵀJε),  dk/dt = ‖f‖²,  dj/dt = ‖J‖²_F (or ‖Jε‖²)
 *
 * is integrated by the float64 dopri5 of ./solve.ts at rtol = atol = 1e-12.
 * log p(x) = log N(z(t1); 0, I) + l(t1).
 */
import { activate, activateGrad, linearWidths } from './mlp';
import { solveAccurate } from './solve';
import type { Activation } from '../../src/mlp/activations';

export interface RefMlp {
  /** Linear widths as `MLPOptions.layers` ([D (+1), H…, D]). */
  layers: readonly number[];
  activation: Activation;
  timeInput: boolean;
}

/** f(t, z) and its Jacobian ∂f/∂z (D×D, row-major rows) in float64. */
export function fieldAndJacobian(m: RefMlp, theta: ArrayLike<number>, t: number, z: readonly number[]): { f: number[]; J: number[][] } {
  const D = z.length;
  const w = m.layers;
  let x: number[] = m.timeInput ? [...z, t] : [...z];
  // dx/dz as a matrix [width][D]; the input's is [I; 0].
  let dx: number[][] = x.map((_, i) => Array.from({ length: D }, (_, k) => (i === k ? 1 : 0)));
  let off = 0;
  for (let l = 0; l + 1 < w.length; l++) {
    const nIn = w[l];
    const nOut = w[l + 1];
    const last = l + 2 === w.length;
    const bias = off + nIn * nOut;
    const y: number[] = [];
    const dy: number[][] = [];
    for (let o = 0; o < nOut; o++) {
      let u = theta[bias + o];
      const du = new Array<number>(D).fill(0);
      for (let i = 0; i < nIn; i++) {
        const W = theta[off + o * nIn + i];
        u += W * x[i];
        for (let k = 0; k < D; k++) du[k] += W * dx[i][k];
      }
      const g = last ? 1 : activateGrad(m.activation, u);
      y.push(last ? u : activate(m.activation, u));
      dy.push(du.map((v) => g * v));
    }
    x = y;
    dx = dy;
    off = bias + nOut;
  }
  return { f: x, J: dx };
}

export interface RefFlowOptions {
  t0: number;
  t1: number;
  /** ε of this sample (Hutchinson); absent: the exact trace. */
  eps?: readonly number[];
}

/** The augmented right-hand side [f, tr, ‖f‖², jacobian term] in float64. */
export function augmentedRhs(m: RefMlp, theta: ArrayLike<number>, D: number, eps?: readonly number[]) {
  return (t: number, s: readonly number[]): number[] => {
    const z = s.slice(0, D);
    const { f, J } = fieldAndJacobian(m, theta, t, z);
    let tr = 0;
    let jf = 0;
    if (eps) {
      const Je = J.map((row) => row.reduce((a, v, k) => a + v * eps[k], 0));
      tr = Je.reduce((a, v, d) => a + eps[d] * v, 0);
      jf = Je.reduce((a, v) => a + v * v, 0);
    } else {
      for (let d = 0; d < D; d++) tr += J[d][d];
      for (const row of J) for (const v of row) jf += v * v;
    }
    return [...f, tr, f.reduce((a, v) => a + v * v, 0), jf];
  };
}

export interface RefFlowResult {
  logp: number;
  z: number[];
  /** l(t1) = ∫ tr dt. */
  l: number;
  kinetic: number;
  jacobian: number;
}

/** log p(x) of one data point, z(t1), and the regularisers' integrals, in float64. */
export function refLogProb(m: RefMlp, theta: ArrayLike<number>, x: readonly number[], o: RefFlowOptions): RefFlowResult {
  const D = x.length;
  const [, end] = solveAccurate(augmentedRhs(m, theta, D, o.eps), [...x, 0, 0, 0], [o.t0, o.t1]);
  const z = end.slice(0, D);
  const logN = -0.5 * z.reduce((a, v) => a + v * v, 0) - 0.5 * D * Math.log(2 * Math.PI);
  return { logp: logN + end[D], z, l: end[D], kinetic: end[D + 1], jacobian: end[D + 2] };
}

export { linearWidths };

/**
 * The loss L = Σ_b c_b·logp_b + Σ_b (wk·kinetic_b + wj·jacobian_b) in float64,
 * and its gradient in θ and x by central differences (step h in every
 * entry; the reference solves at 1e-12, so the truncation h² dominates).
 */
export function refLoss(
  m: RefMlp,
  theta: ArrayLike<number>,
  x: readonly number[],
  D: number,
  c: readonly number[],
  w: { kinetic: number; jacobian: number },
  o: { t0: number; t1: number; noise?: readonly number[] },
): number {
  let L = 0;
  for (let b = 0; b < c.length; b++) {
    const r = refLogProb(m, theta, x.slice(b * D, b * D + D), { t0: o.t0, t1: o.t1, eps: o.noise?.slice(b * D, b * D + D) });
    L += c[b] * r.logp + w.kinetic * r.kinetic + w.jacobian * r.jacobian;
  }
  return L;
}

export function fdGradients(
  m: RefMlp,
  theta: readonly number[],
  x: readonly number[],
  D: number,
  c: readonly number[],
  w: { kinetic: number; jacobian: number },
  o: { t0: number; t1: number; noise?: readonly number[] },
  h = 1e-4,
): { params: number[]; x: number[] } {
  const fd = (v: readonly number[], set: (v2: number[]) => number) =>
    v.map((_, i) => {
      const a = [...v];
      const b = [...v];
      a[i] += h;
      b[i] -= h;
      return (set(a) - set(b)) / (2 * h);
    });
  return {
    params: fd(theta, (th) => refLoss(m, th, x, D, c, w, o)),
    x: fd(x, (xs) => refLoss(m, theta, xs, D, c, w, o)),
  };
}
