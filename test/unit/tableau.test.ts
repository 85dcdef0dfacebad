/**
 * Butcher tableaux proven by their order conditions: every rooted tree up to order p (generated,
 * not typed), the embedded weights to errorOrder − 1, the dense output to denseOrder at several θ,
 * plus the validation errors of defineTableau and cross-checks of the tsit5 coefficients.
 */

import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import {
  defineTableau,
  getTableau,
  METHOD_NAMES,
  TABLEAUX,
  TableauError,
  UnknownMethodError,
  type Tableau,
  type TableauSpec,
} from '../../src/methods/tableau';

// ---------------------------------------------------------------------------------------------
// Rooted trees and elementary weights (Butcher; Hairer, Nørsett & Wanner, Solving ODEs I, §II.2).

interface Tree {
  readonly children: readonly Tree[];
  /** Canonical form: "[" + sorted child keys + "]"; equal trees have equal keys. */
  readonly key: string;
  /** ρ(t): number of vertices. */
  readonly order: number;
  /** γ(t) = ρ(t) Π γ(children). */
  readonly gamma: number;
}

function makeTree(children: readonly Tree[]): Tree {
  const sorted = [...children].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const order = 1 + sorted.reduce((acc, c) => acc + c.order, 0);
  return {
    children: sorted,
    key: `[${sorted.map((c) => c.key).join('')}]`,
    order,
    gamma: order * sorted.reduce((acc, c) => acc * c.gamma, 1),
  };
}

const LEAF = makeTree([]);

/** Every tree obtained by attaching one new leaf to some vertex of t. */
function graft(t: Tree): Tree[] {
  const out = [makeTree([...t.children, LEAF])];
  t.children.forEach((child, j) => {
    for (const g of graft(child)) out.push(makeTree(t.children.map((c, k) => (k === j ? g : c))));
  });
  return out;
}

/** treesByOrder[n] = all distinct rooted trees with n vertices, n = 1 … maxOrder. */
function treesByOrder(maxOrder: number): Tree[][] {
  const byOrder: Tree[][] = [[], [LEAF]];
  for (let n = 2; n <= maxOrder; n++) {
    const seen = new Map<string, Tree>();
    for (const t of byOrder[n - 1] ?? []) for (const g of graft(t)) seen.set(g.key, g);
    byOrder.push([...seen.values()]);
  }
  return byOrder;
}

const TREES = treesByOrder(6);
const treesUpTo = (p: number): Tree[] => TREES.slice(1, p + 1).flat();

/** Φ_i(t) for every stage i of the strictly lower-triangular matrix A: Φ_i(t) = Π_children (A Φ(child))_i. */
function elementaryWeights(A: readonly (readonly number[])[], t: Tree): number[] {
  const childVecs = t.children.map((c) => {
    const phi = elementaryWeights(A, c);
    return A.map((row) => row.reduce((acc, aij, j) => acc + aij * (phi[j] ?? NaN), 0));
  });
  return A.map((_, i) => childVecs.reduce((acc, v) => acc * (v[i] ?? NaN), 1));
}

/** Residual Σ_i w_i Φ_i(t) − scale/γ(t). */
function residual(A: readonly (readonly number[])[], w: readonly number[], t: Tree, scale = 1): number {
  const phi = elementaryWeights(A, t);
  return w.reduce((acc, wi, i) => acc + wi * (phi[i] ?? NaN), 0) - scale / t.gamma;
}

const maxResidual = (A: readonly (readonly number[])[], w: readonly number[], trees: readonly Tree[]): number =>
  Math.max(...trees.map((t) => Math.abs(residual(A, w, t))));

/** Stage matrix extended by the extra dense entry K_s = f(t+h, y_{n+1}) (row b, c = 1) when not FSAL. */
function denseStageMatrix(tab: Tableau): number[][] {
  const A = tab.a.map((row) => [...row]);
  return tab.fsal ? A : [...A, [...tab.b]];
}

function denseWeights(tab: Tableau, theta: number): number[] {
  return tab.dense.map((row) => row.reduce((acc, d, m) => acc + d * theta ** (m + 1), 0));
}

