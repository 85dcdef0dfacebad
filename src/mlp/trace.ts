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
import { activationGradWgsl, activationSecondWgsl, activationWgsl } from './activations';
import { type MlpSpec, mlpPlan } from './plan';

/** How dl/dt is computed. */
export type TraceKind = 'exact' | 'hutchinson';

/** The compile-time spec of an augmented CNF field. */
export interface CnfFieldSpec {
  /** @internal The MLP's validated architecture (`MLP.spec`). */
  readonly mlp: MlpSpec;
  /** How dl/dt is computed: `'exact'` or `'hutchinson'`. */
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

/**
 * Floats of function-scope memory the flow's VJP (`cnfVjpWgsl`) declares: per
 * hidden unit x, σ', σ'', ū, ṗ, ṗ̄ and δ; per output ṗ̄, δ, c and Jv.
 */
export function cnfVjpFloats(spec: MlpSpec): number {
  const plan = mlpPlan(spec);
  return 7 * plan.hiddenUnits + 4 * plan.D;
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

/**
 * The vector–Jacobian products of the augmented field for the adjoint solve
 * (reverse over forward), as `fn mlp_vjp(t, w, accumulate)` in the adjoint
 * kernel's convention: `rhs_in` holds [s, a] (2·NA), `rhs_out` receives
 * [g(s), −aᵀ∂g/∂s] and, when `accumulate`, w·aᵀ∂g/∂θ is added to `row`.
 *
 * With a = [a_z, a_l, a_k, a_j], aᵀg = cᵀf + a_l·tr + a_j·jf with
 * c = a_z + 2·a_k·f (the kinetic term's derivative is 2·a_k·fᵀ∂f). Per sweep
 * direction v (e_k or ε), the tangent pass ṗ_l = W_l·ẋ_{l−1}, ẋ_l = σ'(u_l)⊙ṗ_l
 * is run again and reversed from the seed ḡ = a_l·v + 2·a_j·(∂f/∂z)v on its
 * output: ṗ̄_l gives W_l's term ṗ̄_l ẋ_{l−1}ᵀ, ẋ̄_{l−1} = W_lᵀṗ̄_l, and the
 * σ'(u) factors send ẋ̄_l ⊙ ṗ_l ⊙ σ''(u_l) to the pre-activation u_l (ū_l,
 * summed over the sweeps). One primal reverse sweep from c then carries
 * δ_{l−1} = (W_lᵀδ_l) ⊙ σ'(u_{l−1}) + ū_{l−1} down to z, adding δ_l x_{l−1}ᵀ and
 * δ_l to W_l's and b_l's rows. l, k and j do not enter g: their adjoints are
 * constant (da/dt = 0).
 */
export function cnfVjpWgsl(spec: CnfFieldSpec, row: (index: string) => string): string {
  const plan = mlpPlan(spec.mlp);
  const { D, layers } = plan;
  const A = cnfStateWidth(spec);
  const reg = cnfRegIndex(spec);
  const Lc = layers.length;
  const hut = spec.trace === 'hutchinson';
  const L: string[] = [];
  L.push(activationWgsl(spec.mlp.activation), activationGradWgsl(spec.mlp.activation, 1), activationSecondWgsl(spec.mlp.activation));
  if (hut) L.push('var<private> eps: array<f32, ' + D + '>;');
  L.push('fn mlp_vjp(t: f32, w: f32, accumulate: bool) {');
  // Forward: x, σ', σ'' of every hidden layer; f into rhs_out[0, D).
  for (const Ly of layers) {
    const l = Ly.index;
    const src = l === 0 ? 'rhs_in' : `x${l - 1}`;
    if (!Ly.last) {
      for (const n of ['x', 's', 'q', 'ub', 'pd']) L.push(`  var ${n}${l}: array<f32, ${Ly.outWidth}>;`);
    }
    L.push(`  for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    L.push(`    let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    L.push(`    var acc = theta[${Ly.bias}u + o];`);
    L.push(`    for (var i = 0u; i < ${Ly.vectorInputs}u; i++) { acc = fma(theta[r + i], ${src}[i], acc); }`);
    if (l === 0 && spec.mlp.timeInput) L.push(`    acc = fma(theta[r + ${Ly.vectorInputs}u], t, acc);`);
    if (Ly.last) L.push('    rhs_out[o] = acc;');
    else L.push(`    x${l}[o] = act(acc);`, `    s${l}[o] = act_grad(acc, x${l}[o]);`, `    q${l}[o] = act_grad2(acc, x${l}[o]);`);
    L.push('  }');
  }
  L.push(`  let a_l = rhs_in[${A + D}u];`);
  L.push(`  var c: array<f32, ${D}>;`);
  L.push(`  for (var d = 0u; d < ${D}u; d++) { c[d] = rhs_in[${A}u + d]${spec.kinetic ? ` + 2.0 * rhs_in[${A + reg.kinetic}u] * rhs_out[d]` : ''}; }`);
  if (spec.jacobian) L.push(`  let a_j = rhs_in[${A + reg.jacobian}u];`, '  var jf = 0.0;');
  L.push('  var tr = 0.0;');
  for (const Ly of layers) L.push(`  var pbar${Ly.index}: array<f32, ${Ly.outWidth}>;`);
  L.push(`  var jv: array<f32, ${D}>;`);
  // The input tangent's component i < D of the sweep.
  const vin = (i: string) => (hut ? `eps[${i}]` : `select(0.0, 1.0, ${i} == k)`);
  L.push(hut ? '  {' : `  for (var k = 0u; k < ${D}u; k++) {`);
  // Tangent forward.
  for (const Ly of layers) {
    const l = Ly.index;
    L.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`);
    L.push(`      let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    if (l === 0) {
      if (hut) L.push('      var p = 0.0;', `      for (var i = 0u; i < ${D}u; i++) { p = fma(theta[r + i], eps[i], p); }`);
      else L.push('      let p = theta[r + k];');
    } else {
      L.push('      var p = 0.0;', `      for (var i = 0u; i < ${Ly.inWidth}u; i++) { p = fma(theta[r + i], s${l - 1}[i] * pd${l - 1}[i], p); }`);
    }
    L.push(Ly.last ? '      jv[o] = p;' : `      pd${l}[o] = p;`, '    }');
  }
  L.push(hut ? `    for (var d = 0u; d < ${D}u; d++) { tr = fma(eps[d], jv[d], tr); }` : '    tr += jv[k];');
  if (spec.jacobian) L.push(`    for (var d = 0u; d < ${D}u; d++) { jf = fma(jv[d], jv[d], jf); }`);
  // Seed on the output tangent, then reverse through the tangent pass.
  L.push(`    for (var d = 0u; d < ${D}u; d++) { pbar${Lc - 1}[d] = a_l * ${vin('d')}${spec.jacobian ? ' + 2.0 * a_j * jv[d]' : ''}; }`);
  for (let l = Lc - 1; l >= 0; l--) {
    const Ly = layers[l];
    L.push('    if (accumulate) {', `      for (var o = 0u; o < ${Ly.outWidth}u; o++) {`, `        let g = w * pbar${l}[o];`, `        let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    if (l === 0) {
      if (hut) L.push(`        for (var i = 0u; i < ${D}u; i++) { ${row('r + i')} = fma(g, eps[i], ${row('r + i')}); }`);
      else L.push(`        ${row('r + k')} += g;`);
    } else {
      L.push(`        for (var i = 0u; i < ${Ly.inWidth}u; i++) { ${row('r + i')} = fma(g, s${l - 1}[i] * pd${l - 1}[i], ${row('r + i')}); }`);
    }
    L.push('      }', '    }');
    if (l > 0) {
      L.push(`    for (var i = 0u; i < ${Ly.inWidth}u; i++) {`, '      var xb = 0.0;');
      L.push(`      for (var o = 0u; o < ${Ly.outWidth}u; o++) { xb = fma(theta[${Ly.weight}u + o * ${Ly.inWidth}u + i], pbar${l}[o], xb); }`);
      L.push(`      ub${l - 1}[i] = fma(xb * pd${l - 1}[i], q${l - 1}[i], ub${l - 1}[i]);`, `      pbar${l - 1}[i] = s${l - 1}[i] * xb;`, '    }');
    }
  }
  L.push('  }');
  // Primal reverse sweep from c, with the pre-activation terms ū.
  L.push(`  var dl${Lc - 1}: array<f32, ${D}>;`, `  for (var d = 0u; d < ${D}u; d++) { dl${Lc - 1}[d] = c[d]; }`);
  for (let l = Lc - 1; l >= 0; l--) {
    const Ly = layers[l];
    const xin = (i: string) => (l === 0 ? `rhs_in[${i}]` : `x${l - 1}[${i}]`);
    L.push('  if (accumulate) {', `    for (var o = 0u; o < ${Ly.outWidth}u; o++) {`, `      let g = w * dl${l}[o];`, `      ${row(`${Ly.bias}u + o`)} += g;`, `      let r = ${Ly.weight}u + o * ${Ly.inWidth}u;`);
    L.push(`      for (var i = 0u; i < ${Ly.vectorInputs}u; i++) { ${row('r + i')} = fma(g, ${xin('i')}, ${row('r + i')}); }`);
    if (l === 0 && spec.mlp.timeInput) L.push(`      ${row(`r + ${Ly.vectorInputs}u`)} = fma(g, t, ${row(`r + ${Ly.vectorInputs}u`)});`);
    L.push('    }', '  }');
    const n = l > 0 ? Ly.inWidth : D;
    if (l > 0) L.push(`  var dl${l - 1}: array<f32, ${n}>;`);
    L.push(`  for (var i = 0u; i < ${n}u; i++) {`, '    var s = 0.0;');
    L.push(`    for (var o = 0u; o < ${Ly.outWidth}u; o++) { s = fma(theta[${Ly.weight}u + o * ${Ly.inWidth}u + i], dl${l}[o], s); }`);
    L.push(l > 0 ? `    dl${l - 1}[i] = fma(s, s${l - 1}[i], ub${l - 1}[i]);` : `    rhs_out[${A}u + i] = -s;`, '  }');
  }
  L.push(`  rhs_out[${D}u] = tr;`);
  if (spec.kinetic) L.push('  var ke = 0.0;', `  for (var d = 0u; d < ${D}u; d++) { ke = fma(rhs_out[d], rhs_out[d], ke); }`, `  rhs_out[${reg.kinetic}u] = ke;`);
  if (spec.jacobian) L.push(`  rhs_out[${reg.jacobian}u] = jf;`);
  L.push(`  for (var i = ${A + D}u; i < ${2 * A}u; i++) { rhs_out[i] = 0.0; }`);
  L.push('}');
  return L.join('\n');
}
