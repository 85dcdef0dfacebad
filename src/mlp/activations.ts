/**
 * The activation table: one entry per activation σ, read by every generator
 * that emits activation code (the scalar MLP, its vec4-lane form, the VJPs of
 * the three adjoint kernels and backprop) and by the float64 test reference.
 * A new activation is one entry here.
 *
 * Each entry holds
 *  - `value`: σ(x) as a WGSL expression over `x`, written once for any float
 *    type (f32 or vec4<f32>): `c(v)` makes the constant v an operand of x's
 *    type where WGSL does not broadcast a scalar (clamp, max, select).
 *    Arguments of exp/tanh are clamped where σ has saturated in float32, so no
 *    intermediate overflows to Inf; the clamp constants live in the entry.
 *  - `derivative`: σ' as a WGSL expression, taken of the function `value`
 *    computes, either from the output x = σ(u) alone (`from: 'output'`: the
 *    VJPs then keep no pre-activations) or from the pre-activation u
 *    (`from: 'input'`); `lets` are statements before it (silu's s).
 *  - `f` and `df`: σ and σ' in float64, written from the mathematics (not
 *    from the WGSL): the reference the tests compare the kernels against.
 *  - `kink`: σ' jumps somewhere (relu at 0), so finite differences across it
 *    are only first-order accurate and the finite-difference tests keep away
 *    from it or leave the activation out.
 *
 * NaN inputs: min/max/clamp of a NaN are implementation-defined in WGSL (some
 * return the other operand), which would turn a NaN parameter into a
 * plausible finite value; the emitted `act` tests the bits and passes a NaN
 * through, so the solver's non-finite checks see it. Derivatives from the
 * output see that NaN in x and give NaN.
 */

/** A constant of the expression's float type: `v` itself for f32, `vec4<f32>(v)` for four lanes. */
export type Splat = (v: string) => string;

export interface ActivationEntry {
  /** σ(x) in WGSL over `x`. */
  readonly value: (c: Splat) => string;
  readonly derivative: {
    /** Whether σ' is written from the output `x` = σ(u) alone or needs the pre-activation `u`. */
    readonly from: 'output' | 'input';
    /** Statements before the expression (each ending in `; `), or none. */
    readonly lets?: (c: Splat) => string;
    /** σ'(u) in WGSL over `u` and/or `x`. */
    readonly expr: (c: Splat) => string;
  };
  /** σ in float64. */
  readonly f: (x: number) => number;
  /** σ' in float64 (at a kink, either one-sided value). */
  readonly df: (x: number) => number;
  /** σ' is discontinuous somewhere (finite differences across it are first-order). */
  readonly kink: boolean;
  /** The PyTorch module computing σ (in `torch.nn`, default arguments), for state_dict export. */
  readonly torch: string;
  /**
   * σ'' as a WGSL expression over `u` and/or `x` = σ(u) (scalar f32), with
   * `lets` before it as for `derivative`: the flows' gradient kernels need it.
   */
  readonly second: { readonly lets?: string; readonly expr: string };
  /** σ'' in float64 (the second derivatives a flow's gradients need; at a jump, either one-sided value). */
  readonly d2f: (x: number) => number;
  /** σ'' is continuous everywhere: flows (whose trace gradients need σ'') accept only these activations. */
  readonly smoothSecond: boolean;
}

/** |x| beyond which exp(−x) would overflow float32 (e^88 ≈ 1.7e38 < 3.4e38) and the logistic has saturated. */
const EXP_CLAMP = '88.0';

/** The logistic 1 / (1 + e^−v) in WGSL, v clamped to ±EXP_CLAMP. */
const logistic = (v: string, c: Splat) => `1.0 / (1.0 + exp(-clamp(${v}, ${c(`-${EXP_CLAMP}`)}, ${c(EXP_CLAMP)})))`;