// Tolerances: the coefficients are double roundings of exact (or 80-digit) values; elementary
// weights of order-5 trees multiply up to five coefficients of size ≤ 13, so round-off stays
// below ~1e-14. 1e-12 leaves margin while any real defect (≥ 1e-6 for these methods) fails it.
const TOL = 1e-12;
// A condition counts as violated when its residual exceeds this (far above round-off).
const VIOLATED = 1e-6;

const EXPECTED: Record<string, { order: number; errorOrder: number; stages: number; fsal: boolean; adaptive: boolean; denseOrder: number }> = {
  euler: { order: 1, errorOrder: 1, stages: 1, fsal: false, adaptive: false, denseOrder: 1 },
  midpoint: { order: 2, errorOrder: 2, stages: 2, fsal: false, adaptive: false, denseOrder: 2 },
  rk4: { order: 4, errorOrder: 4, stages: 4, fsal: false, adaptive: false, denseOrder: 3 },
  rk38: { order: 4, errorOrder: 4, stages: 4, fsal: false, adaptive: false, denseOrder: 3 },
  bosh3: { order: 3, errorOrder: 3, stages: 4, fsal: true, adaptive: true, denseOrder: 3 },
  dopri5: { order: 5, errorOrder: 5, stages: 7, fsal: true, adaptive: true, denseOrder: 4 },
  tsit5: { order: 5, errorOrder: 5, stages: 7, fsal: true, adaptive: true, denseOrder: 4 },
};

describe('rooted trees', () => {
  it('enumerates 1, 1, 2, 4, 9, 20 trees of orders 1 … 6 (17 conditions up to order 5)', () => {
    expect(TREES.slice(1).map((ts) => ts.length)).toEqual([1, 1, 2, 4, 9, 20]);
    expect(treesUpTo(5)).toHaveLength(17);
  });

  it('gives the classical γ values', () => {
    const gammas = (n: number): number[] => (TREES[n] ?? []).map((t) => t.gamma).sort((x, y) => x - y);
    expect(gammas(3)).toEqual([3, 6]);
    expect(gammas(4)).toEqual([4, 8, 12, 24]);
    expect(gammas(5)).toEqual([5, 10, 15, 20, 20, 30, 40, 60, 120]);
  });
});

