/**
 * Variants of the lane solver kernels (integrate-lanes, adjoint-lanes) in
 * which ONE part of the work is done twice, for table 1d (bench/efficiency.ts):
 * part cost = T(variant) − T(plain kernel).
 *
 * Every variant is the plain kernel's generated WGSL, string-transformed at
 * fixed anchors (a function's signature, a generated line of the stage code).
 * Each anchor must occur exactly once, else the transform throws: a change in
 * the generators fails here loudly instead of timing something else.
 *
 * The duplicate work cannot be removed by the compiler and cannot change the
 * result. Both rest on `x2_never()`, a comparison of a uniform field with a
 * value it never has at run time (P.batch == 0xffffffff; a dispatch with that
 * many samples is impossible), and on `x2_one()` = select(1.0, 2.0, x2_never()):
 *   - the extra copy's inputs are scaled by x2_one() (or its weight by
 *     x2_one() − 1), so it is not a common subexpression of the real one;
 *   - its result is kept only through select(real, extra, x2_never()) (or an
 *     `if (x2_never())`), so it is live, yet at run time the real result is
 *     used. At run time x2_one() = 1.0 exactly, so even a copy whose result
 *     lands somewhere (the dense output rows, the step row with weight 0)
 *     writes the very same bits.
 * bench/efficiency.ts checks that each variant's outputs are bit-identical to
 * the plain kernel's, which shows that it took the same steps.
 */

/** The parts of a solver kernel that a variant does twice. */
export type ForwardPart = 'mlp' | 'stages' | 'norm' | 'control';
/** Adjoint parts: `sweeps` the VJPs' forward and backward sweeps, `vjp` the sweeps and the θ products. */
export type AdjointPart = 'sweeps' | 'vjp' | 'stages' | 'norm' | 'control';

/** Replaces the one occurrence of `anchor` in `src`; throws unless there is exactly one. */
export function replaceOnce(src: string, anchor: string, replacement: string, what: string): string {
  const at = src.indexOf(anchor);
  if (at < 0) throw new Error(`efficiency variant ${what}: anchor not found: ${JSON.stringify(anchor)}`);
  if (src.indexOf(anchor, at + 1) >= 0) throw new Error(`efficiency variant ${what}: anchor occurs more than once: ${JSON.stringify(anchor)}`);
  return src.slice(0, at) + replacement + src.slice(at + anchor.length);
}

/** The one line of `src` matching `re` (which must match exactly one line). */
function oneLine(src: string, re: RegExp, what: string): RegExpMatchArray {
  const hits = src.split('\n').map((l) => l.match(re)).filter((m): m is RegExpMatchArray => m !== null);
  if (hits.length !== 1) throw new Error(`efficiency variant ${what}: ${hits.length} lines match ${re}, expected 1`);
  return hits[0];
}

/** The uniform condition that never holds and the factor 1.0 the compiler cannot see. */
const HELPERS = [
  '',
  '// Bench variant helpers (bench/efficiency-variants.ts): never true at run time.',
  'fn x2_never() -> bool { return P.batch == 0xffffffffu; }',
  'fn x2_one() -> f32 { return select(1.0, 2.0, x2_never()); }',
].join('\n');

/** Renames `fn name(` to `fn name_once(` (the one definition). */
function renameFn(src: string, name: string, what: string): string {
  return replaceOnce(src, `fn ${name}(`, `fn ${name}_once(`, what);
}

/**
 * An evaluation (`rhs4`, `vjp4`) done twice: once from rhs_in and t scaled by
 * x2_one(), kept aside, then the real one; rhs_out is the real one's unless
 * x2_never(). `extra` is the call of the extra copy (args: the scaled time).
 */
function evalTwice(header: string, extra: (t: string) => string, real: string): string {
  return [
    `${header} {`,
    '  let x2s = x2_one();',
    '  let x2_in = rhs_in;',
    '  for (var d = 0u; d < N; d++) { rhs_in[d] = x2_in[d] * x2s; }',
    `  ${extra('t * x2s')};`,
    '  let x2_out = rhs_out;',
    '  rhs_in = x2_in;',
    `  ${real};`,
    '  for (var d = 0u; d < N; d++) { rhs_out[d] = select(rhs_out[d], x2_out[d], x2_never()); }',
    '}',
  ].join('\n');
}

