/**
 * Butcher tableaux as data: explicit Runge–Kutta methods (euler … dopri5, tsit5) with their
 * embedded error weights and dense-output polynomials. Every tableau is checked when it is built
 * (`defineTableau`), so one generic stepper and one WGSL generator can serve every method.
 *
 * Conventions
 *  - Stages K_i = f(t + c_i h, y_n + h Σ_{j<i} a[i][j] K_j), i = 0 … s-1.
 *  - y_{n+1} = y_n + h Σ b_i K_i; error estimate e = h Σ bErr_i K_i with bErr = b − bhat.
 *  - Dense output on [t, t+h]: y(t + θh) = y_n + h Σ_i w_i(θ) K_i, w_i(θ) = Σ_m dense[i][m] θ^(m+1).
 *    When the method is not FSAL the sum includes one extra entry K_s = f(t+h, y_{n+1}).
 */

import { ArgumentError, WebodeError } from '../errors';

/** Names of the built-in Runge–Kutta methods (`OdeintOptions.method`). */
export type MethodName = 'euler' | 'midpoint' | 'rk4' | 'rk38' | 'bosh3' | 'dopri5' | 'tsit5';

/** A Butcher tableau: the coefficients of one Runge–Kutta method, checked when built. */
export interface Tableau {
  /** The method's name. */
  readonly name: MethodName;
  /** Order p of the propagated solution. */
  readonly order: number;
  /** Order used in the step-controller exponent: embedded order + 1 for adaptive methods, `order` otherwise. */
  readonly errorOrder: number;
  /** Has an embedded error estimate (bErr not all zero). */
  readonly adaptive: boolean;
  /** Number of stages s. */
  readonly stages: number;
  /** Strictly lower-triangular rows: a[i] has length i, a[0] = []. */
  readonly a: readonly (readonly number[])[];
  /** Weights b of the propagated solution. */
  readonly b: readonly number[];
  /** Nodes c: stage i is evaluated at t + c[i]·h. */
  readonly c: readonly number[];
  /** Error weights b − bhat (all zeros for fixed-step methods). */
  readonly bErr: readonly number[];
  /** The last stage is f(t+h, y_{n+1}): a[s-1] equals b and c[s-1] = 1. */
  readonly fsal: boolean;
  /** Dense-output coefficients: s rows when fsal, s+1 rows otherwise; all rows have the same length (degree). */
  readonly dense: readonly (readonly number[])[];
  /** Order of the interpolant (local error O(h^(denseOrder+1))). */
  readonly denseOrder: number;
  /** Citation of the coefficients. */
  readonly source: string;
}

/** What `defineTableau` takes: `stages` and `adaptive` are derived from the coefficients. */
export type TableauSpec = Omit<Tableau, 'stages' | 'adaptive'>;

/** A tableau failed one of its consistency checks; the message names the check. */
export class TableauError extends WebodeError {
  readonly tableau: string;
  readonly check: string;
  constructor(tableau: string, check: string, detail: string) {
    super(`tableau '${tableau}': ${check} check failed: ${detail}`);
    this.tableau = tableau;
    this.check = check;
  }
}

/**
 * `getTableau` was asked for a method that does not exist. An ArgumentError (the project's
 * "bad input" error, thrown before any GPU work) whose message lists the valid names.
 */
export class UnknownMethodError extends ArgumentError {
  readonly validNames: readonly string[];
  constructor(method: string, validNames: readonly string[], argument = 'method') {
    super(argument, method, `one of ${validNames.map((n) => `'${n}'`).join(', ')}`);
    this.validNames = validNames;
  }
}

export const METHOD_NAMES: readonly MethodName[] = Object.freeze([
  'euler',
  'midpoint',
  'rk4',
  'rk38',
  'bosh3',
  'dopri5',
  'tsit5',
] as const);

/** Tolerance of the consistency checks (coefficients are double-precision roundings). */
const TOL = 1e-12;
/** θ values at which Σ_i w_i(θ) = θ is checked. */
const CHECK_THETAS = [0.1, 0.25, 0.5, 0.75, 0.9];

