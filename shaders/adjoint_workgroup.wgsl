// webode: the adjoint (reverse) solve of a Neural ODE with one sample per
// workgroup, for small batches: the invocations of a workgroup share every
// evaluation of the MLP.
//
// The system and its error control are those of shaders/adjoint.wgsl:
//   dz/dt = f(t, z),   da/dt = −aᵀ ∂f/∂z,   da_θ/dt = −aᵀ ∂f/∂θ,
// integrated backwards from the last output time, steps landing on every
// output time t_i (a += dL/dy_i, z reset to y_i), the error norm over [z, a]
// only (the seminorm), a_θ a quadrature along the accepted steps.
//
// Each invocation holds its own copy of the solver state (y, the stage slots,
// the controller state `smp`) and makes the same decisions from the same
// values; an evaluation is shared (`wg_vjp`): invocation o computes output o
// of every layer (and o + WG, …), the layers' outputs and cotangents go
// through workgroup memory with a barrier between layers, and the results of
// the last layer are read back by every invocation. The θ products of a
// stage are split by parameter index: invocation k owns the parameters
// p ≡ k (mod WG) of every layer, so its slices of the step row and of the
// accumulator stay in private memory (acc[b] is one row per sample).
//
// Barriers need uniform control flow: the step loop stops on a flag read
// with workgroupUniformLoad, and every attempt evaluates all S stages
// (the first one too: its θ product needs the sweep anyway, and after a
// landing the state has jumped).
//
// Memory: the outputs, the cotangents, [z, a] and P floats per sample,
// whatever the number of steps. The deterministic two-pass reduction over the
// rows (shaders/reduce.wgsl) gives dL/dθ.
//
// Specialised by src/kernels/adjoint-workgroup.ts.

${PARAMS_STRUCT}

${SAMPLE_STRUCT}

${STATUS_CONSTS}

const D: u32 = ${D}u;
// Width of the augmented state [z, a].
const N: u32 = ${N}u;
// Stages of the tableau (every one evaluated by every attempt).
const S: u32 = ${S}u;
// Invocations per workgroup (one sample).
const WG: u32 = ${WG}u;

${BINDINGS}

${CONTROLLER}

// The tableau.
${TABLEAU}

var<private> tid: u32;
var<private> y: array<f32, N>;
var<private> ynew: array<f32, N>;
var<private> K: array<array<f32, N>, S>;
var<private> rhs_in: array<f32, N>;
var<private> rhs_out: array<f32, N>;
var<private> acc_base: u32;
// 0: stop; 1: the sample runs (written by invocation 0, read uniformly).
var<workgroup> wg_flag: u32;

${VJP}

// Row i, sample g of a [T][total][D] array.
fn row(i: u32, g: u32) -> u32 {
  return (i * P.total + g) * D;
}

// Input of stage i at step h.
fn stage_input(i: u32, h: f32) {
  for (var d = 0u; d < N; d++) {
    var s = 0.0;
    for (var j = 0u; j < i; j++) {
      if (A[i][j] != 0.0) { s += (h * A[i][j]) * K[j][d]; }
    }
    rhs_in[d] = y[d] + s;
  }
}

// Every stage of one attempt from (t, y) with step h: fills K and ynew, adds
// the invocation's θ products (weight −h·b_i) to its step slice, and returns
// Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))².
fn attempt_stages(t: f32, h: f32) -> f32 {
  for (var i = 0u; i < S; i++) {
    stage_input(i, h);
    let ts = t + C[i] * h;
    if (B[i] != 0.0) {
      wg_vjp(ts, -h * B[i], true);
    } else {
      wg_vjp(ts, 0.0, false);
    }
    K[i] = rhs_out;
  }
  var e2 = 0.0;
  for (var d = 0u; d < N; d++) {
    var s = 0.0;
    var e = 0.0;
    for (var j = 0u; j < S; j++) {
      if (B[j] != 0.0) { s += (h * B[j]) * K[j][d]; }
      if (ADAPTIVE && BERR[j] != 0.0) { e += (h * BERR[j]) * K[j][d]; }
    }
    ynew[d] = y[d] + s;
    let q = e / (P.atol + P.rtol * max(abs(y[d]), abs(ynew[d])));
    e2 += q * q;
  }
  return e2;
}

// Lands on output index i (sample g): the adjoint jumps by dL/dy_i and z is
// reset to the forward solution there. False if either is not finite.
fn land(i: u32, g: u32) -> bool {
  var ok = true;
  for (var d = 0u; d < D; d++) {
    y[d] = ysol[row(i, g) + d];
    y[D + d] += cot[row(i, g) + d];
    ok = ok && finite(y[d]) && finite(y[D + d]);
  }
  return ok;
}