/** The forward MLP (`rhs4`) twice at every call: the stages, the initial step, the first f. */
function mlpTwice(src: string): string {
  const out = renameFn(src, 'rhs4', 'mlp');
  return `${out}\n${evalTwice('fn rhs4(t: vec4<f32>)', (t) => `rhs4_once(${t})`, 'rhs4_once(t)')}`;
}

/**
 * The VJPs twice. `withTheta` false: every vjp4 call also runs the sweeps
 * once more (an extra vjp4 without θ products). True: the extra vjp4 makes
 * the θ products too where the call does, with weight w·(x2_one() − 1) = 0
 * at run time, so they add ±0 to the step row (x + ±0 = x; the row starts at
 * +0, and +0 + −0 = +0).
 */
function vjpTwice(src: string, withTheta: boolean): string {
  const out = renameFn(src, 'vjp4', 'vjp');
  const twice = evalTwice(
    'fn vjp4(t: vec4<f32>, w: vec4<f32>, products: bool)',
    (t) => (withTheta ? `vjp4_once(${t}, w * (x2s - 1.0), products)` : `vjp4_once(${t}, w, false)`),
    'vjp4_once(t, w, products)',
  );
  return `${out}\n${twice}`;
}

/**
 * The stages twice: every stage input (y + Σ h a_ij K_j, `stage_input`), the
 * solution combination y + Σ h b_i K_i and the error combination
 * Σ h (b_i − b̂_i) K_i. The extra copies use h·x2_one().
 */
function stagesTwice(src: string): string {
  let out = renameFn(src, 'stage_input', 'stages');
  out += [
    '',
    'fn stage_input(i: u32, h: vec4<f32>, run: vec4<bool>) {',
    '  stage_input_once(i, h * x2_one(), run);',
    '  let x2_in = rhs_in;',
    '  stage_input_once(i, h, run);',
    '  for (var d = 0u; d < N; d++) { rhs_in[d] = select(rhs_in[d], x2_in[d], x2_never()); }',
    '}',
  ].join('\n');
  // The solution: its h·b_i lets (one line), then the loop (one line).
  const hb = oneLine(out, /^ {2}(let hb_\d+ = .*;)$/, 'stages (solution weights)');
  const hbx = [...hb[1].matchAll(/let (hb_\d+) = /g)].map((m) => `let ${m[1]}x = ${m[1]} * x2_one();`).join(' ');
  out = replaceOnce(out, hb[0], `${hb[0]} ${hbx}`, 'stages (solution weights)');
  const sol = oneLine(out, /^ {2}for \(var d = 0u; d < N; d\+\+\) \{ ynew\[d\] = y\[d\] \+ \((.*)\); \}$/, 'stages (solution)');
  const solX = sol[1].replace(/\b(hb_\d+)\b/g, '$1x');
  out = replaceOnce(
    out,
    sol[0],
    `  for (var d = 0u; d < N; d++) { ynew[d] = select(y[d] + (${sol[1]}), y[d] + (${solX}), x2_never()); }`,
    'stages (solution)',
  );
  // The error combination: its h·(b_i − b̂_i) lets, then `let e = …;` in the norm's loop.
  const he = oneLine(out, /^ {2}(let he_\d+ = .*;)$/, 'stages (error weights)');
  const hex = [...he[1].matchAll(/let (he_\d+) = /g)].map((m) => `let ${m[1]}x = ${m[1]} * x2_one();`).join(' ');
  out = replaceOnce(out, he[0], `${he[0]} ${hex}`, 'stages (error weights)');
  const e = oneLine(out, /^ {4}let e = (he_.*);$/, 'stages (error combination)');
  const eX = e[1].replace(/\b(he_\d+)\b/g, '$1x');
  return replaceOnce(out, e[0], `    let e = select(${e[1]}, ${eX}, x2_never());`, 'stages (error combination)');
}

