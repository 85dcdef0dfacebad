// webode: per-sample Runge–Kutta integration of an MLP vector field.
//
// One invocation integrates one sample of the batch. Each dispatch runs up to
// P.steps_per_dispatch step attempts: the stages (each stage input
// y + h·Σ a_ij K_j fused with the MLP evaluation on it), the embedded error
// estimate and its mixed RMS norm, accept/reject, the PI step-size update, and
// the dense output at every output time the step passed. Its state (time,
// step size, controller memory, counters) lives in `samples`, its solution
// point in `ycur` and the derivative there in `kcur`, so the next dispatch goes
// on where this one stopped. The host records many dispatches per submit and
// reads back only a small summary between chunks: no host wait per step.
//
// A sample that is finished (or failed) returns at once, so finished samples
// cost almost nothing while the others go on.
//
// Specialised by src/kernels/integrate.ts: every template marker is filled from
// the kernel spec (state width, tableau, MLP shape, workgroup size).

${PARAMS_STRUCT}

${SAMPLE_STRUCT}

${STATUS_CONSTS}

const D: u32 = ${D}u;
// Stage derivative slots: the tableau's stages, plus f(t+h, y_{n+1}) when the
// method is not FSAL (the dense output needs it; it is the next step's K[0]).
const NK: u32 = ${NK}u;
const ADAPTIVE: bool = ${ADAPTIVE};
const FSAL: bool = ${FSAL};
// Function evaluations of one step attempt (K[0] is carried over from the last step).
const EVALS_PER_ATTEMPT: u32 = ${EVALS_PER_ATTEMPT}u;
// Step-size controller (see src/kernels/integrate.ts for the values' reasons).
const ERROR_ORDER: f32 = ${ERROR_ORDER};
const SAFETY: f32 = ${SAFETY};
const FACTOR_MIN: f32 = ${FACTOR_MIN};
const FACTOR_MAX: f32 = ${FACTOR_MAX};
const NONFINITE_SHRINK: f32 = ${NONFINITE_SHRINK};
const BETA1: f32 = ${BETA1};
const BETA2: f32 = ${BETA2};
const ERR_PREV_FLOOR: f32 = 1e-4;
const FLAG_REJECTED: u32 = 1u;
const FLAG_NONFINITE: u32 = 2u;
// A grid step of a fixed-step method that would end within this fraction of
// the step size before the final time is merged into the last step.
const GRID_MERGE: f32 = 1e-4;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read> y0: array<f32>;
@group(0) @binding(3) var<storage, read> tout: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> samples: array<Sample>;
@group(0) @binding(6) var<storage, read_write> ycur: array<f32>;
// Per-sample mode: f(t, y) at the current point (B×D). Batch mode: every
// stage of the current attempt and y_{n+1} (B×(NK+1)×D).
@group(0) @binding(7) var<storage, read_write> kbuf: array<f32>;

var<private> smp: Sample;
var<private> K: array<array<f32, D>, NK>;
var<private> y: array<f32, D>;
var<private> ynew: array<f32, D>;

${MLP}

// True when x is neither Inf nor NaN, tested on the bits: WGSL lets compilers
// assume floats are finite, so x != x may be folded away.
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn all_finite_ynew() -> bool {
  var ok = true;
  for (var d = 0u; d < D; d++) { ok = ok && finite(ynew[d]); }
  return ok;
}

// The stages of one attempt from (t, y) with step h: fills K[1..], ynew, and
// returns Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))² of the embedded error
// estimate e = h Σ (b_i − b̂_i) K_i (0 for fixed-step methods).
${STAGES}

// Writes the dense output y(t + θh) = y + h Σ w_i(θ) K_i to output row `row`.
${DENSE}

fn write_row(row: u32, b: u32) {
  let o = (row * P.batch + b) * D;
  for (var d = 0u; d < D; d++) { out[o + d] = ynew[d]; }
}

fn fail(status: u32) {
  smp.status = status;
}

