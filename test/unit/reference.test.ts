/**
 * Checks of the float64 CPU reference (test/reference) that GPU tests compare against: analytic
 * solutions, expm, empirical convergence orders of solveFixed, decreasing-time solves, the grid
 * rule of solveFixed, and mlpForward against a hand-computed network.
 */

import { describe, expect, it } from 'vitest';
import { METHOD_NAMES, TABLEAUX, type MethodName } from '../../src/methods/tableau';
import { initParams, makeRng, mlpForward, mlpParamCount, activate, activateGrad } from '../reference/mlp';
import { ACTIVATIONS, ACTIVATION_TABLE } from '../../src/mlp/activations';
import { expm, solveAccurate, solveFixed, type Rhs } from '../reference/solve';

const maxAbsDiff = (x: readonly (readonly number[])[], y: readonly (readonly number[])[]): number =>
  Math.max(...x.flatMap((row, i) => row.map((v, d) => Math.abs(v - (y[i]?.[d] ?? NaN)))));

/** f(t, y) = A y. */
const linear =
  (A: readonly (readonly number[])[]): Rhs =>
  (_t, y) =>
    A.map((row) => row.reduce((acc, a, j) => acc + a * (y[j] ?? NaN), 0));

/** e^{A t} y0 for every t. */
const linearSolution = (A: readonly (readonly number[])[], y0: readonly number[], ts: readonly number[]): number[][] =>
  ts.map((t) => expm(A.map((row) => row.map((a) => a * t))).map((row) => row.reduce((acc, e, j) => acc + e * (y0[j] ?? NaN), 0)));

// Damped rotation: y(t) = e^{-αt} [[cos ωt, sin ωt], [−sin ωt, cos ωt]] y0.
const ALPHA = 0.1;
const OMEGA = 2;
const DAMPED_ROTATION = [
  [-ALPHA, OMEGA],
  [-OMEGA, -ALPHA],
];
const dampedRotationExact = (y0: readonly number[], t: number): number[] => {
  const e = Math.exp(-ALPHA * t);
  const [c, s] = [Math.cos(OMEGA * t), Math.sin(OMEGA * t)];
  const [a, b] = [y0[0] ?? NaN, y0[1] ?? NaN];
  return [e * (c * a + s * b), e * (-s * a + c * b)];
};

describe('expm', () => {
  it('matches the rotation matrix [[cos θ, sin θ], [−sin θ, cos θ]] (|err| ≤ 1e-14, needs scaling and squaring)', () => {
    for (const theta of [0.3, 3, 20]) {
      const E = expm([
        [0, theta],
        [-theta, 0],
      ]);
      const exact = [
        [Math.cos(theta), Math.sin(theta)],
        [-Math.sin(theta), Math.cos(theta)],
      ];
      // Squaring s ≈ log2(2θ) times amplifies round-off by about 2^s: allow 1e-14·max(1, θ).
      expect(maxAbsDiff(E, exact), `θ = ${theta}`).toBeLessThanOrEqual(1e-14 * Math.max(1, theta));
    }
  });

  it('is exact for diagonal and nilpotent matrices', () => {
    const D = expm([
      [1.5, 0],
      [0, -2],
    ]);
    expect(maxAbsDiff(D, [
      [Math.exp(1.5), 0],
      [0, Math.exp(-2)],
    ])).toBeLessThanOrEqual(1e-14);
    expect(expm([
      [0, 1],
      [0, 0],
    ])).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });

  it('matches the damped rotation e^{At} y0 in closed form (|err| ≤ 1e-13)', () => {
    const y0 = [1, 0.5];
    const ts = [0, 0.7, 3, 6];
    const viaExpm = linearSolution(DAMPED_ROTATION, y0, ts);
    expect(maxAbsDiff(viaExpm, ts.map((t) => dampedRotationExact(y0, t)))).toBeLessThanOrEqual(1e-13);
  });
});

