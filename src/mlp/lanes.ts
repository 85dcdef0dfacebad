/**
 * The MLP on K samples per invocation, for the batched forward kernel
 * (src/kernels/mlp-forward.ts). The K samples are the lanes of K/4 vec4<f32>
 * groups, so every weight loaded from θ feeds K FMAs instead of one. Each
 * inner product is unrolled, so every private-array index is a compile-time
 * constant (on SIMD implementations such as SwiftShader, which run
 * invocations as vector lanes, a private read with a loop index is a gather);
 * the loop over a layer's outputs stays a loop. As in `mlpWgsl`, the last
 * Linear is streamed into the loop of the layer before it. Lane by lane, the
 * arithmetic is the one-sample MLP's, in the same order, so both kernels give
 * the same float32 results.
 */
import { type MlpSpec, mlpLabel } from './mlp';
import { WGSL_FUNCTION_FLOATS, forwardLaneFloats, mlpPlan } from './plan';
import { activationWgsl } from './activations';

/** Samples per invocation the forward kernel tries, the preferred first. */
export const LANE_COUNTS: readonly number[] = [16, 8, 4];

/**
 * The largest lane count whose arrays (`forwardLaneFloats`) fit WGSL's limit,
 * or 1 (one sample per invocation) when none does. They depend on the widths
 * alone.
 */
export function lanesFor(layers: readonly number[]): number {
  const plan = mlpPlan({ layers, activation: 'identity', timeInput: false });
  return LANE_COUNTS.find((k) => forwardLaneFloats(plan, k) <= WGSL_FUNCTION_FLOATS) ?? 1;
}

const COMPONENTS = ['x', 'y', 'z', 'w'];

/**
 * `fn evaluate(first: u32)`: f(P.t, z) for the samples first … first + K − 1
 * of the forward kernel's bindings (`P.batch`, `P.t`, `theta`, `z`, `out`,
 * the constant `D`). Lanes past the end of the batch evaluate the last sample
 * again and store nothing. Also emits `act4`.
 */
export function lanesWgsl(spec: MlpSpec, lanes: number): string {
  if (!LANE_COUNTS.includes(lanes)) throw new Error(`lane count ${lanes} is not one of ${LANE_COUNTS.join(', ')}`);
  const plan = mlpPlan(spec);
  const { D } = plan;
  const groups = Array.from({ length: lanes / 4 }, (_, q) => q);
  // With a hidden layer, the last Linear is streamed into the loop of the layer before it (`streamsOutput`).
  const lines: string[] = [`// MLP ${mlpLabel(spec)}, ${lanes} samples per invocation`, activationWgsl(spec.activation, 4)];
  const push = (indent: number, line: string) => lines.push(`${'  '.repeat(indent)}${line}`);

  push(0, 'fn evaluate(first: u32) {');
  push(1, 'let last = P.batch - 1u;');
  if (spec.timeInput) push(1, 'let tv = vec4<f32>(P.t);');
  // Group q holds samples first + 4q … first + 4q + 3 in its components x, y, z, w.
  // The state and the output move in loops over d: a loop index keeps these
  // arrays in memory. With constant indices only, the compiler would hold their
  // 2·K·D values in registers, and wide states would take tens of seconds to
  // compile (SwiftShader, [200, 200, 200]: 46 s instead of 2 s).
  for (const q of groups) push(1, `var x${q}: array<vec4<f32>, ${D}>;`);
  push(1, 'for (var d = 0u; d < D; d++) {');
  for (const q of groups) {
    const loads = COMPONENTS.map((_, k) => `z[min(first + ${4 * q + k}u, last) * D + d]`);
    push(2, `x${q}[d] = vec4<f32>(${loads.join(', ')});`);
  }
  push(1, '}');
  for (const q of groups) push(1, `var y${q}: array<vec4<f32>, ${D}>;`);

  layerSweep(plan, groups, (q) => `x${q}`, (q) => `y${q}`, 'tv', push);

  push(1, 'for (var d = 0u; d < D; d++) {');
  for (const q of groups) {
    COMPONENTS.forEach((c, k) => {
      const s = `first + ${4 * q + k}u`;
      push(2, `if (${s} <= last) { out[(${s}) * D + d] = y${q}[d].${c}; }`);
    });
  }
  push(1, '}');
  push(0, '}');
  return lines.join('\n');
}

