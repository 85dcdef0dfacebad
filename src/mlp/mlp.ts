/**
 * WGSL for the MLP vector field f(t, z; θ) = L_n(act(… act(L_1(x)))), with
 * x = z, or x = [z, t] when the time is an input. The generator writes one
 * straight-line function per network shape with every parameter offset a
 * compile-time constant; the shape (widths, activation, time input) is the
 * compile-time spec, part of the spec of every kernel that evaluates the MLP.
 *
 * Parameter layout (PyTorch `nn.Linear`, layer by layer): weight [out, in]
 * row-major, then bias [out].
 */

import { activationWgsl } from './activations';
import { type LayerPlan, type MlpSpec, mlpPlan } from './plan';

export { ACTIVATIONS, type Activation } from './activations';
export { type LinearOffsets, type MlpSpec, UNROLL_MAX_WIDTH, WGSL_FUNCTION_FLOATS, mlpOffsets } from './plan';

/** State dimension D of an MLP spec (the output width). */
export function stateDim(spec: MlpSpec): number {
  return spec.layers[spec.layers.length - 1];
}

/** A short text of an MLP spec, for the comments of generated WGSL (cache keys come from the kernel spec: `specKey`). */
export function mlpLabel(spec: MlpSpec): string {
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
 * The MLP evaluation: `fn mlp_eval(t: f32)` reads the private array `mlp_in`
 * (the state, D values) and writes `mlp_out` (D values); other names can be
 * chosen. The caller's shader binds the parameters as `theta`
 * (`theta: storage('read', 'f32', P)` in the kernel's bindings: exactly P
 * floats, see `storage`). Also emits `act`.
 */
export function mlpWgsl(spec: MlpSpec, names: MlpNames = DEFAULT_NAMES): string {
  const plan = mlpPlan(spec);
  const { D, layers } = plan;
  const out = layers[layers.length - 1];
  const lines: string[] = [];
  lines.push(`// MLP ${mlpLabel(spec)}`);
  if (names.declare) {
    lines.push(`var<private> ${names.input}: array<f32, ${D}>;`);
    lines.push(`var<private> ${names.output}: array<f32, ${D}>;`);
  }
  if (names.activation !== false) lines.push(activationWgsl(spec.activation));
  lines.push(`fn ${names.fn}(t: f32) {`);
  // With a hidden layer, the last Linear is streamed into the loop of the
  // layer before it (`streamsOutput`): each hidden unit, once activated, is
  // added to the D outputs at once, so the widest hidden layer never needs an
  // array.
  for (const Ly of layers.slice(0, plan.forwardLayers)) {
    const l = Ly.index;
    const src = l === 0 ? names.input : `h${l - 1}`;
    const dst = Ly.last ? names.output : `h${l}`;
    if (Ly.streamsOutput) {
      for (let d = 0; d < out.outWidth; d++) lines.push(`  ${names.output}[${d}] = theta[${out.bias + d}u];`);
    } else if (!Ly.last) {
      lines.push(`  var h${l}: array<f32, ${Ly.outWidth}>;`);
    }
    lines.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    lines.push(`    var acc = theta[${Ly.bias}u + o];`);
    lines.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    lines.push(...innerProduct(src, Ly));
    if (l === 0 && spec.timeInput) lines.push(`    acc = fma(theta[w + ${Ly.vectorInputs}u], t, acc);`);
    if (Ly.streamsOutput) {
      lines.push('    let a = act(acc);');
      for (let d = 0; d < out.outWidth; d++) {
        lines.push(`    ${names.output}[${d}] = fma(theta[${out.weight + d * out.inWidth}u + o], a, ${names.output}[${d}]);`);
      }
    } else {
      lines.push(Ly.last ? `    ${dst}[o] = acc;` : `    ${dst}[o] = act(acc);`);
    }
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n');
}

/** `acc += Σ_i θ[w + i]·src[i]` over the layer's vector inputs, in index order (the same rounding either way). */
function innerProduct(src: string, Ly: LayerPlan): string[] {
  const n = Ly.vectorInputs;
  if (!Ly.unrolledInputs) return [`    for (var i = 0u; i < ${n}u; i++) { acc = fma(theta[w + i], ${src}[i], acc); }`];
  return Array.from({ length: n }, (_, i) => `    acc = fma(theta[w + ${i}u], ${src}[${i}], acc);`);
}

/** Floating-point operations of one MLP evaluation per sample (2·in·out per layer, activations excluded). */
export function mlpFlops(spec: MlpSpec): number {
  return mlpPlan(spec).layers.reduce((s, L) => s + 2 * L.inWidth * L.outWidth, 0);
}
