/**
 * WGSL for the vector–Jacobian products of the MLP, for the gradient kernels.
 *
 * `fn mlp_vjp(t, w, accumulate)` reads z and a cotangent v from a private
 * array, writes f(t, z) and ±vᵀ∂f/∂z to another and, when `accumulate`, adds
 * w·vᵀ∂f/∂θ to a parameter row: by default the sample's accumulator
 * `acc[acc_base + p]` (kept in private memory for small P, see
 * `LOCAL_ACCUMULATOR_MAX`), or a row the includer names. It runs one forward
 * sweep through the layers that keeps every layer's pre-activations u_l and
 * outputs x_l in registers, then one backward sweep: δ_{L-1} = v,
 * δ_{l-1} = (W_lᵀ δ_l) ⊙ σ'(u_{l-1}), ∂/∂W_l = δ_l x_lᵀ, ∂/∂b_l = δ_l, and
 * vᵀ∂f/∂x_0 = W_0ᵀ δ_0 (its last entry is vᵀ∂f/∂t with the time input).
 */
import { type MlpSpec, mlpLabel } from './mlp';
import { mlpPlan } from './plan';
import { activationGradWgsl, activationWgsl } from './activations';

/**
 * Parameter counts up to which a sample's parameter-adjoint row is kept in
 * private memory for a whole dispatch (loaded once, stored once) instead of
 * being read and written in storage at every stage: storage traffic is what
 * limits the gradient kernels. 1,024 floats leave room within WGSL's 8 KiB of
 * private memory for the solver's own arrays.
 */
export const LOCAL_ACCUMULATOR_MAX = 1024;

/** The element at a parameter index of the accumulator row: private (`acc_row`) or in storage. */
export function accumulatorRef(local: boolean): (index: string) => string {
  return (idx) => (local ? `acc_row[${idx}]` : `acc[acc_base + ${idx}]`);
}

/**
 * `acc_load()` / `acc_store()` and, for small P, the private row they move
 * (the includer declares `acc` and the private `acc_base: u32`).
 */
export function accumulatorWgsl(count: number, local: boolean): string {
  if (!local) {
    return [
      '// The parameter-adjoint row stays in storage: acc[acc_base + p].',
      'fn acc_load() {}',
      'fn acc_store() {}',
    ].join('\n');
  }
  return [
    `// The parameter-adjoint row (${count} floats) lives in private memory during a dispatch.`,
    `var<private> acc_row: array<f32, ${count}>;`,
    `fn acc_load() { for (var p = 0u; p < ${count}u; p++) { acc_row[p] = acc[acc_base + p]; } }`,
    `fn acc_store() { for (var p = 0u; p < ${count}u; p++) { acc[acc_base + p] = acc_row[p]; } }`,
  ].join('\n');
}

/** Where `mlp_vjp` reads z and the cotangent v, writes f and the input gradient, and adds vᵀ∂f/∂θ. */
export interface VjpIo {
  /** Private array holding z at [0, D) and v at [D, 2D). */
  readonly input: string;
  /** Private array receiving f at [0, D) and ±vᵀ∂f/∂z at [D, 2D). */
  readonly output: string;
  /** Write −vᵀ∂f/∂z (the adjoint's da/dt) instead of +vᵀ∂f/∂z. */
  readonly negate: boolean;
  /**
   * WGSL of the element at a parameter index of the row that receives
   * w·vᵀ∂f/∂θ; the includer declares it. Default: the sample's accumulator
   * row, declared here with `acc_load()` / `acc_store()`.
   */
  readonly row?: (index: string) => string;
}

/**
 * The generated `mlp_vjp(t, w, accumulate)`. The including module provides
 * `theta` (parameters), the private `vjp_gt: f32` (vᵀ∂f/∂t with the time
 * input) and the arrays named by `io` (2D values each); with the default row,
 * also `acc` (read_write storage) and the private `acc_base: u32`.
 */
export function vjpWgsl(spec: MlpSpec, io: VjpIo): string {
  // The one-sample VJP keeps every hidden layer's pre-activations, whatever the activation (`vjpFloats`'s 'scalar').
  const { D, layers, params: count } = mlpPlan(spec);
  const L = layers.length;
  const out: string[] = [];
  const local = count <= LOCAL_ACCUMULATOR_MAX;
  const ref = io.row ?? accumulatorRef(local);
  out.push(`// VJPs of MLP ${mlpLabel(spec)}`);
  if (!io.row) out.push(accumulatorWgsl(count, local));
  out.push(activationWgsl(spec.activation));
  out.push(activationGradWgsl(spec.activation));
  out.push('fn mlp_vjp(t: f32, w: f32, accumulate: bool) {');
  // Forward sweep: x0 is the input, u_l / x_{l+1} each hidden layer.
  out.push(`  var x0: array<f32, ${layers[0].inWidth}>;`);
  out.push(`  for (var i = 0u; i < ${D}u; i++) { x0[i] = ${io.input}[i]; }`);
  if (spec.timeInput) out.push(`  x0[${D}] = t;`);
  layers.forEach((Ly, l) => {
    const last = l === L - 1;
    if (!last) {
      out.push(`  var u${l}: array<f32, ${Ly.outWidth}>;`);
      out.push(`  var x${l + 1}: array<f32, ${Ly.outWidth}>;`);
    }
    out.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    out.push(`    var s = theta[${Ly.bias}u + o];`);
    out.push(`    let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    out.push(`    for (var i = 0u; i < ${Ly.inWidth}u; i++) { s = fma(theta[r + i], x${l}[i], s); }`);
    if (last) out.push(`    ${io.output}[o] = s;`);
    else out.push(`    u${l}[o] = s;\n    x${l + 1}[o] = act(s);`);
    out.push('  }');
  });
  // Backward sweep.
  out.push(`  var d${L - 1}: array<f32, ${D}>;`);
  out.push(`  for (var o = 0u; o < ${D}u; o++) { d${L - 1}[o] = ${io.input}[${D}u + o]; }`);
  for (let l = L - 1; l >= 0; l--) {
    const Ly = layers[l];
    out.push('  if (accumulate) {');
    out.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    out.push(`      let g = w * d${l}[o];`);
    out.push(`      ${ref(`${Ly.bias}u + o`)} += g;`);
    out.push(`      let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    out.push(`      for (var i = 0u; i < ${Ly.inWidth}u; i++) { ${ref('r + i')} = fma(g, x${l}[i], ${ref('r + i')}); }`);
    out.push('    }');
    out.push('  }');
    if (l > 0) {
      out.push(`  var d${l - 1}: array<f32, ${Ly.inWidth}>;`);
      out.push(`  for (var i = 0u; i < ${Ly.inWidth}u; i++) {`);
      out.push('    var s = 0.0;');
      out.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) { s = fma(theta[${Ly.weight}u + o * ${Ly.inWidth}u + i], d${l}[o], s); }`);
      out.push(`    d${l - 1}[i] = s * act_grad(u${l - 1}[i], x${l}[i]);`);
      out.push('  }');
    } else {
      out.push(`  for (var i = 0u; i < ${Ly.inWidth}u; i++) {`);
      out.push('    var s = 0.0;');
      out.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) { s = fma(theta[${Ly.weight}u + o * ${Ly.inWidth}u + i], d0[o], s); }`);
      out.push(`    if (i < ${D}u) { ${io.output}[${D}u + i] = ${io.negate ? '-s' : 's'}; } else { vjp_gt = s; }`);
      out.push('  }');
    }
  }
  out.push('}');
  return out.join('\n');
}