/**
 * The layers of one forward evaluation on vec4 groups: group q reads its state
 * from the array `input(q)` and leaves f in `output(q)`; `time` is the vec4
 * time input (read only with `timeInput`). Lane by lane, `mlpWgsl`'s
 * arithmetic in its order.
 */
function layerSweep(
  plan: ReturnType<typeof mlpPlan>,
  groups: readonly number[],
  input: (q: number) => string,
  output: (q: number) => string,
  time: string,
  push: (indent: number, line: string) => void,
): void {
  const { D, layers, spec } = plan;
  const outLayer = layers[layers.length - 1];
  for (const Ly of layers.slice(0, plan.forwardLayers)) {
    const l = Ly.index;
    const src = (q: number) => (l === 0 ? input(q) : `h${l - 1}_${q}`);
    const nState = Ly.vectorInputs;
    const streamed = Ly.streamsOutput;
    if (streamed) {
      for (let d = 0; d < D; d++) {
        push(1, `{ let b = vec4<f32>(theta[${outLayer.bias + d}u]); ${groups.map((q) => `${output(q)}[${d}] = b;`).join(' ')} }`);
      }
    } else if (!Ly.last) {
      for (const q of groups) push(1, `var h${l}_${q}: array<vec4<f32>, ${Ly.outWidth}>;`);
    }
    push(1, `for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    push(2, `let b = vec4<f32>(theta[${Ly.bias}u + o]);`);
    for (const q of groups) push(2, `var acc${q} = b;`);
    push(2, `let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    for (let i = 0; i < nState; i++) {
      push(2, `{ let v = vec4<f32>(theta[w + ${i}u]); ${groups.map((q) => `acc${q} = fma(v, ${src(q)}[${i}], acc${q});`).join(' ')} }`);
    }
    if (l === 0 && spec.timeInput) {
      push(2, `{ let v = vec4<f32>(theta[w + ${nState}u]); ${groups.map((q) => `acc${q} = fma(v, ${time}, acc${q});`).join(' ')} }`);
    }
    if (streamed) {
      for (const q of groups) push(2, `let a${q} = act4(acc${q});`);
      for (let d = 0; d < D; d++) {
        const v = `vec4<f32>(theta[${outLayer.weight + d * outLayer.inWidth}u + o])`;
        push(2, `{ let v = ${v}; ${groups.map((q) => `${output(q)}[${d}] = fma(v, a${q}, ${output(q)}[${d}]);`).join(' ')} }`);
      }
    } else if (Ly.last) {
      for (const q of groups) push(2, `${output(q)}[o] = acc${q};`);
    } else {
      for (const q of groups) push(2, `h${l}_${q}[o] = act4(acc${q});`);
    }
    push(1, '}');
  }
}

/**
 * `fn ${fn}(t: vec4<f32>)`: f(t, z) of four samples, the lanes of one vec4
 * group, from the private `rhs_in: array<vec4<f32>, D>` into `rhs_out` (the
 * lane forward solver's vector field; `act4` is emitted by the includer).
 * Lane by lane the arithmetic of `mlpWgsl`'s `rhs_eval`.
 */
export function laneRhsWgsl(spec: MlpSpec, fn = 'rhs4'): string {
  const plan = mlpPlan(spec);
  const lines: string[] = [`// MLP ${mlpLabel(spec)} on four lanes`, `fn ${fn}(t: vec4<f32>) {`];
  const push = (indent: number, line: string) => lines.push(`${'  '.repeat(indent)}${line}`);
  layerSweep(plan, [0], () => 'rhs_in', () => 'rhs_out', 't', push);
  lines.push('}');
  return lines.join('\n');
}
