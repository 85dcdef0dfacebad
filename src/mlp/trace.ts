/**
 * The augmented vector field of a continuous normalizing flow (FFJORD) in
 * WGSL, driven by the MLP's layer plan: for the state s = [z, l, (k), (j)]
 *
 *   dz/dt = f(t, z),
 *   dl/dt = tr(∂f/∂z)                 (trace 'exact': D forward-mode sweeps, one per e_k)
 *         = εᵀ(∂f/∂z)ε                (trace 'hutchinson': one forward-mode sweep with ε),
 *   dk/dt = ‖f‖²                       (kinetic-energy regulariser, when asked for),
 *   dj/dt = ‖∂f/∂z‖²_F                 (exact: the squares of the D Jacobian columns)
 *         = ‖(∂f/∂z)ε‖²                (hutchinson: the JVP with ε, an unbiased estimate when E[εεᵀ] = I).
 *
 * Forward mode: the forward pass keeps σ'(u) of every hidden unit; a sweep
 * with input tangent v (e_k or ε on the z inputs; the time input's tangent is
 * 0) carries ṗ_l = W_l·ẋ_{l−1}, ẋ_l = σ'(u_l) ⊙ ṗ_l through the layers, and
 * the output layer's ṗ is the Jacobian–vector product (∂f/∂z)v. With the
 * time input, only the z columns of the first layer enter the Jacobian.
 *
 * Emitted as `fn rhs_eval(t: f32)` reading `rhs_in` and writing `rhs_out`
 * (the RK core's arrays, width `cnfStateWidth`), plus `act`, `act_grad` and,
 * for Hutchinson, the private per-sample `eps` the including kernel fills.
 */
import { activationGradWgsl, activationWgsl } from './activations';
import { type MlpSpec, mlpPlan } from './plan';

/** How dl/dt is computed. */
export type TraceKind = 'exact' | 'hutchinson';

/** The compile-time spec of an augmented CNF field. */
export interface CnfFieldSpec {
  readonly mlp: MlpSpec;
  readonly trace: TraceKind;
  /** Carry ∫‖f‖² dt as a state. */
  readonly kinetic: boolean;
  /** Carry ∫‖∂f/∂z‖²_F dt (exact) or ∫‖(∂f/∂z)ε‖² dt (hutchinson) as a state. */
  readonly jacobian: boolean;
}

/** Width of the augmented state: D + 1 (+1 per regulariser). */
export function cnfStateWidth(spec: CnfFieldSpec): number {
  return mlpPlan(spec.mlp).D + 1 + (spec.kinetic ? 1 : 0) + (spec.jacobian ? 1 : 0);
}

/** Index of each regulariser's state in the augmented state (−1 when absent). */
export function cnfRegIndex(spec: CnfFieldSpec): { kinetic: number; jacobian: number } {
  const D = mlpPlan(spec.mlp).D;
  return { kinetic: spec.kinetic ? D + 1 : -1, jacobian: spec.jacobian ? D + 1 + (spec.kinetic ? 1 : 0) : -1 };
}

/** Floats of function-scope memory `rhs_eval` declares: x and σ' of every hidden unit, two tangent vectors. */
export function cnfFieldFloats(spec: MlpSpec): number {
  const plan = mlpPlan(spec);
  const widest = Math.max(plan.D, ...plan.layers.map((L) => L.outWidth));
  return 2 * plan.hiddenUnits + 2 * widest + plan.D;
}