const sum = (xs: readonly number[]): number => xs.reduce((acc, x) => acc + x, 0);

function polyAt(coeffs: readonly number[], theta: number): number {
  // Σ_m coeffs[m] θ^(m+1), Horner form.
  let acc = 0;
  for (let m = coeffs.length - 1; m >= 0; m--) acc = acc * theta + (coeffs[m] ?? 0);
  return acc * theta;
}

/** Validates a tableau spec and returns a deeply frozen Tableau; throws TableauError naming the failed check. */
export function defineTableau(spec: TableauSpec): Tableau {
  const { name, a, b, c, bErr, dense, fsal } = spec;
  const fail = (check: string, detail: string): never => {
    throw new TableauError(name, check, detail);
  };
  const s = b.length;

  // Shapes.
  if (s < 1) fail('shape', 'b must have at least one entry');
  if (a.length !== s) fail('shape', `a has ${a.length} rows, expected ${s}`);
  a.forEach((row, i) => {
    if (row.length !== i) fail('shape', `a[${i}] has length ${row.length}, expected ${i}`);
  });
  if (c.length !== s) fail('shape', `c has length ${c.length}, expected ${s}`);
  if (bErr.length !== s) fail('shape', `bErr has length ${bErr.length}, expected ${s}`);
  const all = [...a.flat(), ...b, ...c, ...bErr, ...dense.flat()];
  if (!all.every(Number.isFinite)) fail('finite', 'all coefficients must be finite');

  // Orders.
  const adaptive = bErr.some((x) => x !== 0);
  const isOrder = (x: number): boolean => Number.isInteger(x) && x >= 1;
  if (!isOrder(spec.order)) fail('order', `order ${spec.order} is not a positive integer`);
  if (adaptive) {
    if (!isOrder(spec.errorOrder) || spec.errorOrder > spec.order) {
      fail('errorOrder', `errorOrder ${spec.errorOrder} must be an integer in [1, ${spec.order}]`);
    }
  } else if (spec.errorOrder !== spec.order) {
    fail('errorOrder', `a fixed-step method must have errorOrder = order (${spec.order}), got ${spec.errorOrder}`);
  }
  if (!isOrder(spec.denseOrder) || spec.denseOrder > spec.order) {
    fail('denseOrder', `denseOrder ${spec.denseOrder} must be an integer in [1, ${spec.order}]`);
  }

  // Consistency: rows of a sum to c, b sums to 1, error weights sum to 0.
  a.forEach((row, i) => {
    const r = sum(row);
    if (Math.abs(r - (c[i] ?? NaN)) > TOL) fail('row sum', `Σ_j a[${i}][j] = ${r} but c[${i}] = ${c[i]}`);
  });
  if (Math.abs(sum(b) - 1) > TOL) fail('b sum', `Σ b = ${sum(b)}, expected 1`);
  if (Math.abs(sum(bErr)) > TOL) fail('bErr sum', `Σ bErr = ${sum(bErr)}, expected 0`);

  // FSAL: the last stage is f(t+h, y_{n+1}).
  if (fsal) {
    const last = a[s - 1] ?? [];
    const ok =
      s >= 2 &&
      Math.abs((c[s - 1] ?? NaN) - 1) <= TOL &&
      Math.abs(b[s - 1] ?? NaN) <= TOL &&
      last.every((x, j) => Math.abs(x - (b[j] ?? NaN)) <= TOL);
    if (!ok) fail('fsal', 'fsal requires a[s-1] = b[0..s-2], b[s-1] = 0 and c[s-1] = 1');
  }

  // Dense output: shape, w_i(1) = b_i (0 for the extra K_s), Σ_i w_i(θ) = θ.
  const rows = fsal ? s : s + 1;
  if (dense.length !== rows) fail('dense shape', `dense has ${dense.length} rows, expected ${rows}`);
  const degree = dense[0]?.length ?? 0;
  if (degree < 1) fail('dense shape', 'dense rows must be non-empty');
  dense.forEach((row, i) => {
    if (row.length !== degree) fail('dense shape', `dense[${i}] has length ${row.length}, expected ${degree}`);
  });
  dense.forEach((row, i) => {
    const target = i < s ? (b[i] ?? NaN) : 0;
    const w1 = polyAt(row, 1);
    if (Math.abs(w1 - target) > TOL) fail('dense endpoint', `w_${i}(1) = ${w1}, expected ${target}`);
  });
  for (const theta of CHECK_THETAS) {
    const total = sum(dense.map((row) => polyAt(row, theta)));
    if (Math.abs(total - theta) > TOL) fail('dense consistency', `Σ_i w_i(${theta}) = ${total}, expected ${theta}`);
  }

  const freezeRows = (m: readonly (readonly number[])[]): readonly (readonly number[])[] =>
    Object.freeze(m.map((row) => Object.freeze([...row])));
  return Object.freeze({
    name,
    order: spec.order,
    errorOrder: spec.errorOrder,
    adaptive,
    stages: s,
    a: freezeRows(a),
    b: Object.freeze([...b]),
    c: Object.freeze([...c]),
    bErr: Object.freeze([...bErr]),
    fsal,
    dense: freezeRows(dense),
    denseOrder: spec.denseOrder,
    source: spec.source,
  });
}