describe('tableaux', () => {
  it('lists every method, in TABLEAUX and METHOD_NAMES', () => {
    expect([...METHOD_NAMES].sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(Object.keys(TABLEAUX).sort()).toEqual([...METHOD_NAMES].sort());
  });

  for (const name of METHOD_NAMES) {
    describe(name, () => {
      const tab = TABLEAUX[name];
      const exp = EXPECTED[name];

      it('has the expected metadata and shapes', () => {
        expect(exp).toBeDefined();
        expect({
          order: tab.order,
          errorOrder: tab.errorOrder,
          stages: tab.stages,
          fsal: tab.fsal,
          adaptive: tab.adaptive,
          denseOrder: tab.denseOrder,
        }).toEqual(exp);
        expect(tab.name).toBe(name);
        expect(tab.dense).toHaveLength(tab.fsal ? tab.stages : tab.stages + 1);
        expect(tab.source.length).toBeGreaterThan(10);
        expect(Object.isFrozen(tab) && Object.isFrozen(tab.a) && Object.isFrozen(tab.a[0]) && Object.isFrozen(tab.dense[0])).toBe(true);
        if (!tab.adaptive) expect(tab.bErr.every((x) => x === 0)).toBe(true);
      });

      it(`satisfies every order condition up to order ${exp?.order} (|residual| ≤ ${TOL})`, () => {
        for (const t of treesUpTo(tab.order)) {
          expect(Math.abs(residual(tab.a, tab.b, t)), `tree ${t.key}`).toBeLessThanOrEqual(TOL);
        }
      });

      it(`violates some order-${(exp?.order ?? 0) + 1} condition (so the order is exact)`, () => {
        expect(maxResidual(tab.a, tab.b, TREES[tab.order + 1] ?? [])).toBeGreaterThan(VIOLATED);
      });

      if (tab.adaptive) {
        const bhat = tab.b.map((x, i) => x - (tab.bErr[i] ?? NaN));
        it(`has embedded weights bhat = b − bErr of order ${tab.errorOrder - 1} exactly`, () => {
          for (const t of treesUpTo(tab.errorOrder - 1)) {
            expect(Math.abs(residual(tab.a, bhat, t)), `tree ${t.key}`).toBeLessThanOrEqual(TOL);
          }
          expect(maxResidual(tab.a, bhat, TREES[tab.errorOrder] ?? [])).toBeGreaterThan(VIOLATED);
        });
      }

      it(`has dense output of order ${exp?.denseOrder}: Σ w_i(θ) Φ_i(t) = θ^ρ/γ for ρ ≤ denseOrder`, () => {
        const A = denseStageMatrix(tab);
        for (const theta of [0.1, 0.3, 0.5, 0.7, 0.9, 1]) {
          const w = denseWeights(tab, theta);
          for (const t of treesUpTo(tab.denseOrder)) {
            const r = residual(A, w, t, theta ** t.order);
            expect(Math.abs(r), `θ = ${theta}, tree ${t.key}`).toBeLessThanOrEqual(TOL);
          }
        }
      });

      it('dense output reproduces y_n at θ = 0 and y_{n+1} at θ = 1', () => {
        expect(denseWeights(tab, 0).every((w) => w === 0)).toBe(true);
        const w1 = denseWeights(tab, 1);
        w1.forEach((w, i) => expect(Math.abs(w - (i < tab.stages ? (tab.b[i] ?? NaN) : 0))).toBeLessThanOrEqual(TOL));
      });
    });
  }

  it('Hermite dense output cannot exceed order 3, and dopri5/tsit5 interpolants stop at 4', () => {
    // The order-(denseOrder+1) dense conditions fail at θ = 1/2 for these methods.
    for (const name of ['rk4', 'rk38', 'bosh3', 'dopri5', 'tsit5'] as const) {
      const tab = TABLEAUX[name];
      const w = denseWeights(tab, 0.5);
      const A = denseStageMatrix(tab);
      const worst = Math.max(...(TREES[tab.denseOrder + 1] ?? []).map((t) => Math.abs(residual(A, w, t, 0.5 ** t.order))));
      expect(worst, name).toBeGreaterThan(VIOLATED);
    }
  });
});

describe('tsit5 coefficients against the published sources', () => {
  const tab = TABLEAUX.tsit5;

  it('advances with the 5th-order b = a[6] and has bhat_7 = +1/66 (corrected sign)', () => {
    expect(tab.b.slice(0, 6)).toEqual(tab.a[6]);
    expect(tab.b[6]).toBe(0);
    const bhat = tab.b.map((x, i) => x - (tab.bErr[i] ?? NaN));
    expect(bhat[6]).toBeCloseTo(1 / 66, 15);
    // bhat as printed (to 85 digits) in OrdinaryDiffEq.jl tsit_tableaus.jl / torchdiffeq's c_sol.
    const published = [
      0.9468075576583945807478876255758922856117527357724631226139574065785592789071067303271e-1,
      0.9183565540343253096776363936645313759813746240984095238905939532922955247253608687270e-2,
      0.4877705284247615707855642599631228241516691959761363774365216240304071651579571959813,
      1.234297566930478985655109673884237654035539930748192848315425833500484878378061439761,
      -2.707712349983525454881109975059321670689605166938197378763992255714444407154902012702,
      1.866628418170587035753719399566211498666255505244122593996591602841258328965767580089,
      1 / 66,
    ];
    bhat.forEach((x, i) => expect(Math.abs(x - (published[i] ?? NaN))).toBeLessThanOrEqual(1e-15));
  });

  it('dense polynomials match the factored form of diffrax (_solver/tsit5.py)', () => {
    const factored = (t: number): number[] => [
      -1.0530884977290216 * t * (t - 1.3299890189751412) * (t ** 2 - 1.4364028541716351 * t + 0.7139816917074209),
      0.1017 * t ** 2 * (t ** 2 - 2.1966568338249754 * t + 1.2949852507374631),
      2.490627285651252793 * t ** 2 * (t ** 2 - 2.38535645472061657 * t + 1.57803468208092486),
      -16.54810288924490272 * (t - 1.21712927295533244) * (t - 0.61620406037800089) * t ** 2,
      47.37952196281928122 * (t - 1.203071208372362603) * (t - 0.658047292653547382) * t ** 2,
      -34.87065786149660974 * (t - 1.2) * (t - 2 / 3) * t ** 2,
      2.5 * (t - 1) * (t - 0.6) * t ** 2,
    ];
    for (const theta of [0.2, 0.5, 0.8]) {
      const ours = denseWeights(tab, theta);
      factored(theta).forEach((w, i) => expect(Math.abs(w - (ours[i] ?? NaN)), `θ=${theta} i=${i}`).toBeLessThanOrEqual(1e-12));
    }
  });

  it('would catch the "advance with bhat" bug: bhat is only 4th order', () => {
    const bhat = tab.b.map((x, i) => x - (tab.bErr[i] ?? NaN));
    expect(maxResidual(tab.a, bhat, TREES[5] ?? [])).toBeGreaterThan(VIOLATED);
  });
});

describe('getTableau', () => {
  it('returns the tableau for every name', () => {
    for (const name of METHOD_NAMES) expect(getTableau(name)).toBe(TABLEAUX[name]);
  });

  it('throws UnknownMethodError (an ArgumentError) listing the valid names', () => {
    let caught: unknown;
    try {
      getTableau('rk45');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(UnknownMethodError);
    expect(caught).toBeInstanceOf(ArgumentError);
    const message = caught instanceof Error ? caught.message : '';
    expect(message).toContain('rk45');
    for (const name of METHOD_NAMES) expect(message).toContain(name);
  });
});

describe('defineTableau validation', () => {
  // A valid base: Heun's method with the linear interpolant w_i(θ) = b_i θ (dense order 1).
  const base: TableauSpec = {
    name: 'midpoint',
    order: 2,
    errorOrder: 2,
    a: [[], [1]],
    b: [1 / 2, 1 / 2],
    c: [0, 1],
    bErr: [0, 0],
    fsal: false,
    dense: [[1 / 2], [1 / 2], [0]],
    denseOrder: 1,
    source: 'test',
  };
  const expectCheck = (spec: TableauSpec, check: string): void => {
    let caught: unknown;
    try {
      defineTableau(spec);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TableauError);
    expect(caught instanceof TableauError ? caught.check : '').toBe(check);
    expect(caught instanceof Error ? caught.message : '').toContain(check);
  };

  it('accepts a valid tableau', () => {
    expect(defineTableau(base).stages).toBe(2);
  });

  it('rejects rows of a that do not sum to c', () => expectCheck({ ...base, c: [0, 0.9] }, 'row sum'));
  it('rejects b that does not sum to 1', () => expectCheck({ ...base, b: [0.5, 0.6], dense: [[0.5], [0.6], [-0.1]] }, 'b sum'));
  it('rejects error weights that do not sum to 0', () => expectCheck({ ...base, bErr: [0.1, 0] }, 'bErr sum'));
  it('rejects a non-triangular a', () => expectCheck({ ...base, a: [[], [1, 0]] }, 'shape'));
  it('rejects c of the wrong length', () => expectCheck({ ...base, c: [0, 1, 1] }, 'shape'));
  it('rejects non-finite coefficients', () => expectCheck({ ...base, b: [Number.NaN, 1] }, 'finite'));
  it('rejects an inconsistent fsal flag', () => expectCheck({ ...base, fsal: true, dense: [[1 / 2], [1 / 2]] }, 'fsal'));
  it('rejects a dense matrix of the wrong shape', () => expectCheck({ ...base, dense: [[1 / 2], [1 / 2]] }, 'dense shape'));
  it('rejects dense output that misses y_{n+1}', () => expectCheck({ ...base, dense: [[0.6], [0.4], [0]] }, 'dense endpoint'));
  it('rejects dense output whose weights do not sum to θ inside the step', () =>
    // Endpoints are right (w_i(1) = b_i) but Σ_i w_i(θ) = 1.1θ − 0.1θ².
    expectCheck({ ...base, dense: [[0.6, -0.1], [0.5, 0], [0, 0]] }, 'dense consistency'));
  it('rejects errorOrder ≠ order for a fixed-step method', () => expectCheck({ ...base, errorOrder: 1 }, 'errorOrder'));
  it('rejects a denseOrder above the order', () => expectCheck({ ...base, denseOrder: 3 }, 'denseOrder'));
});