/** The WGSL of the augmented field (see the file header). */
export function cnfFieldWgsl(spec: CnfFieldSpec): string {
  const plan = mlpPlan(spec.mlp);
  const { D, layers } = plan;
  const reg = cnfRegIndex(spec);
  const L: string[] = [];
  L.push(activationWgsl(spec.mlp.activation), activationGradWgsl(spec.mlp.activation, 1));
  if (spec.trace === 'hutchinson') L.push(`// ε of this invocation's sample (filled by the kernel's sample_setup).`, `var<private> eps: array<f32, ${D}>;`);
  L.push('fn rhs_eval(t: f32) {');
  // Forward pass: x_l = σ(u_l) and s_l = σ'(u_l) of every hidden layer, f into rhs_out.
  for (const Ly of layers) {
    const l = Ly.index;
    const src = l === 0 ? 'rhs_in' : `x${l - 1}`;
    if (!Ly.last) L.push(`  var x${l}: array<f32, ${Ly.outWidth}>;`, `  var s${l}: array<f32, ${Ly.outWidth}>;`);
    L.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    L.push(`    let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    L.push(`    var acc = theta[${Ly.bias}u + o];`);
    L.push(`    for (var i = 0u; i < ${Ly.vectorInputs}u; i++) { acc = fma(theta[w + i], ${src}[i], acc); }`);
    if (l === 0 && spec.mlp.timeInput) L.push(`    acc = fma(theta[w + ${Ly.vectorInputs}u], t, acc);`);
    if (Ly.last) {
      L.push('    rhs_out[o] = acc;');
    } else {
      L.push(`    x${l}[o] = act(acc);`, `    s${l}[o] = act_grad(acc, x${l}[o]);`);
    }
    L.push('  }');
  }
  L.push('  var tr = 0.0;');
  if (spec.jacobian) L.push('  var jf = 0.0;');
  // One forward-mode sweep with the input tangent `tin` (ta/tb alternate between layers).
  const widest = Math.max(D, ...layers.map((Ly) => Ly.outWidth));
  L.push(`  var ta: array<f32, ${widest}>;`, `  var tb: array<f32, ${widest}>;`);
  const sweep = (first: (o: string) => string): { S: string[]; jv: string } => {
    const S: string[] = [];
    let cur = 'ta';
    let next = 'tb';
    for (const Ly of layers) {
      const l = Ly.index;
      S.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
      if (l === 0) {
        S.push(`      let p = ${first('o')};`);
      } else {
        S.push(`      let w = ${Ly.weight}u + o * ${Ly.inWidth}u;`, '      var p = 0.0;');
        S.push(`      for (var i = 0u; i < ${Ly.inWidth}u; i++) { p = fma(theta[w + i], ${cur}[i], p); }`);
      }
      S.push(`      ${next}[o] = ${Ly.last ? 'p' : `s${l}[o] * p`};`, '    }');
      [cur, next] = [next, cur];
    }
    // The Jacobian–vector product is now in `cur`.
    return { S, jv: cur };
  };
  const in0 = layers[0].inWidth;
  if (spec.trace === 'exact') {
    L.push(`  for (var k = 0u; k < ${D}u; k++) {`);
    // Layer 0 with tangent e_k: column k of W_0.
    const { S, jv } = sweep((o) => `theta[${layers[0].weight}u + ${o} * ${in0}u + k]`);
    L.push(...S, `    tr += ${jv}[k];`);
    if (spec.jacobian) L.push(`    for (var d = 0u; d < ${D}u; d++) { jf = fma(${jv}[d], ${jv}[d], jf); }`);
    L.push('  }');
  } else {
    L.push('  {');
    const { S, jv } = sweep((o) => `dot_eps(${layers[0].weight}u + ${o} * ${in0}u)`);
    L.push(...S, `    for (var d = 0u; d < ${D}u; d++) { tr = fma(eps[d], ${jv}[d], tr); }`);
    if (spec.jacobian) L.push(`    for (var d = 0u; d < ${D}u; d++) { jf = fma(${jv}[d], ${jv}[d], jf); }`);
    L.push('  }');
  }
  L.push(`  rhs_out[${D}] = tr;`);
  if (spec.kinetic) {
    L.push('  var ke = 0.0;', `  for (var d = 0u; d < ${D}u; d++) { ke = fma(rhs_out[d], rhs_out[d], ke); }`, `  rhs_out[${reg.kinetic}] = ke;`);
  }
  if (spec.jacobian) L.push(`  rhs_out[${reg.jacobian}] = jf;`);
  L.push('}');
  if (spec.trace === 'hutchinson') {
    // Σ_k W_0[o, k]·ε_k over the z columns of a row of the first layer.
    L.push(
      'fn dot_eps(w: u32) -> f32 {',
      '  var p = 0.0;',
      `  for (var k = 0u; k < ${D}u; k++) { p = fma(theta[w + k], eps[k], p); }`,
      '  return p;',
      '}',
    );
  }
  return L.join('\n');
}