// Hairer's initial step (Hairer, Nørsett & Wanner, Solving ODEs I, II.4): from
// the scaled norms of y0, f(t0, y0) and a finite-difference estimate of the
// second derivative. Costs one function evaluation.
fn initial_step() -> f32 {
  var d0 = 0.0;
  var d1 = 0.0;
  for (var d = 0u; d < D; d++) {
    let sc = P.atol + abs(y[d]) * P.rtol;
    d0 += (y[d] / sc) * (y[d] / sc);
    d1 += (K[0][d] / sc) * (K[0][d] / sc);
  }
  d0 = sqrt(d0 / f32(D));
  d1 = sqrt(d1 / f32(D));
  var h0 = 1e-6;
  if (d0 >= 1e-5 && d1 >= 1e-5) { h0 = 0.01 * d0 / d1; }
  h0 = min(h0, abs(P.t_end - P.t0));
  for (var d = 0u; d < D; d++) { mlp_in[d] = y[d] + P.dir * h0 * K[0][d]; }
  mlp_eval(P.t0 + P.dir * h0);
  smp.n_fe += 1u;
  var d2 = 0.0;
  for (var d = 0u; d < D; d++) {
    let sc = P.atol + abs(y[d]) * P.rtol;
    let q = (mlp_out[d] - K[0][d]) / sc;
    d2 += q * q;
  }
  d2 = sqrt(d2 / f32(D)) / h0;
  let dm = max(d1, d2);
  var h1 = max(1e-6, h0 * 1e-3);
  if (dm > 1e-15 && finite(dm)) { h1 = pow(0.01 / dm, 1.0 / ERROR_ORDER); }
  let h = min(min(100.0 * h0, h1), abs(P.t_end - P.t0));
  return P.dir * h;
}

fn init_sample(b: u32) {
  smp.t_hi = P.t0;
  smp.t_lo = 0.0;
  smp.err_prev = 1.0;
  smp.out_idx = 1u;
  smp.n_accepted = 0u;
  smp.n_rejected = 0u;
  smp.n_fe = 0u;
  smp.flags = 0u;
  var ok = true;
  for (var d = 0u; d < D; d++) {
    y[d] = y0[b * D + d];
    ynew[d] = y[d];
    ok = ok && finite(y[d]);
  }
  write_row(0u, b);
  if (!ok) { fail(STATUS_NONFINITE); return; }
  if (P.n_out == 1u) { smp.status = STATUS_DONE; return; }
  mlp_in = y;
  mlp_eval(P.t0);
  smp.n_fe = 1u;
  K[0] = mlp_out;
  for (var d = 0u; d < D; d++) { ok = ok && finite(K[0][d]); }
  if (!ok) { fail(STATUS_NONFINITE); return; }
  if (ADAPTIVE) {
    if (P.first_step > 0.0) {
      smp.h = P.dir * min(P.first_step, abs(P.t_end - P.t0));
    } else {
      smp.h = initial_step();
    }
  } else {
    smp.h = P.h_fixed;
  }
  smp.status = STATUS_RUNNING;
}

// The step of an attempt from the controller state `c`: adaptive steps are
// clipped to land exactly on t_end (then `last`); fixed steps follow the grid
// t0 + k·h, computed from k (not accumulated), so there is no drift.
struct StepPlan {
  h: f32,
  last: bool,
}

fn plan_step(c: Sample) -> StepPlan {
  var plan: StepPlan;
  if (ADAPTIVE) {
    plan.h = c.h;
    plan.last = false;
    let rem = (P.t_end - c.t_hi) - c.t_lo;
    if (P.dir * (plan.h - rem) >= 0.0) { plan.h = rem; plan.last = true; }
  } else {
    var tn = P.t0 + f32(c.n_accepted + 1u) * P.h_fixed;
    plan.last = P.dir * (P.t_end - tn) <= GRID_MERGE * abs(P.h_fixed);
    if (plan.last) { tn = P.t_end; }
    plan.h = tn - c.t_hi;
  }
  return plan;
}