/** The error norm twice: the scaled error q_d = e_d / (atol + rtol·max(|y_d|, |ynew_d|)) and Σ q_d², the extra with atol·x2_one(). */
function normTwice(src: string): string {
  const q = '    let q = e / (P.atol + P.rtol * max(abs(y[d]), abs(ynew[d])));\n    e2 += q * q;';
  let out = replaceOnce(
    src,
    q,
    `${q}\n    let qx = e / (P.atol * x2_one() + P.rtol * max(abs(y[d]), abs(ynew[d])));\n    e2x += qx * qx;`,
    'norm (loop body)',
  );
  out = replaceOnce(out, '  var e2 = vec4<f32>(0.0);\n', '  var e2 = vec4<f32>(0.0);\n  var e2x = vec4<f32>(0.0);\n', 'norm (sum)');
  return replaceOnce(out, '  return e2;\n', '  return select(e2, e2x, x2_never());\n', 'norm (return)');
}

/**
 * The step control twice: `plan_step` and `decide` (the controller's
 * state `smp` saved before the extra decision and restored after it), and
 * in the forward kernel `write_outputs` (the dense output and the output
 * rows; the extra copy with h·x2_one() writes the same bits first).
 */
function controlTwice(src: string, outputs: boolean): string {
  let out = renameFn(src, 'plan_step', 'control');
  out = renameFn(out, 'decide', 'control');
  const L = [
    '',
    'fn plan_step(c: Sample, seg_end: f32) -> StepPlan {',
    '  let x2_plan = plan_step_once(c, seg_end * x2_one());',
    '  let x2_real = plan_step_once(c, seg_end);',
    '  if (x2_never()) { return x2_plan; }',
    '  return x2_real;',
    '}',
    'fn decide(norm: f32, ok: bool, plan: StepPlan, seg_end: f32) -> bool {',
    '  let x2_saved = smp;',
    '  let x2_accept = decide_once(norm * x2_one(), ok, plan, seg_end);',
    '  let x2_smp = smp;',
    '  smp = x2_saved;',
    '  let x2_real = decide_once(norm, ok, plan, seg_end);',
    '  if (x2_never()) { smp = x2_smp; return x2_accept; }',
    '  return x2_real;',
    '}',
  ];
  if (outputs) {
    out = renameFn(out, 'write_outputs', 'control');
    L.push(
      'fn write_outputs(k: u32, b: u32, lo: u32, hi: u32, t_old_hi: f32, t_old_lo: f32, h: f32, t_new: f32) {',
      '  write_outputs_once(k, b, lo, hi, t_old_hi, t_old_lo, h * x2_one(), t_new);',
      '  write_outputs_once(k, b, lo, hi, t_old_hi, t_old_lo, h, t_new);',
      '}',
    );
  }
  return out + L.join('\n');
}

/** The forward lane kernel's module with `part` done twice. */
export function forwardVariant(src: string, part: ForwardPart): string {
  const body = part === 'mlp' ? mlpTwice(src) : part === 'stages' ? stagesTwice(src) : part === 'norm' ? normTwice(src) : controlTwice(src, true);
  return body + HELPERS;
}

/** The adjoint lane kernel's module with `part` done twice. */
export function adjointVariant(src: string, part: AdjointPart): string {
  const body =
    part === 'sweeps'
      ? vjpTwice(src, false)
      : part === 'vjp'
        ? vjpTwice(src, true)
        : part === 'stages'
          ? stagesTwice(src)
          : part === 'norm'
            ? normTwice(src)
            : controlTwice(src, false);
  return body + HELPERS;
}

export const FORWARD_PARTS: readonly ForwardPart[] = ['mlp', 'stages', 'norm', 'control'];
export const ADJOINT_PARTS: readonly AdjointPart[] = ['sweeps', 'vjp', 'stages', 'norm', 'control'];
