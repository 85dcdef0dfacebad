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

import { type Activation, activationWgsl } from './activations';

export { ACTIVATIONS, type Activation } from './activations';

/** WGSL's limit on the function-scope variables of one function (8,192 bytes), in floats. */
export const WGSL_FUNCTION_FLOATS = 2048;

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
 * The binding of the parameters θ (binding 1 of every kernel that reads
 * them): an array of exactly `count` floats rather than a runtime-sized one,
 * so a load at a constant index is checked when the shader is compiled instead
 * of being clamped against the buffer's length at run time, and a dynamic
 * index is clamped against a constant. The bound buffer holds at least
 * `count` floats (WebGPU checks it at dispatch).
 */
export function thetaBindingWgsl(count: number): string {
  return `@group(0) @binding(1) var<storage, read> theta: array<f32, ${count}>;`;
}

/**
 * The MLP evaluation: `fn mlp_eval(t: f32)` reads the private array `mlp_in`
 * (the state, D values) and writes `mlp_out` (D values); other names can be
 * chosen. The caller's shader binds the parameters as `theta`
 * (`thetaBindingWgsl`). Also emits `act`.
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
  const L = layers.length;
  // With a hidden layer, the last Linear is streamed into the loop of the
  // layer before it: each hidden unit, once activated, is added to the D
  // outputs at once, so the widest hidden layer never needs an array.
  const stream = L >= 2;
  const emitted = stream ? L - 1 : L;
  for (let l = 0; l < emitted; l++) {
    const Ly = layers[l];
    const src = l === 0 ? names.input : `h${l - 1}`;
    const nState = l === 0 && spec.timeInput ? Ly.inWidth - 1 : Ly.inWidth;
    const streamed = stream && l === L - 2;
    const dst = l === L - 1 ? names.output : `h${l}`;
    if (streamed) {
      const out = layers[L - 1];
      for (let d = 0; d < out.outWidth; d++) lines.push(`  ${names.output}[${d}] = theta[${out.bias + d}u];`);
    } else if (l < L - 1) {
      lines.push(`  var h${l}: array<f32, ${Ly.outWidth}>;`);
    }
    lines.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    lines.push(`    var acc = theta[${Ly.bias}u + o];`);
    lines.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    lines.push(...innerProduct(src, nState));
    if (l === 0 && spec.timeInput) lines.push(`    acc = fma(theta[w + ${nState}u], t, acc);`);
    if (streamed) {
      const out = layers[L - 1];
      lines.push('    let a = act(acc);');
      for (let d = 0; d < out.outWidth; d++) {
        lines.push(`    ${names.output}[${d}] = fma(theta[${out.weight + d * out.inWidth}u + o], a, ${names.output}[${d}]);`);
      }
    } else {
      lines.push(l === L - 1 ? `    ${dst}[o] = acc;` : `    ${dst}[o] = act(acc);`);
    }
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n');
}

/**
 * Inputs up to this width are summed with constant indices (unrolled):
 * a private-array read with a loop index becomes a gather on SIMD
 * implementations (SwiftShader runs invocations as vector lanes), which
 * costs more than the FMA itself; wider inputs keep the loop (long unrolled
 * bodies compile slowly and help less).
 */
export const UNROLL_MAX_WIDTH = 64;

/** `acc += Σ_i θ[w + i]·src[i]` for i < n, in index order (the same rounding either way). */
function innerProduct(src: string, n: number): string[] {
  if (n > UNROLL_MAX_WIDTH) return [`    for (var i = 0u; i < ${n}u; i++) { acc = fma(theta[w + i], ${src}[i], acc); }`];
  return Array.from({ length: n }, (_, i) => `    acc = fma(theta[w + ${i}u], ${src}[${i}], acc);`);
}

/** Floating-point operations of one MLP evaluation per sample (2·in·out per layer, activations excluded). */
export function mlpFlops(spec: MlpSpec): number {
  return mlpOffsets(spec.layers).layers.reduce((s, L) => s + 2 * L.inWidth * L.outWidth, 0);
}