// ---------------------------------------------------------------------------------------------
// Dense-output construction. The interpolant is y_n + h q(θ) with q(θ) = Σ_{m=1..deg} α_m θ^m,
// where every α_m is a linear combination of the K_i. Each interpolation condition states that
// q(θ) or q'(θ) equals Σ_i weights_i K_i; solving the deg×deg system once per K_i column gives the
// dense matrix dense[i][m-1] = (α_m)_i.

interface DenseCondition {
  readonly kind: 'value' | 'slope';
  readonly theta: number;
  /** Weights over K_0 … K_{n-1} (n = rows of the dense matrix). */
  readonly weights: readonly number[];
}

/** Solves M X = R (M square, R with one column per K_i) by Gaussian elimination with partial pivoting. */
function solveLinear(m: readonly (readonly number[])[], r: readonly (readonly number[])[]): number[][] {
  const n = m.length;
  // Augmented rows [M | R], eliminated in place.
  const rows = m.map((row, i) => [...row, ...(r[i] ?? [])]);
  const at = (i: number, j: number): number => rows[i]?.[j] ?? NaN;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(at(i, k)) > Math.abs(at(p, k))) p = i;
    const pivot = rows[p];
    if (pivot === undefined || pivot[k] === 0) throw new Error('singular dense-output system');
    rows[p] = rows[k] ?? pivot;
    rows[k] = pivot;
    for (let i = k + 1; i < n; i++) {
      const f = at(i, k) / at(k, k);
      rows[i] = rows[i]?.map((x, j) => x - f * (pivot[j] ?? NaN)) ?? [];
    }
  }
  const cols = (r[0] ?? []).length;
  const X: number[][] = [];
  for (let k = n - 1; k >= 0; k--) {
    X[k] = Array.from({ length: cols }, (_, col) => {
      let acc = at(k, n + col);
      for (let j = k + 1; j < n; j++) acc -= at(k, j) * (X[j]?.[col] ?? NaN);
      return acc / at(k, k);
    });
  }
  return X;
}

/** Fits q(θ) = Σ_{m=1..deg} α_m θ^m (deg = number of conditions) and returns dense[i][m-1]. */
function fitDense(conditions: readonly DenseCondition[]): number[][] {
  const deg = conditions.length;
  const rows = conditions[0]?.weights.length ?? 0;
  const M = conditions.map(({ kind, theta }) =>
    Array.from({ length: deg }, (_, j) => {
      const m = j + 1;
      return kind === 'value' ? theta ** m : m * theta ** (m - 1);
    }),
  );
  const X = solveLinear(
    M,
    conditions.map((cond) => cond.weights),
  );
  // X[m-1][i] = coefficient of θ^m in w_i; transpose to dense[i][m-1].
  return Array.from({ length: rows }, (_, i) => X.map((alpha) => alpha[i] ?? NaN));
}

