/**
 * WGSL for the MLP vector field f(t, z; θ) = L_n(act(… act(L_1(x)))), with
 * x = z, or x = [z, t] when the time is an input. The generator writes one
 * straight-line function per network shape with every parameter offset a
 * compile-time constant; the shape (widths, activation, time input) is the
 * compile-time spec and its `key` names the pipelines built from it.
 *
 * Parameter layout (PyTorch `nn.Linear`, layer by layer): weight [out, in]
 * row-major, then bias [out].
 */

/** Activation functions between layers (none after the last layer). */
export type Activation = 'tanh' | 'softplus' | 'relu' | 'sigmoid' | 'silu' | 'identity';

export const ACTIVATIONS: readonly Activation[] = ['tanh', 'softplus', 'relu', 'sigmoid', 'silu', 'identity'];

/** The compile-time description of an MLP. */
export interface MlpSpec {
  /** Widths of the Linear layers: [input, hidden…, output]; input = output (+1 with timeInput). */
  readonly layers: readonly number[];
  readonly activation: Activation;
  readonly timeInput: boolean;
}

/** Offsets of one Linear layer in the flat parameter vector. */
export interface LinearOffsets {
  readonly inWidth: number;
  readonly outWidth: number;
  readonly weight: number;
  readonly bias: number;
}

/** Offsets of every layer, and the total parameter count. */
export function mlpOffsets(layers: readonly number[]): { layers: LinearOffsets[]; count: number } {
  const out: LinearOffsets[] = [];
  let off = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const inWidth = layers[l];
    const outWidth = layers[l + 1];
    out.push({ inWidth, outWidth, weight: off, bias: off + inWidth * outWidth });
    off += inWidth * outWidth + outWidth;
  }
  return { layers: out, count: off };
}

/** State dimension D of an MLP spec (the output width). */
export function stateDim(spec: MlpSpec): number {
  return spec.layers[spec.layers.length - 1];
}

/** The cache key of an MLP spec. */
export function mlpKey(spec: MlpSpec): string {
  return `mlp[${spec.layers.join('-')}|${spec.activation}|${spec.timeInput ? 't' : 'z'}]`;
}

/**
 * WGSL of the activation σ(x). Arguments of exp/tanh are clamped where the
 * function has saturated in float32, so no intermediate overflows to Inf.
 * A NaN input stays NaN: min/max/clamp of a NaN are implementation-defined in
 * WGSL (some return the other operand), which would turn a NaN parameter into
 * a plausible finite value; `act` tests the bits and passes a NaN through so
 * the solver's non-finite checks see it.
 */
export function activationWgsl(act: Activation): string {
  const body = ((): string => {
    switch (act) {
      case 'tanh':
        // tanh(±9.1) rounds to ±1 in float32.
        return 'tanh(clamp(x, -9.1, 9.1))';
      case 'softplus':
        // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), exact for every x without overflow.
        return 'max(x, 0.0) + log(1.0 + exp(-abs(x)))';
      case 'relu':
        return 'max(x, 0.0)';
      case 'sigmoid':
        return '1.0 / (1.0 + exp(-clamp(x, -88.0, 88.0)))';
      case 'silu':
        return 'x / (1.0 + exp(-clamp(x, -88.0, 88.0)))';
      case 'identity':
        return 'x';
    }
  })();
  return [
    'fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
    `fn act(x: f32) -> f32 { return select(${body}, x, is_nan(x)); }`,
  ].join('\n');
}

/** Names the generated MLP function uses for itself and its input/output private arrays. */
export interface MlpNames {
  readonly fn: string;
  readonly input: string;
  readonly output: string;
  /** Declare the input/output private arrays (false when the including module already has them). */
  readonly declare: boolean;
  /** Emit `fn act` (false when the including module already has it, e.g. from the VJP code). */
  readonly activation?: boolean;
}

const DEFAULT_NAMES: MlpNames = { fn: 'mlp_eval', input: 'mlp_in', output: 'mlp_out', declare: true };

/**
 * The MLP evaluation: `fn mlp_eval(t: f32)` reads the private array `mlp_in`
 * (the state, D values) and writes `mlp_out` (D values); other names can be
 * chosen. The caller's shader binds the parameters as `theta: array<f32>`
 * (storage, read). Also emits `act`.
 */
export function mlpWgsl(spec: MlpSpec, names: MlpNames = DEFAULT_NAMES): string {
  const { layers } = mlpOffsets(spec.layers);
  const D = stateDim(spec);
  const lines: string[] = [];
  lines.push(`// MLP ${mlpKey(spec)}`);
  if (names.declare) {
    lines.push(`var<private> ${names.input}: array<f32, ${D}>;`);
    lines.push(`var<private> ${names.output}: array<f32, ${D}>;`);
  }
  if (names.activation !== false) lines.push(activationWgsl(spec.activation));
  lines.push(`fn ${names.fn}(t: f32) {`);
  layers.forEach((L, l) => {
    const last = l === layers.length - 1;
    const src = l === 0 ? names.input : `h${l - 1}`;
    const dst = last ? names.output : `h${l}`;
    const nState = l === 0 && spec.timeInput ? L.inWidth - 1 : L.inWidth;
    if (!last) lines.push(`  var h${l}: array<f32, ${L.outWidth}>;`);
    lines.push(`  for (var o = 0u; o < ${L.outWidth}u; o++) {`);
    lines.push(`    var acc = theta[${L.bias}u + o];`);
    lines.push(`    let w = ${L.weight}u + o * ${L.inWidth}u;`);
    lines.push(`    for (var i = 0u; i < ${nState}u; i++) { acc = fma(theta[w + i], ${src}[i], acc); }`);
    if (l === 0 && spec.timeInput) lines.push(`    acc = fma(theta[w + ${nState}u], t, acc);`);
    lines.push(last ? `    ${dst}[o] = acc;` : `    ${dst}[o] = act(acc);`);
    lines.push('  }');
  });
  lines.push('}');
  return lines.join('\n');
}

/** Floating-point operations of one MLP evaluation per sample (2·in·out per layer, activations excluded). */
export function mlpFlops(spec: MlpSpec): number {
  return mlpOffsets(spec.layers).layers.reduce((s, L) => s + 2 * L.inWidth * L.outWidth, 0);
}