// Accept or reject the attempt described by (norm, ok, plan) and update the
// controller state `smp`: time (compensated sum), the outputs the step passed
// (out_idx), counters, the next step size (PI controller), and failures.
// Returns true when the step is accepted. Shared by the per-sample kernel and
// the batch controller, so both modes make the same decisions.
fn decide(norm: f32, ok: bool, plan: StepPlan) -> bool {
  let h = plan.h;
  let accept = ok && (!ADAPTIVE || (finite(norm) && norm <= 1.0));
  if (accept) {
    if (plan.last) {
      smp.t_hi = P.t_end;
      smp.t_lo = 0.0;
    } else if (ADAPTIVE) {
      // Kahan's two-sum: 10^5 small steps do not drift in float32.
      let s = smp.t_hi + h;
      let bb = s - smp.t_hi;
      let e = (smp.t_hi - (s - bb)) + (h - bb);
      let lo = smp.t_lo + e;
      smp.t_hi = s + lo;
      smp.t_lo = lo - (smp.t_hi - s);
    } else {
      smp.t_hi = smp.t_hi + h;
    }
    loop {
      if (smp.out_idx >= P.n_out) { break; }
      if (P.dir * (tout[smp.out_idx] - smp.t_hi) > 0.0) { break; }
      smp.out_idx += 1u;
    }
    smp.n_accepted += 1u;
    if (smp.out_idx >= P.n_out) { smp.status = STATUS_DONE; }
    if (ADAPTIVE) {
      // PI controller (Gustafsson; Söderlind): factor = safety·norm^-β1·norm_prev^β2.
      var factor = FACTOR_MAX;
      if (norm > 0.0) {
        factor = SAFETY * pow(norm, -BETA1) * pow(smp.err_prev, BETA2);
      }
      factor = clamp(factor, FACTOR_MIN, FACTOR_MAX);
      if ((smp.flags & FLAG_REJECTED) != 0u) { factor = min(factor, 1.0); }
      smp.err_prev = max(norm, ERR_PREV_FLOOR);
      smp.flags = 0u;
      if (!plan.last) { smp.h = h * factor; }
    }
  } else if (!ADAPTIVE) {
    // A fixed step cannot shrink: a non-finite state ends the sample.
    fail(STATUS_NONFINITE);
    return false;
  } else {
    smp.n_rejected += 1u;
    let nonfinite = !(ok && finite(norm));
    var factor = NONFINITE_SHRINK;
    if (!nonfinite) {
      factor = clamp(SAFETY * pow(norm, -1.0 / ERROR_ORDER), FACTOR_MIN, 1.0);
    }
    smp.flags = FLAG_REJECTED;
    if (nonfinite) { smp.flags = FLAG_REJECTED | FLAG_NONFINITE; }
    smp.h = h * factor;
    // Underflow: the step no longer changes t in float32.
    let floor_h = 4.0 * 1.1920929e-7 * max(abs(smp.t_hi), abs(P.t_end - P.t0) * 1e-3);
    if (abs(smp.h) < floor_h) {
      if (nonfinite) { fail(STATUS_NONFINITE); } else { fail(STATUS_UNDERFLOW); }
    }
  }
  if (smp.status == STATUS_RUNNING && smp.n_accepted + smp.n_rejected >= P.max_steps) {
    fail(STATUS_MAXSTEPS);
  }
  return accept;
}

// Writes outputs [lo, hi) of sample b for an accepted step from t_old (hi, lo
// parts) of size h ending at t_new: exactly ynew at t_new, the dense output
// elsewhere. Needs y, ynew and every K slot (including f(t_new, ynew)).
fn write_outputs(b: u32, lo: u32, hi: u32, t_old_hi: f32, t_old_lo: f32, h: f32, t_new: f32) {
  for (var i = lo; i < hi; i++) {
    let to = tout[i];
    if (to == t_new) {
      write_row(i, b);
    } else {
      dense_write(clamp(((to - t_old_hi) - t_old_lo) / h, 0.0, 1.0), h, i, b);
    }
  }
}