/** Weights selecting K_i among n entries. */
const unit = (n: number, i: number): number[] => Array.from({ length: n }, (_, j) => (j === i ? 1 : 0));

/**
 * Cubic Hermite interpolant through y_n, y_{n+1} with slopes f_n = K_0 and f_{n+1}: for FSAL methods
 * f_{n+1} is the last stage, otherwise the extra entry K_s = f(t+h, y_{n+1}).
 */
function hermiteDense(b: readonly number[], fsal: boolean): number[][] {
  const s = b.length;
  const n = fsal ? s : s + 1;
  const bExt = Array.from({ length: n }, (_, i) => (i < s ? (b[i] ?? NaN) : 0));
  return fitDense([
    { kind: 'slope', theta: 0, weights: unit(n, 0) },
    { kind: 'value', theta: 1, weights: bExt },
    { kind: 'slope', theta: 1, weights: unit(n, n - 1) },
  ]);
}

// ---------------------------------------------------------------------------------------------
// The methods.

const ZERO = (s: number): number[] => new Array<number>(s).fill(0);

function fixedMethod(
  name: MethodName,
  order: number,
  a: number[][],
  b: number[],
  c: number[],
  source: string,
): Tableau {
  return defineTableau({
    name,
    order,
    errorOrder: order,
    a,
    b,
    c,
    bErr: ZERO(b.length),
    fsal: false,
    dense: hermiteDense(b, false),
    // The Hermite cubic has local order 3, but cannot be better than the step it interpolates.
    denseOrder: Math.min(order, 3),
    source,
  });
}

const EULER = fixedMethod('euler', 1, [[]], [1], [0], 'Forward Euler; Hairer, Nørsett & Wanner, Solving ODEs I, §II.1.');

const MIDPOINT = fixedMethod(
  'midpoint',
  2,
  [[], [1 / 2]],
  [0, 1],
  [0, 1 / 2],
  'Explicit midpoint rule (Runge 1895); Hairer, Nørsett & Wanner, Solving ODEs I, Table II.1.1.',
);