describe('solveAccurate', () => {
  // Default tolerances 1e-12: the global error stays within ~1e-10 on these short spans.
  it('solves dy/dt = λy (|err| ≤ 1e-10·|y|)', () => {
    const lambda = -1.3;
    const ts = [0, 0.25, 1, 2.5];
    const out = solveAccurate((_t, y) => [lambda * (y[0] ?? NaN)], [2], ts);
    ts.forEach((t, i) => expect(Math.abs((out[i]?.[0] ?? NaN) - 2 * Math.exp(lambda * t))).toBeLessThanOrEqual(1e-10));
  });

  it('solves the damped rotation (|err| ≤ 1e-10)', () => {
    const y0 = [1, 0.5];
    const ts = [0, 0.7, 3, 6];
    const out = solveAccurate(linear(DAMPED_ROTATION), y0, ts);
    expect(maxAbsDiff(out, ts.map((t) => dampedRotationExact(y0, t)))).toBeLessThanOrEqual(1e-10);
  });

  it('solves a nonlinear non-autonomous problem y′ = −2t y², y = 1/(1+t²) (|err| ≤ 1e-10)', () => {
    const ts = [0, 0.5, 1, 3];
    const out = solveAccurate((t, y) => [-2 * t * (y[0] ?? NaN) ** 2], [1], ts);
    ts.forEach((t, i) => expect(Math.abs((out[i]?.[0] ?? NaN) - 1 / (1 + t * t))).toBeLessThanOrEqual(1e-10));
  });

  it('integrates backwards in time (decreasing ts)', () => {
    const y2 = dampedRotationExact([1, 0.5], 2);
    const ts = [2, 1.3, 0.4, 0];
    const out = solveAccurate(linear(DAMPED_ROTATION), y2, ts);
    expect(maxAbsDiff(out, ts.map((t) => dampedRotationExact([1, 0.5], t)))).toBeLessThanOrEqual(1e-10);
  });

  it('rejects non-monotone ts', () => {
    expect(() => solveAccurate((_t, y) => [...y], [1], [0, 1, 0.5])).toThrow(RangeError);
  });
});

describe('solveFixed', () => {
  const forcedVdp: Rhs = (t, y) => {
    const [u, v] = [y[0] ?? NaN, y[1] ?? NaN];
    return [v, 2 * (1 - u * u) * v - u + Math.sin(t)];
  };
  // Outputs off the grid too, so the dense output is part of the measured error. The observed order
  // at those points is min(p, denseOrder + 1) = p for every method here.
  const ts = [0, 0.37, 1.1, 2, 4, 6];
  const vdpY0 = [2, 0];
  const vdpTruth = solveAccurate(forcedVdp, vdpY0, ts, 1e-14, 1e-14);
  const rotY0 = [1, 0.5];
  const rotTruth = ts.map((t) => dampedRotationExact(rotY0, t));

  // h chosen inside the asymptotic range (measured): 5th-order methods approach 2^5 slowly on the
  // nonlinear problem (ratios ≈ 5.5–6 until round-off takes over), so they are measured on the linear one.
  const cases: Record<MethodName, { problem: 'vdp' | 'rotation'; h: number }> = {
    euler: { problem: 'vdp', h: 0.0125 },
    midpoint: { problem: 'vdp', h: 0.025 },
    rk4: { problem: 'vdp', h: 0.025 },
    rk38: { problem: 'vdp', h: 0.025 },
    bosh3: { problem: 'vdp', h: 0.025 },
    dopri5: { problem: 'rotation', h: 0.05 },
    tsit5: { problem: 'rotation', h: 0.025 },
  };

  for (const name of METHOD_NAMES) {
    const tab = TABLEAUX[name];
    const { problem, h } = cases[name];
    it(`${name}: error ratio when halving h is 2^${tab.order} (log2 within ±0.3) on ${problem}`, () => {
      const [f, y0, truth] = problem === 'vdp' ? [forcedVdp, vdpY0, vdpTruth] : [linear(DAMPED_ROTATION), rotY0, rotTruth];
      const e1 = maxAbsDiff(solveFixed(f, tab, y0, ts, h), truth);
      const e2 = maxAbsDiff(solveFixed(f, tab, y0, ts, h / 2), truth);
      // The truth (closed form ~1e-15; solveAccurate at 1e-14 ~1e-13) must be far more accurate than e2.
      expect(e2).toBeGreaterThan(problem === 'vdp' ? 1e-10 : 1e-12);
      expect(Math.abs(Math.log2(e1 / e2) - tab.order)).toBeLessThanOrEqual(0.3);
    });
  }

  it('integrates backwards in time (decreasing ts), rk4 and tsit5', () => {
    const y2 = dampedRotationExact(rotY0, 2);
    const back = [2, 1.3, 0.45, 0];
    const exact = back.map((t) => dampedRotationExact(rotY0, t));
    // Local error bounds: rk4 with h = 0.01 ~ 1e-9, tsit5 ~ 1e-12 over this span.
    expect(maxAbsDiff(solveFixed(linear(DAMPED_ROTATION), TABLEAUX.rk4, y2, back, 0.01), exact)).toBeLessThanOrEqual(1e-8);
    expect(maxAbsDiff(solveFixed(linear(DAMPED_ROTATION), TABLEAUX.tsit5, y2, back, -0.01), exact)).toBeLessThanOrEqual(1e-11);
  });

  it('is exact (to round-off) where the method and interpolant are: y′ = 3t² with rk4 and Hermite output', () => {
    // Simpson's rule integrates cubics exactly and the Hermite cubic reproduces y = t³.
    const out = solveFixed((t) => [3 * t * t], TABLEAUX.rk4, [0], [0, 0.123, 0.5, 0.77, 1.3], 0.2);
    [0, 0.123, 0.5, 0.77, 1.3].forEach((t, i) => expect(Math.abs((out[i]?.[0] ?? NaN) - t ** 3)).toBeLessThanOrEqual(1e-14));
  });

  it('uses the grid t0 + k·h and ends the last step exactly at t_end', () => {
    const count = (h: number, ts: number[]): { steps: number; out: number[][] } => {
      const times: number[] = [];
      const out = solveFixed(
        (t) => {
          times.push(t);
          return [1];
        },
        TABLEAUX.euler,
        [0],
        ts,
        h,
      );
      return { steps: times.length, out };
    };
    // 10·0.1 lands within 1e-4·h of 1: exactly 10 steps, not an 11th sliver.
    expect(count(0.1, [0, 1]).steps).toBe(10);
    // 0.3 · 3 = 0.9, then a short final step of 0.1.
    const short = count(0.3, [0, 1]);
    expect(short.steps).toBe(4);
    expect(short.out[1]?.[0]).toBeCloseTo(1, 15);
    // A step within 1e-4·h of t_end is stretched: 1.000005 (5e-6 past t_10) is reached in 10 steps.
    expect(count(0.1, [0, 1.000005]).steps).toBe(10);
    // Output at a grid point is the step result; between, the dense output (euler on y′ = 1 is exact).
    const mid = count(0.25, [0, 0.25, 0.6, 1]);
    expect(mid.out.map((r) => r[0])).toEqual([0, 0.25, expect.closeTo(0.6, 15), 1]);
    // Duplicate leading times return y0 again; a single time returns [y0].
    expect(count(0.1, [0, 0, 0.5]).out.map((r) => r[0])).toEqual([0, 0, expect.closeTo(0.5, 15)]);
    expect(count(0.1, [3]).out).toEqual([[0]]);
  });
});