// One step attempt of sample b (per-sample step control).
fn attempt(b: u32) {
  let t_old_hi = smp.t_hi;
  let t_old_lo = smp.t_lo;
  let out_lo = smp.out_idx;
  let plan = plan_step(smp);
  let err2 = rk_stages(t_old_hi, plan.h);
  smp.n_fe += EVALS_PER_ATTEMPT;
  let ok = all_finite_ynew();
  let norm = sqrt(err2 / f32(D));
  if (decide(norm, ok, plan)) {
    if (!FSAL) {
      mlp_in = ynew;
      mlp_eval(smp.t_hi);
      K[NK - 1u] = mlp_out;
      smp.n_fe += 1u;
    }
    write_outputs(b, out_lo, smp.out_idx, t_old_hi, t_old_lo, plan.h, smp.t_hi);
    y = ynew;
    K[0] = K[NK - 1u];
  }
}

@compute @workgroup_size(${WG})
fn integrate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  smp = samples[b];
  if (smp.status >= STATUS_DONE) { return; }
  if (smp.status == STATUS_NEW) {
    init_sample(b);
  } else {
    for (var d = 0u; d < D; d++) {
      y[d] = ycur[b * D + d];
      K[0][d] = kbuf[b * D + d];
    }
  }
  for (var i = 0u; i < P.steps_per_dispatch; i++) {
    if (smp.status != STATUS_RUNNING) { break; }
    attempt(b);
  }
  for (var d = 0u; d < D; d++) {
    ycur[b * D + d] = y[d];
    kbuf[b * D + d] = K[0][d];
  }
  samples[b] = smp;
}

// ---------------------------------------------------------------------------
// Batch-shared step control: every sample takes the same steps. One attempt is
// three dispatches: batch_attempt (per sample: stages and the sample's share
// of the error), batch_control (one workgroup: the RMS error norm over the
// whole batch, accept/reject and the next step, by the same `decide` as the
// per-sample kernel) and batch_commit (per sample: outputs and the new state).
// The shared controller state is samples[batch]; samples[batch + 1] records
// the last decision (its t, h, first output index, and status 1 = accepted,
// 0 = rejected, 2 = no step) for batch_commit.
// ---------------------------------------------------------------------------

const CWG: u32 = ${CWG}u;
const KB: u32 = NK + 1u; // kbuf slots per sample in batch mode: K[0..NK-1], then y_{n+1}

fn kb(b: u32, slot: u32, d: u32) -> u32 {
  return (b * KB + slot) * D + d;
}

@compute @workgroup_size(${WG})
fn batch_init(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  smp = samples[b];
  if (smp.status != STATUS_NEW) { return; }
  init_sample(b);
  for (var d = 0u; d < D; d++) {
    ycur[b * D + d] = y[d];
    kbuf[kb(b, 0u, d)] = K[0][d];
  }
  samples[b] = smp;
}

@compute @workgroup_size(${WG})
fn batch_attempt(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let c = samples[P.batch];
  if (c.status != STATUS_RUNNING) { return; }
  smp = samples[b];
  for (var d = 0u; d < D; d++) {
    y[d] = ycur[b * D + d];
    K[0][d] = kbuf[kb(b, 0u, d)];
  }
  let plan = plan_step(c);
  let err2 = rk_stages(c.t_hi, plan.h);
  let ok = all_finite_ynew() && finite(err2);
  smp.n_fe += EVALS_PER_ATTEMPT;
  // This sample's share of the batch error, and whether it went non-finite.
  smp.err_prev = select(0.0, err2, ok);
  smp.flags = select(FLAG_NONFINITE, 0u, ok);
  for (var d = 0u; d < D; d++) {
    for (var i = 1u; i < NK; i++) { kbuf[kb(b, i, d)] = K[i][d]; }
    kbuf[kb(b, NK, d)] = ynew[d];
  }
  samples[b] = smp;
}

var<workgroup> red_f: array<f32, CWG>;
var<workgroup> red_u: array<u32, CWG>;