const RK4 = fixedMethod(
  'rk4',
  4,
  [[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
  [1 / 6, 1 / 3, 1 / 3, 1 / 6],
  [0, 1 / 2, 1 / 2, 1],
  'Classical Runge–Kutta (Kutta 1901); Hairer, Nørsett & Wanner, Solving ODEs I, Table II.1.2 (left).',
);

// Kutta's 3/8 rule. Note: torchdiffeq's fixed-grid method called `rk4` is this one (its
// `rk4_alt_step_func`), not the classical tableau above.
const RK38 = fixedMethod(
  'rk38',
  4,
  [[], [1 / 3], [-1 / 3, 1], [1, -1, 1]],
  [1 / 8, 3 / 8, 3 / 8, 1 / 8],
  [0, 1 / 3, 2 / 3, 1],
  "Kutta's 3/8 rule (Kutta 1901); Hairer, Nørsett & Wanner, Solving ODEs I, Table II.1.2 (right).",
);

// Bogacki–Shampine 3(2): bhat = [7/24, 1/4, 1/3, 1/8].
const BOSH3_B = [2 / 9, 1 / 3, 4 / 9, 0];
const BOSH3 = defineTableau({
  name: 'bosh3',
  order: 3,
  errorOrder: 3,
  a: [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
  b: BOSH3_B,
  c: [0, 1 / 2, 3 / 4, 1],
  bErr: [2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8],
  fsal: true,
  dense: hermiteDense(BOSH3_B, true),
  denseOrder: 3,
  source: 'P. Bogacki & L. F. Shampine, A 3(2) pair of Runge–Kutta formulas, Appl. Math. Lett. 2(4):321–325, 1989.',
});

// Dormand–Prince 5(4) (J. R. Dormand & P. J. Prince, J. Comput. Appl. Math. 6(1):19–26, 1980).
// Embedded 4th-order weights: Shampine's choice (L. F. Shampine, Math. Comp. 46:135–150, 1986),
// bhat = [1951/21600, 0, 22642/50085, 451/720, −12231/42400, 649/6300, 1/60], the set torchdiffeq
// and diffrax use, so step counts are comparable with theirs. (Hairer's DOPRI5 and scipy's RK45
// use the other 4th-order embedding, bhat_7 = 1/40; both satisfy the same order conditions.)
const DOPRI5_B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
const DOPRI5_BHAT = [1951 / 21600, 0, 22642 / 50085, 451 / 720, -12231 / 42400, 649 / 6300, 1 / 60];
// Shampine's midpoint weights: y(t + h/2) ≈ y_n + h Σ cmid_i K_i (torchdiffeq's DPS_C_MID).
const DOPRI5_CMID = [
  6025192743 / 30085553152 / 2,
  0,
  51252292925 / 65400821598 / 2,
  -2691868925 / 45128329728 / 2,
  187940372067 / 1594534317056 / 2,
  -1776094331 / 19743644256 / 2,
  11237099 / 235043384 / 2,
];
const DOPRI5 = defineTableau({
  name: 'dopri5',
  order: 5,
  errorOrder: 5,
  a: [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
  ],
  b: DOPRI5_B,
  c: [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1],
  bErr: DOPRI5_B.map((x, i) => x - (DOPRI5_BHAT[i] ?? NaN)),
  fsal: true,
  // Quartic through y_n (slope K_0), y_{n+1} (slope K_6 = f_{n+1}) and Shampine's 4th-order midpoint value.
  dense: fitDense([
    { kind: 'slope', theta: 0, weights: unit(7, 0) },
    { kind: 'value', theta: 1, weights: DOPRI5_B },
    { kind: 'slope', theta: 1, weights: unit(7, 6) },
    { kind: 'value', theta: 1 / 2, weights: DOPRI5_CMID },
  ]),
  denseOrder: 4,
  source:
    'J. R. Dormand & P. J. Prince, A family of embedded Runge–Kutta formulae, J. Comput. Appl. Math. 6(1):19–26, 1980; ' +
    'dense output: L. F. Shampine, Some practical Runge–Kutta formulas, Math. Comp. 46(173):135–150, 1986 (midpoint weights as in torchdiffeq DPS_C_MID).',
});

// Tsitouras 5(4). Coefficients to full precision from OrdinaryDiffEq.jl (tsit_tableaus.jl) and
// diffrax (_solver/tsit5.py), which agree. Two traps in the literature:
//  - the solution is advanced with b = a[6] (5th order); torchdiffeq's tsit5 advances with the
//    embedded 4th-order weights bhat by mistake;
//  - Table 1 of the paper lists bhat − b with a sign error in the last entry; the correct embedded
//    weight is bhat_7 = +1/66 (see OrdinaryDiffEq.jl#1654, SUNDIALS PR #850), so bErr_7 = b_7 − bhat_7 = −1/66.
const TSIT5_A6 = [
  0.9646076681806522951816731316512876333711995238157997181903319145764851595234062815396e-1,
  1 / 100,
  0.4798896504144995747752495322905965199130404621990332488332634944254542060153074523509,
  1.379008574103741893192274821856872770756462643091360525934940067397245698027561293331,
  -3.290069515436080679901047585711363850115683290894936158531296799594813811049925401677,
  2.324710524099773982415355918398765796109060233222962411944060046314465391054716027841,
];
const TSIT5_B = [...TSIT5_A6, 0];
// b − bhat (OrdinaryDiffEq's btilde = bhat − b, negated).
const TSIT5_BERR = [
  1.780011052225771443378550607539534775944678804333659557637450799792588061629796e-3,
  8.164344596567469032236360633546862401862537590159047610940604670770447527463931e-4,
  -7.880878010261996010314727672526304238628733777103128603258129604952959142646516e-3,
  1.44711007173262907537165147972635116720922712343167677619514233896760819649515e-1,
  -5.823571654525552250199376106520421794260781239567387797673045438803694038950012e-1,
  4.580821059291869466616365188325542974428047279788398179474684434732070620889539e-1,
  -1 / 66,
];
// Dense output b_i(θ) = Σ_m r_{i,m} θ^m, the expanded form of the paper's polynomials
// (OrdinaryDiffEq.jl Tsit5Interp, high-precision branch; cross-checked against diffrax's factored form).
const TSIT5_DENSE = [
  [0.999999999999999974283372471559910888475488471328, -2.763706197274825911336735930481400260916070804192, 2.91325546182191274375068099306808, -1.0530884977290216],
  [0, 0.13169999999999999727, -0.22339999999999999818, 0.1017],
  [0, 3.93029623689475152850687446709813398, -5.94103387213150473470249202589458001, 2.490627285651252793],
  [0, -12.411077166933676983734381540685453484102414134010752, 30.3381886302823215981729903691836576, -16.54810288924490272],
  [0, 37.50931341651103919496903965334519631242339792120440212, -88.1789048947664011014276693541209817, 47.37952196281928122],
  [0, -27.896526289197287805948263144598643896, 65.09189467479367152629021928716553658, -34.87065786149660974],
  [0, 1.5, -4, 2.5],
];
const TSIT5 = defineTableau({
  name: 'tsit5',
  order: 5,
  errorOrder: 5,
  a: [
    [],
    [161 / 1000],
    [
      -0.8480655492356988544426874250230774675121177393430391537369234245294192976164141156943e-2,
      0.3354806554923569885444268742502307746751211773934303915373692342452941929761641411569,
    ],
    [
      2.897153057105493432130432594192938764924887287701866490314866693455023795137503079289,
      -6.359448489975074843148159912383825625952700647415626703305928850207288721235210244366,
      4.362295432869581411017727318190886861027813359713760212991062156752264926097707165077,
    ],
    [
      5.325864828439256604428877920840511317836476253097040101202360397727981648835607691791,
      -11.74888356406282787774717033978577296188744178259862899288666928009020615663593781589,
      7.495539342889836208304604784564358155658679161518186721010132816213648793440552049753,
      -0.9249506636175524925650207933207191611349983406029535244034750452930469056411389539635e-1,
    ],
    [
      5.861455442946420028659251486982647890394337666164814434818157239052507339770711679748,
      -12.92096931784710929170611868178335939541780751955743459166312250439928519268343184452,
      8.159367898576158643180400794539253485181918321135053305748355423955009222648673734986,
      -0.7158497328140099722453054252582973869127213147363544882721139659546372402303777878835e-1,
      -0.2826905039406838290900305721271224146717633626879770007617876201276764571291579142206e-1,
    ],
    TSIT5_A6,
  ],
  b: TSIT5_B,
  c: [
    0,
    161 / 1000,
    327 / 1000,
    9 / 10,
    0.9800255409045096857298102862870245954942137979563024768854764293221195950761080302604,
    1,
    1,
  ],
  bErr: TSIT5_BERR,
  fsal: true,
  dense: TSIT5_DENSE,
  denseOrder: 4,
  source:
    'Ch. Tsitouras, Runge–Kutta pairs of order 5(4) satisfying only the first column simplifying assumption, ' +
    'Comput. Math. Appl. 62(2):770–775, 2011 (bhat_7 = 1/66 sign correction); digits from OrdinaryDiffEq.jl and diffrax.',
});

export const TABLEAUX: Readonly<Record<MethodName, Tableau>> = Object.freeze({
  euler: EULER,
  midpoint: MIDPOINT,
  rk4: RK4,
  rk38: RK38,
  bosh3: BOSH3,
  dopri5: DOPRI5,
  tsit5: TSIT5,
});

const isMethodName = (name: string): name is MethodName => (METHOD_NAMES as readonly string[]).includes(name);

/** Looks a tableau up by name; throws UnknownMethodError (a TypeError) listing the valid names. */
export function getTableau(name: string, argument = 'method'): Tableau {
  if (!isMethodName(name)) throw new UnknownMethodError(name, METHOD_NAMES, argument);
  return TABLEAUX[name];
}
