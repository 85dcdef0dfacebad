// webode: the adjoint (reverse) solve of a Neural ODE on four samples per
// invocation, each with its own adaptive steps.
//
// The system and its error control are those of adjoint.wgsl:
//   dz/dt = f(t, z),   da/dt = −aᵀ ∂f/∂z,   da_θ/dt = −aᵀ ∂f/∂θ,
// integrated backwards from the last output time, steps landing on every
// output time t_i (a += dL/dy_i, z reset to y_i), the error norm over [z, a]
// only (the seminorm), a_θ a quadrature along the accepted steps.
//
// The four samples are the lanes of vec4<f32> values. They step in lockstep:
// every iteration is one attempt of every running lane, each lane with its
// own time, step size and controller state (`lane[k]`, decided by the shared
// controller one lane at a time); lanes that are not running evaluate zeros
// and contribute nothing. So every θ value loaded feeds four samples, and the
// four share one parameter row:
//   - an attempt's stages with b_i ≠ 0 add Σ_lanes (−h_k b_i)·a_kᵀ∂f/∂θ to the
//     invocation's step row, from the activations of the same sweep;
//   - when every running lane accepts, the row is added to the accumulator;
//     when none does, it is dropped (it may hold non-finite values); when
//     some do, it is recomputed for the accepting lanes alone (their stage
//     inputs are rebuilt from y and the stage slots) and then added.
// The first stage is evaluated by every attempt (not carried over from the
// last step): its θ product needs the sweep anyway, and a lane that has just
// landed on an output time needs it at its new state.
//
// Memory: the outputs, the cotangents, [z, a] per sample and 2P floats per
// invocation (the step row private when P is small), whatever the number of
// steps. A deterministic two-pass reduction over the invocations' rows
// (reduce.wgsl) gives dL/dθ.
//
// Specialised by src/kernels/adjoint-lanes.ts.

${STATUS_CONSTS}

const D: u32 = ${D}u;
// Width of the augmented state [z, a].
const N: u32 = ${N}u;
// Stages of the tableau (every one evaluated by every attempt).
const S: u32 = ${S}u;
// Floats of the `state` buffer per invocation: four lanes' [z, a], then the step row when it is not private.
const STATE_STRIDE: u32 = ${STATE_STRIDE}u;

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/adjoint-lanes.ts), numbered in its order.
${BINDINGS}

${CONTROLLER}

// The tableau.
${TABLEAU}

var<private> lane: array<Sample, 4>;
var<private> y: array<vec4<f32>, N>;
var<private> ynew: array<vec4<f32>, N>;
var<private> K: array<array<vec4<f32>, N>, S>;
var<private> rhs_in: array<vec4<f32>, N>;
var<private> rhs_out: array<vec4<f32>, N>;
var<private> acc_base: u32;
var<private> state_base: u32;

fn finite4(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) != vec4<u32>(0x7f800000u);
}

${VJP}

// The accumulator and step rows.
${ROWS}

// Input of stage i for every lane, zero where `mask` is false (those lanes
// then evaluate a finite point and their zero weight adds exactly nothing).
fn stage_input(i: u32, h: vec4<f32>, mask: vec4<bool>) {
  for (var d = 0u; d < N; d++) {
    var s = vec4<f32>(0.0);
    for (var j = 0u; j < i; j++) {
      if (A[i][j] != 0.0) { s += (h * A[i][j]) * K[j][d]; }
    }
    rhs_in[d] = select(vec4<f32>(0.0), y[d] + s, mask);
  }
}