@compute @workgroup_size(${CWG})
fn batch_control(@builtin(local_invocation_index) lid: u32) {
  let c = samples[P.batch];
  let starting = c.status == STATUS_NEW;
  // Fold a strided slice of the batch, then reduce in a fixed order
  // (deterministic). Starting: the smallest per-sample initial step and the
  // failed count; stepping: Σ err² and the count of non-finite samples.
  var acc = 0.0;
  var hmin = 3.0e38;
  var bad = 0u;
  for (var b = lid; b < P.batch; b += CWG) {
    let s = samples[b];
    if (s.status == STATUS_RUNNING) { hmin = min(hmin, abs(s.h)); }
    if (s.status > STATUS_DONE) { bad += 1u; }
    acc += s.err_prev;
    if ((s.flags & FLAG_NONFINITE) != 0u) { bad += 1u; }
  }
  red_f[lid] = select(acc, hmin, starting);
  red_u[lid] = bad;
  workgroupBarrier();
  for (var stride = CWG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      if (starting) {
        red_f[lid] = min(red_f[lid], red_f[lid + stride]);
      } else {
        red_f[lid] = red_f[lid] + red_f[lid + stride];
      }
      red_u[lid] += red_u[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  smp = c;
  var pv = samples[P.batch + 1u];
  pv.status = 2u;
  if (starting) {
    smp.t_hi = P.t0;
    smp.t_lo = 0.0;
    smp.err_prev = 1.0;
    smp.out_idx = 1u;
    smp.flags = 0u;
    smp.n_accepted = 0u;
    smp.n_rejected = 0u;
    smp.n_fe = 0u;
    smp.h = P.dir * red_f[0];
    if (red_u[0] > 0u) {
      smp.status = STATUS_NONFINITE;
    } else if (P.n_out == 1u) {
      smp.status = STATUS_DONE;
    } else {
      smp.status = STATUS_RUNNING;
    }
  } else if (c.status == STATUS_RUNNING) {
    let plan = plan_step(smp);
    pv.t_hi = smp.t_hi;
    pv.t_lo = smp.t_lo;
    pv.h = plan.h;
    pv.out_idx = smp.out_idx;
    let norm = sqrt(red_f[0] / (f32(P.batch) * f32(D)));
    pv.status = select(0u, 1u, decide(norm, red_u[0] == 0u, plan));
  } else {
    return;
  }
  samples[P.batch] = smp;
  samples[P.batch + 1u] = pv;
}

@compute @workgroup_size(${WG})
fn batch_commit(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  smp = samples[b];
  if (smp.status >= STATUS_DONE) { return; }
  let c = samples[P.batch];
  let pv = samples[P.batch + 1u];
  if (pv.status == 1u) {
    for (var d = 0u; d < D; d++) {
      y[d] = ycur[b * D + d];
      for (var i = 0u; i < NK; i++) { K[i][d] = kbuf[kb(b, i, d)]; }
      ynew[d] = kbuf[kb(b, NK, d)];
    }
    if (!FSAL) {
      mlp_in = ynew;
      mlp_eval(c.t_hi);
      K[NK - 1u] = mlp_out;
      smp.n_fe += 1u;
    }
    write_outputs(b, pv.out_idx, c.out_idx, pv.t_hi, pv.t_lo, pv.h, c.t_hi);
    for (var d = 0u; d < D; d++) {
      ycur[b * D + d] = ynew[d];
      kbuf[kb(b, 0u, d)] = K[NK - 1u][d];
    }
    smp.n_accepted += 1u;
  } else if (pv.status == 0u) {
    smp.n_rejected += 1u;
  }
  smp.t_hi = c.t_hi;
  smp.t_lo = c.t_lo;
  smp.h = c.h;
  smp.out_idx = c.out_idx;
  // A failure of the batch stops every sample; the samples that went
  // non-finite themselves are the ones with FLAG_NONFINITE set.
  smp.status = c.status;
  samples[b] = smp;
}