/** The logistic in float64, in the form that does not overflow for either sign. */
function sigmoid64(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** |x| at which tanh rounds to ±1 in float32 (1 − tanh(9.1) ≈ 2.5e-8, below half an ulp of 1). */
const TANH_CLAMP = '9.1';

export const ACTIVATION_TABLE = {
  tanh: {
    value: (c) => `tanh(clamp(x, ${c(`-${TANH_CLAMP}`)}, ${c(TANH_CLAMP)}))`,
    // 1 − tanh²; where the clamp is active x is ±1 exactly, so this is 0, the derivative of the clamped function.
    derivative: { from: 'output', expr: () => '1.0 - x * x' },
    f: Math.tanh,
    df: (x) => 1 / Math.cosh(x) ** 2,
    kink: false,
    torch: 'Tanh',
    second: { expr: '-2.0 * x * (1.0 - x * x)' },
    d2f: (x) => -2 * Math.tanh(x) / Math.cosh(x) ** 2,
    smoothSecond: true,
  },
  softplus: {
    // log(1 + e^x) = max(x, 0) + log(1 + e^−|x|), exact for every x without overflow.
    value: (c) => `max(x, ${c('0.0')}) + log(1.0 + exp(-abs(x)))`,
    // d/du log(1 + e^u) = the logistic of u.
    derivative: { from: 'input', expr: (c) => logistic('u', c) },
    // Exact maths (no PyTorch threshold at x > 20).
    f: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
    df: sigmoid64,
    kink: false,
    torch: 'Softplus',
    second: { lets: `let s = ${logistic('u', (v) => v)}; `, expr: 's * (1.0 - s)' },
    d2f: (x) => sigmoid64(x) * sigmoid64(-x),
    smoothSecond: true,
  },
  relu: {
    value: (c) => `max(x, ${c('0.0')})`,
    derivative: { from: 'input', expr: (c) => `select(${c('0.0')}, ${c('1.0')}, u > ${c('0.0')})` },
    f: (x) => (x > 0 ? x : 0),
    df: (x) => (x > 0 ? 1 : 0),
    kink: true,
    torch: 'ReLU',
    second: { expr: '0.0' },
    d2f: () => 0,
    smoothSecond: false,
  },
  sigmoid: {
    value: (c) => logistic('x', c),
    // s' = s(1 − s).
    derivative: { from: 'output', expr: () => 'x * (1.0 - x)' },
    f: sigmoid64,
    df: (x) => sigmoid64(x) * sigmoid64(-x),
    kink: false,
    torch: 'Sigmoid',
    second: { expr: 'x * (1.0 - x) * (1.0 - 2.0 * x)' },
    d2f: (x) => sigmoid64(x) * sigmoid64(-x) * (1 - 2 * sigmoid64(x)),
    smoothSecond: true,
  },
  silu: {
    // u·s(u) written as u / (1 + e^−u).
    value: (c) => `x / (1.0 + exp(-clamp(x, ${c(`-${EXP_CLAMP}`)}, ${c(EXP_CLAMP)})))`,
    // silu'(u) = s(u)·(1 + u·(1 − s(u))).
    derivative: { from: 'input', lets: (c) => `let s = ${logistic('u', c)}; `, expr: () => 's * (1.0 + u * (1.0 - s))' },
    f: (x) => x * sigmoid64(x),
    df: (x) => sigmoid64(x) + x * sigmoid64(x) * sigmoid64(-x),
    kink: false,
    torch: 'SiLU',
    // silu'' = s·(1 − s)·(2 + u·(1 − 2s)).
    second: { lets: `let s = ${logistic('u', (v) => v)}; `, expr: 's * (1.0 - s) * (2.0 + u * (1.0 - 2.0 * s))' },
    d2f: (x) => sigmoid64(x) * sigmoid64(-x) * (2 + x * (1 - 2 * sigmoid64(x))),
    smoothSecond: true,
  },
  identity: {
    value: () => 'x',
    derivative: { from: 'output', expr: (c) => c('1.0') },
    f: (x) => x,
    df: () => 1,
    kink: false,
    torch: 'Identity',
    second: { expr: '0.0' },
    d2f: () => 0,
    smoothSecond: true,
  },
  elu: {
    // α = 1: x for x > 0, e^x − 1 otherwise. The exp argument is min(x, 0), so
    // the branch select discards is never Inf either.
    value: (c) => `select(exp(min(x, ${c('0.0')})) - 1.0, x, x > ${c('0.0')})`,
    // From the output: 1 for x > 0, else e^u = x + 1. No pre-activations are
    // kept, as for tanh; σ' is continuous at 0 (both sides 1), so no kink.
    derivative: { from: 'output', expr: (c) => `select(x + 1.0, ${c('1.0')}, x > ${c('0.0')})` },
    f: (x) => (x > 0 ? x : Math.expm1(x)),
    df: (x) => (x > 0 ? 1 : Math.exp(x)),
    kink: false,
    torch: 'ELU',
    // σ'' jumps at 0 (e^0 = 1 from the left, 0 from the right).
    second: { expr: 'select(x + 1.0, 0.0, x > 0.0)' },
    d2f: (x) => (x > 0 ? 0 : Math.exp(x)),
    smoothSecond: false,
  },
} as const satisfies Record<string, ActivationEntry>;

/** Activation functions between layers (none after the last layer). */
export type Activation = keyof typeof ACTIVATION_TABLE;

/** Every activation, in the table's order. */
export const ACTIVATIONS: readonly Activation[] = Object.freeze(Object.keys(ACTIVATION_TABLE) as Activation[]);

/** The table entry of an activation. */
export function activationEntry(act: Activation): ActivationEntry {
  return ACTIVATION_TABLE[act];
}

/** Whether σ' is written from the output alone, so the VJPs keep no pre-activations. */
export function gradFromOutput(act: Activation): boolean {
  return ACTIVATION_TABLE[act].derivative.from === 'output';
}

const scalar: Splat = (v) => v;
const lanes4: Splat = (v) => `vec4<f32>(${v})`;

/** The WGSL of σ as `fn act(x: f32)` (`lanes` 1) or `fn act4(x: vec4<f32>)` (`lanes` 4), with its NaN test. */
export function activationWgsl(act: Activation, lanes: 1 | 4 = 1): string {
  const value = ACTIVATION_TABLE[act].value;
  if (lanes === 1) {
    return [
      'fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
      `fn act(x: f32) -> f32 { return select(${value(scalar)}, x, is_nan(x)); }`,
    ].join('\n');
  }
  return [
    'fn is_nan4(x: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }',
    `fn act4(x: vec4<f32>) -> vec4<f32> { return select(${value(lanes4)}, x, is_nan4(x)); }`,
  ].join('\n');
}

/** The WGSL of σ'' given u and x = σ(u): `fn act_grad2(u: f32, x: f32)` (flows' gradient kernels). */
export function activationSecondWgsl(act: Activation): string {
  const { lets, expr } = ACTIVATION_TABLE[act].second as ActivationEntry['second'];
  return `fn act_grad2(u: f32, x: f32) -> f32 { ${lets ?? ''}return ${expr}; }`;
}

/**
 * The WGSL of σ' given u and x = σ(u): `fn act_grad(u: f32, x: f32)` or
 * `fn act_grad4(u: vec4<f32>, x: vec4<f32>)`. With a derivative from the
 * output, callers that keep no pre-activations pass x for u.
 */
export function activationGradWgsl(act: Activation, lanes: 1 | 4 = 1): string {
  const { lets, expr } = ACTIVATION_TABLE[act].derivative as ActivationEntry['derivative'];
  const c = lanes === 1 ? scalar : lanes4;
  const T = lanes === 1 ? 'f32' : 'vec4<f32>';
  return `fn act_grad${lanes === 1 ? '' : '4'}(u: ${T}, x: ${T}) -> ${T} { ${lets ? lets(c) : ''}return ${expr(c)}; }`;
}