// After landing on output index i: done at the first output (invocation 0
// writes dL/dy0), else the next segment starts here, from a finite [z, a] only.
fn after_landing(i: u32, g: u32, ok: bool) {
  if (i == 0u) {
    if (tid == 0u) {
      for (var d = 0u; d < D; d++) { gy0[g * D + d] = y[D + d]; }
    }
    smp.status = STATUS_DONE;
    return;
  }
  if (!ok) { fail(STATUS_NONFINITE); return; }
  smp.out_idx = i - 1u;
  smp.seg_t0 = smp.t_hi;
  smp.seg_k = 0u;
}

// Starts a new sample: [z, a] at the last output, then its first step
// (Hairer's initial step for adaptive methods, as rk_core's initial_step;
// its two evaluations run whatever the state, for uniform control flow).
fn init_sample(g: u32) {
  let last = P.n_out - 1u;
  reset_controller(tout[last]);
  for (var d = 0u; d < N; d++) { y[d] = 0.0; }
  let ok = land(last, g);
  smp.status = STATUS_RUNNING;
  after_landing(last, g, ok);
  let t0 = tout[last];
  let span = abs(tout[last - 1u] - t0);
  var h = P.h_fixed;
  if (ADAPTIVE && P.first_step > 0.0) { h = P.dir * min(P.first_step, span); }
  if (ADAPTIVE && P.first_step <= 0.0) {
    rhs_in = y;
    wg_vjp(t0, 0.0, false);
    let f0 = rhs_out;
    var fin = true;
    var d0 = 0.0;
    var d1 = 0.0;
    for (var d = 0u; d < N; d++) {
      fin = fin && finite(f0[d]);
      let sc = P.atol + abs(y[d]) * P.rtol;
      d0 += (y[d] / sc) * (y[d] / sc);
      d1 += (f0[d] / sc) * (f0[d] / sc);
    }
    d0 = sqrt(d0 / f32(N));
    d1 = sqrt(d1 / f32(N));
    var h0 = 1e-6;
    if (d0 >= 1e-5 && d1 >= 1e-5) { h0 = 0.01 * d0 / d1; }
    h0 = min(h0, span);
    for (var d = 0u; d < N; d++) { rhs_in[d] = y[d] + P.dir * h0 * f0[d]; }
    wg_vjp(t0 + P.dir * h0, 0.0, false);
    var d2 = 0.0;
    for (var d = 0u; d < N; d++) {
      let sc = P.atol + abs(y[d]) * P.rtol;
      let q = (rhs_out[d] - f0[d]) / sc;
      d2 += q * q;
    }
    d2 = sqrt(d2 / f32(N)) / h0;
    let dm = max(d1, d2);
    var h1 = max(1e-6, h0 * 1e-3);
    if (dm > 1e-15 && finite(dm)) { h1 = pow(0.01 / dm, 1.0 / ERROR_ORDER); }
    h = P.dir * min(min(100.0 * h0, h1), span);
    if (smp.status == STATUS_RUNNING) {
      smp.n_fe += 2u;
      if (!fin) { fail(STATUS_NONFINITE); }
    }
  }
  smp.h = h;
}

@compute @workgroup_size(${WG})
fn adjoint(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  if (b >= P.batch) { return; }
  tid = lid;
  let g = P.offset + b;
  acc_base = b * P.n_params;
  smp = samples[b];
  if (tid == 0u) { wg_flag = smp.status; }
  let status = workgroupUniformLoad(&wg_flag);
  if (status >= STATUS_DONE) { return; }
  if (status == STATUS_NEW) {
    init_sample(g);
  } else {
    for (var d = 0u; d < N; d++) { y[d] = state[b * N + d]; }
  }
  acc_load();
  for (var it = 0u; it < P.steps_per_dispatch; it++) {
    if (tid == 0u) { wg_flag = u32(smp.status == STATUS_RUNNING); }
    if (workgroupUniformLoad(&wg_flag) == 0u) { break; }
    let plan = plan_step(smp, tout[smp.out_idx]);
    let norm = sqrt(attempt_stages(smp.t_hi, plan.h) / f32(N));
    var ok = true;
    for (var d = 0u; d < N; d++) { ok = ok && finite(ynew[d]); }
    smp.n_fe += S;
    if (decide(norm, ok, plan, tout[smp.out_idx])) {
      commit_step_row();
      y = ynew;
      if (plan.last) {
        let i = smp.out_idx;
        after_landing(i, g, land(i, g));
      }
    } else {
      clear_step_row();
    }
    check_max_steps();
  }
  acc_store();
  if (tid == 0u) {
    if (smp.status == STATUS_RUNNING) {
      for (var d = 0u; d < N; d++) { state[b * N + d] = y[d]; }
    }
    samples[b] = smp;
  }
}