describe('mlpForward', () => {
  // layers [1, 2, 1] with time input: the first Linear is 2 → 2 on x = [z, t].
  const params = [
    // W1 [2, 2] row-major, b1 [2]
    1, 2, -1, 0.5, 0.1, -0.2,
    // W2 [1, 2], b2 [1]
    0.3, -0.7, 0.05,
  ];
  const z = [0.5];
  const t = 2;
  // Pre-activations: h = W1 [0.5, 2] + b1 = [0.5 + 4 + 0.1, −0.5 + 1 − 0.2] = [4.6, 0.3].

  it('matches a hand-computed network (relu): 0.3·4.6 − 0.7·0.3 + 0.05 = 1.22', () => {
    expect(mlpParamCount([1, 2, 1], true)).toBe(params.length);
    const out = mlpForward([1, 2, 1], 'relu', true, params, t, z);
    expect(out).toBeInstanceOf(Float64Array);
    expect(out[0]).toBeCloseTo(1.22, 14);
  });

  it('matches a hand-computed network (tanh)', () => {
    const out = mlpForward([1, 2, 1], 'tanh', true, params, t, z);
    expect(out[0]).toBeCloseTo(0.3 * Math.tanh(4.6) - 0.7 * Math.tanh(0.3) + 0.05, 15);
  });

  it('without time input: x = z, weights [out, in] row-major', () => {
    // layers [2, 1]: f = W z + b with W = [[3, −1]], b = [0.5].
    expect(mlpForward([2, 1], 'tanh', false, [3, -1, 0.5], 99, [2, 1])[0]).toBe(5.5);
  });

  it('counts parameters in PyTorch nn.Linear layout', () => {
    // [2, 16, 16, 2] with time: (3·16 + 16) + (16·16 + 16) + (16·2 + 2) = 370.
    expect(mlpParamCount([2, 16, 16, 2], true)).toBe(370);
    expect(mlpParamCount([2, 16, 16, 2], false)).toBe(354);
  });

  it('rejects parameter and state vectors of the wrong length', () => {
    expect(() => mlpForward([1, 2, 1], 'relu', true, params.slice(1), t, z)).toThrow(RangeError);
    expect(() => mlpForward([1, 2, 1], 'relu', true, params, t, [1, 2])).toThrow(RangeError);
  });

  it('has activations that match their definitions and never overflow', () => {
    expect(activate('softplus', 0)).toBeCloseTo(Math.LN2, 15);
    expect(activate('softplus', 1000)).toBe(1000);
    expect(activate('softplus', -1000)).toBe(0);
    expect(activate('softplus', 1.5)).toBeCloseTo(Math.log(1 + Math.exp(1.5)), 15);
    expect(activate('sigmoid', -1000)).toBe(0);
    expect(activate('sigmoid', 1000)).toBe(1);
    expect(activate('sigmoid', 0.7)).toBeCloseTo(1 / (1 + Math.exp(-0.7)), 15);
    expect(activate('silu', -2)).toBeCloseTo(-2 / (1 + Math.exp(2)), 15);
    expect(activate('relu', -3)).toBe(0);
    expect(activate('identity', -3)).toBe(-3);
    expect(activate('elu', 2.5)).toBe(2.5);
    expect(activate('elu', -1e-9)).toBeCloseTo(-1e-9 + 5e-19, 24);
    expect(activate('elu', -2)).toBeCloseTo(Math.exp(-2) - 1, 15);
    expect(activate('elu', -1000)).toBe(-1);
  });

  // Central differences (f(x+ε) − f(x−ε)) / 2ε, ε = 1e-5: truncation ε²·|f'''|/6 ≲ 1e-10 for these
  // functions, round-off ≈ 1e-16·|f|/ε ≲ 1e-10 at |x| ≤ 6; 1e-8 leaves a wide margin, while a
  // wrong derivative (a missing factor, a sign) is off by O(0.01–1). Points keep 1e-3 from 0,
  // where relu's derivative jumps (and elu's second derivative).
  it('has derivatives (the table\'s df) that match central finite differences of σ', () => {
    const xs = [-6, -3.1, -1.7, -0.6, -0.013, 0.009, 0.4, 1.2, 2.9, 5.5];
    const eps = 1e-5;
    for (const act of ACTIVATIONS) {
      for (const x of xs) {
        const fd = (activate(act, x + eps) - activate(act, x - eps)) / (2 * eps);
        expect(Math.abs(activateGrad(act, x) - fd), `${act}'(${x})`).toBeLessThan(1e-8);
      }
    }
  });

  // σ'' (the table's d2f, which flows' gradients need) against central differences of σ' (the
  // table's df, checked above): the same step and margin.
  it("has second derivatives (the table's d2f) that match central finite differences of σ'", () => {
    const xs = [-6, -3.1, -1.7, -0.6, -0.013, 0.009, 0.4, 1.2, 2.9, 5.5];
    const eps = 1e-5;
    for (const act of ACTIVATIONS) {
      const e = ACTIVATION_TABLE[act];
      for (const x of xs) {
        const fd = (e.df(x + eps) - e.df(x - eps)) / (2 * eps);
        expect(Math.abs(e.d2f(x) - fd), `${act}''(${x})`).toBeLessThan(1e-8);
      }
    }
  });

  it("marks relu and elu alone as having a non-smooth σ'' (refused by flows)", () => {
    expect(ACTIVATIONS.filter((a) => !ACTIVATION_TABLE[a].smoothSecond)).toEqual(['relu', 'elu']);
  });

  it('marks relu alone as having a kink in its derivative (elu is C¹ at 0: both one-sided slopes are 1)', () => {
    expect(ACTIVATIONS.filter((a) => ACTIVATION_TABLE[a].kink)).toEqual(['relu']);
    expect(activateGrad('elu', 0)).toBe(1);
    expect(activateGrad('elu', 1e-12)).toBe(1);
  });
});

describe('initParams / makeRng', () => {
  it('is deterministic per seed and uniform in [0, 1)', () => {
    const a = makeRng(42);
    const b = makeRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(makeRng(43)()).not.toBe(makeRng(42)());
  });

  it('draws each layer from U(−1/√fan_in, 1/√fan_in) (fan_in = D + 1 for the first layer with time)', () => {
    const layers = [2, 16, 2];
    const p = initParams(layers, true, 7);
    expect(p).toHaveLength(mlpParamCount(layers, true));
    const first = p.subarray(0, 3 * 16 + 16);
    const second = p.subarray(3 * 16 + 16);
    const maxAbs = (v: Float64Array): number => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    expect(maxAbs(first)).toBeLessThanOrEqual(1 / Math.sqrt(3));
    expect(maxAbs(first)).toBeGreaterThan(0.8 / Math.sqrt(3));
    expect(maxAbs(second)).toBeLessThanOrEqual(1 / Math.sqrt(16));
    expect(maxAbs(second)).toBeGreaterThan(0.8 / Math.sqrt(16));
    expect(initParams(layers, true, 7)).toEqual(p);
  });
});