// Every stage of one attempt of the lanes in `run` from (t, y) with steps h:
// fills K and ynew, adds the θ products to the step row, and returns each
// lane's Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))².
fn attempt_stages(t: vec4<f32>, h: vec4<f32>, run: vec4<bool>) -> vec4<f32> {
  for (var i = 0u; i < S; i++) {
    stage_input(i, h, run);
    let ts = t + C[i] * h;
    if (B[i] != 0.0) {
      vjp4_theta(ts, select(vec4<f32>(0.0), -h * B[i], run));
    } else {
      vjp4(ts);
    }
    K[i] = rhs_out;
  }
  var e2 = vec4<f32>(0.0);
  for (var d = 0u; d < N; d++) {
    var s = vec4<f32>(0.0);
    var e = vec4<f32>(0.0);
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

// The θ products of the lanes in `mask` alone, from the stage slots of the
// attempt just made (the step row is zero on entry).
fn redo_theta(t: vec4<f32>, h: vec4<f32>, mask: vec4<bool>) {
  for (var i = 0u; i < S; i++) {
    if (B[i] == 0.0) { continue; }
    stage_input(i, h, mask);
    vjp4_theta(t + C[i] * h, select(vec4<f32>(0.0), -h * B[i], mask));
  }
}

// Landing on an output time (lane k): a += dL/dy_i, z ← y_i; then the next
// segment, or done at the first output.
${LANDING}

// Starts the lanes that are new: [z, a] at the last output, then their first
// step: the option firstStep, else the hint a new lane carries in its h (the
// step size its forward solve ended with), else Hairer's initial step,
// vectorised over the lanes that need it.
fn init_lanes(first: u32) {
  let last = P.n_out - 1u;
  var start = vec4<bool>(false);
  var hint = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    if (lane[k].status != STATUS_NEW) { continue; }
    smp = lane[k];
    hint[k] = smp.h;
    reset_controller(tout[last]);
    for (var d = 0u; d < N; d++) { y[d][k] = 0.0; }
    let ok = land(k, last, P.offset + first + k);
    smp.status = STATUS_RUNNING;
    after_landing(k, last, P.offset + first + k, ok);
    start[k] = smp.status == STATUS_RUNNING;
    lane[k] = smp;
  }
  if (!any(start)) { return; }
  let t0 = tout[last];
  let span = abs(tout[last - 1u] - t0);
  var h = vec4<f32>(P.h_fixed);
  if (ADAPTIVE && P.first_step > 0.0) { h = vec4<f32>(P.dir * min(P.first_step, span)); }
  if (ADAPTIVE && P.first_step <= 0.0) {
    h = P.dir * min(hint, vec4<f32>(span));
    let guess = start & (hint <= vec4<f32>(0.0));
    if (any(guess)) {
      // Hairer, Nørsett & Wanner, Solving ODEs I, II.4, as in rk_core's initial_step.
      let tv = vec4<f32>(t0);
      for (var d = 0u; d < N; d++) { rhs_in[d] = select(vec4<f32>(0.0), y[d], guess); }
      vjp4(tv);
      var f0: array<vec4<f32>, N>;
      var d0 = vec4<f32>(0.0);
      var d1 = vec4<f32>(0.0);
      var fin = vec4<bool>(true);
      for (var d = 0u; d < N; d++) {
        f0[d] = rhs_out[d];
        fin = fin & finite4(f0[d]);
        let sc = P.atol + abs(y[d]) * P.rtol;
        d0 += (y[d] / sc) * (y[d] / sc);
        d1 += (f0[d] / sc) * (f0[d] / sc);
      }
      d0 = sqrt(d0 / f32(N));
      d1 = sqrt(d1 / f32(N));
      var h0 = select(vec4<f32>(1e-6), 0.01 * d0 / d1, (d0 >= vec4<f32>(1e-5)) & (d1 >= vec4<f32>(1e-5)));
      h0 = min(h0, vec4<f32>(span));
      for (var d = 0u; d < N; d++) { rhs_in[d] = select(vec4<f32>(0.0), y[d] + P.dir * h0 * f0[d], guess); }
      vjp4(tv + P.dir * h0);
      var d2 = vec4<f32>(0.0);
      for (var d = 0u; d < N; d++) {
        let sc = P.atol + abs(y[d]) * P.rtol;
        let q = (rhs_out[d] - f0[d]) / sc;
        d2 += q * q;
      }
      d2 = sqrt(d2 / f32(N)) / h0;
      let dm = max(d1, d2);
      let h1 = select(max(vec4<f32>(1e-6), h0 * 1e-3), pow(0.01 / dm, vec4<f32>(1.0 / ERROR_ORDER)), (dm > vec4<f32>(1e-15)) & finite4(dm));
      h = select(h, P.dir * min(min(100.0 * h0, h1), vec4<f32>(span)), guess);
      for (var k = 0u; k < 4u; k++) {
        if (!guess[k]) { continue; }
        lane[k].n_fe += 2u;
        if (!fin[k]) { lane[k].status = STATUS_NONFINITE; }
      }
    }
  }
  for (var k = 0u; k < 4u; k++) {
    if (start[k]) { lane[k].h = h[k]; }
  }
}

@compute @workgroup_size(${WG})
fn adjoint(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.x * 4u;
  if (first >= P.batch) { return; }
  acc_base = gid.x * P.n_params;
  state_base = gid.x * STATE_STRIDE;
  var live = false;
  for (var k = 0u; k < 4u; k++) {
    if (first + k < P.batch) {
      lane[k] = samples[first + k];
    } else {
      lane[k].status = STATUS_DONE;
    }
    live = live || lane[k].status < STATUS_DONE;
  }
  if (!live) { return; }
  for (var k = 0u; k < 4u; k++) {
    if (lane[k].status == STATUS_RUNNING) {
      for (var d = 0u; d < N; d++) { y[d][k] = state[state_base + k * N + d]; }
    }
  }
  init_lanes(first);
  acc_load();
  for (var it = 0u; it < P.steps_per_dispatch; it++) {
    var run = vec4<bool>(false);
    var t = vec4<f32>(0.0);
    var h = vec4<f32>(0.0);
    var plan: array<StepPlan, 4>;
    for (var k = 0u; k < 4u; k++) {
      if (lane[k].status != STATUS_RUNNING) { continue; }
      run[k] = true;
      plan[k] = plan_step(lane[k], tout[lane[k].out_idx]);
      t[k] = lane[k].t_hi;
      h[k] = plan[k].h;
    }
    if (!any(run)) { break; }
    let norm = sqrt(attempt_stages(t, h, run) / f32(N));
    var accepted = vec4<bool>(false);
    for (var k = 0u; k < 4u; k++) {
      if (!run[k]) { continue; }
      var ok = true;
      for (var d = 0u; d < N; d++) { ok = ok && finite(ynew[d][k]); }
      smp = lane[k];
      smp.n_fe += S;
      accepted[k] = decide(norm[k], ok, plan[k], tout[smp.out_idx]);
      lane[k] = smp;
    }
    if (all(accepted == run)) {
      commit_step_row();
    } else if (any(accepted)) {
      clear_step_row();
      redo_theta(t, h, accepted);
      commit_step_row();
    } else {
      clear_step_row();
    }
    for (var k = 0u; k < 4u; k++) {
      if (!run[k]) { continue; }
      smp = lane[k];
      if (accepted[k]) {
        for (var d = 0u; d < N; d++) { y[d][k] = ynew[d][k]; }
        if (plan[k].last) {
          let i = smp.out_idx;
          let g = P.offset + first + k;
          after_landing(k, i, g, land(k, i, g));
        }
      }
      check_max_steps();
      lane[k] = smp;
    }
  }
  acc_store();
  for (var k = 0u; k < 4u; k++) {
    if (first + k >= P.batch) { continue; }
    if (lane[k].status == STATUS_RUNNING) {
      for (var d = 0u; d < N; d++) { state[state_base + k * N + d] = y[d][k]; }
    }
    samples[first + k] = lane[k];
  }
}
