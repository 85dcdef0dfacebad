// webode: the Runge–Kutta core shared by the forward and the adjoint kernels.
//
// State of width N in private arrays (y, ynew, stage slots K), one vector
// field `rhs_eval(t)` that reads `rhs_in` and writes `rhs_out` (the MLP for the
// forward solve, the augmented adjoint system for the backward one), the
// stages of one attempt with their embedded error norm, the initial step, and
// the step-size controller. Every decision a solve makes about steps is made
// here, so the per-sample kernel, the batch controller and the adjoint all
// take the same decisions. The including module declares `P` (with rtol, atol,
// dir, h_fixed, first_step, max_steps, n_out and the controller's beta1,
// beta2, safety, factor_min, factor_max), `tout`, `Sample` and the STATUS_*
// constants.

const N: u32 = ${N}u;
// Stage derivative slots: the tableau's stages, plus f(t+h, y_{n+1}) when the
// method is not FSAL (the dense output needs it; it is the next step's K[0]).
const NK: u32 = ${NK}u;
const ADAPTIVE: bool = ${ADAPTIVE};
const FSAL: bool = ${FSAL};
// Function evaluations of one step attempt (K[0] is carried over from the last step).
const EVALS_PER_ATTEMPT: u32 = ${EVALS_PER_ATTEMPT}u;
// Order q of the error estimate plus one: the exponent of the rejection
// shrink and of the initial-step formula. The PI gains, safety factor and
// factor limits are per-solve values in P (the controller is an option).
const ERROR_ORDER: f32 = ${ERROR_ORDER};
const NONFINITE_SHRINK: f32 = ${NONFINITE_SHRINK};
const ERR_PREV_FLOOR: f32 = 1e-4;
const FLAG_REJECTED: u32 = 1u;
const FLAG_NONFINITE: u32 = 2u;
// A grid step of a fixed-step method that would end within this fraction of
// the step size before the end of its segment is merged into the last step.
const GRID_MERGE: f32 = 1e-4;

var<private> smp: Sample;
var<private> K: array<array<f32, N>, NK>;
var<private> y: array<f32, N>;
var<private> ynew: array<f32, N>;
var<private> rhs_in: array<f32, N>;
var<private> rhs_out: array<f32, N>;

// True when x is neither Inf nor NaN, tested on the bits: WGSL lets compilers
// assume floats are finite, so x != x may be folded away.
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn all_finite_ynew() -> bool {
  var ok = true;
  for (var d = 0u; d < N; d++) { ok = ok && finite(ynew[d]); }
  return ok;
}

fn all_finite_k0() -> bool {
  var ok = true;
  for (var d = 0u; d < N; d++) { ok = ok && finite(K[0][d]); }
  return ok;
}

fn fail(status: u32) {
  smp.status = status;
}

// The stages of one attempt from (t, y) with step h: fills K[1..], ynew, and
// returns Σ_d (e_d / (atol + rtol·max(|y_d|, |ynew_d|)))² of the embedded error
// estimate e = h Σ (b_i − b̂_i) K_i (0 for fixed-step methods).
${STAGES}

// Hairer's initial step (Hairer, Nørsett & Wanner, Solving ODEs I, II.4) from
// (t0, y) with K[0] = f(t0, y), towards t1: from the scaled norms of y, K[0]
// and a finite-difference estimate of the second derivative. Costs one
// function evaluation. Returns the signed step.
fn initial_step(t0: f32, t1: f32) -> f32 {
  let span = abs(t1 - t0);
  var d0 = 0.0;
  var d1 = 0.0;
  for (var d = 0u; d < N; d++) {
    let sc = P.atol + abs(y[d]) * P.rtol;
    d0 += (y[d] / sc) * (y[d] / sc);
    d1 += (K[0][d] / sc) * (K[0][d] / sc);
  }
  d0 = sqrt(d0 / f32(N));
  d1 = sqrt(d1 / f32(N));
  var h0 = 1e-6;
  if (d0 >= 1e-5 && d1 >= 1e-5) { h0 = 0.01 * d0 / d1; }
  h0 = min(h0, span);
  for (var d = 0u; d < N; d++) { rhs_in[d] = y[d] + P.dir * h0 * K[0][d]; }
  rhs_eval(t0 + P.dir * h0);
  smp.n_fe += 1u;
  var d2 = 0.0;
  for (var d = 0u; d < N; d++) {
    let sc = P.atol + abs(y[d]) * P.rtol;
    let q = (rhs_out[d] - K[0][d]) / sc;
    d2 += q * q;
  }
  d2 = sqrt(d2 / f32(N)) / h0;
  let dm = max(d1, d2);
  var h1 = max(1e-6, h0 * 1e-3);
  if (dm > 1e-15 && finite(dm)) { h1 = pow(0.01 / dm, 1.0 / ERROR_ORDER); }
  return P.dir * min(min(100.0 * h0, h1), span);
}

// The first step of a segment starting at (t0, y) with K[0] known.
fn first_step(t0: f32, t1: f32) -> f32 {
  if (!ADAPTIVE) { return P.h_fixed; }
  if (P.first_step > 0.0) { return P.dir * min(P.first_step, abs(t1 - t0)); }
  return initial_step(t0, t1);
}

// The step of an attempt from the controller state `c` within the segment
// ending at seg_end. Adaptive steps are clipped to land exactly on seg_end
// (then `last`); fixed steps follow the grid seg_t0 + k·h, computed from k
// (not accumulated), so there is no drift.
struct StepPlan {
  h: f32,
  last: bool,
}

fn plan_step(c: Sample, seg_end: f32) -> StepPlan {
  var plan: StepPlan;
  if (ADAPTIVE) {
    plan.h = c.h;
    plan.last = false;
    let rem = (seg_end - c.t_hi) - c.t_lo;
    if (P.dir * (plan.h - rem) >= 0.0) { plan.h = rem; plan.last = true; }
  } else {
    var tn = c.seg_t0 + f32(c.seg_k + 1u) * P.h_fixed;
    plan.last = P.dir * (seg_end - tn) <= GRID_MERGE * abs(P.h_fixed);
    if (plan.last) { tn = seg_end; }
    plan.h = tn - c.t_hi;
  }
  return plan;
}

// Accepts or rejects the attempt described by (norm, ok, plan) and updates
// the controller state `smp`: time (compensated sum; exactly seg_end on the
// last step of a segment), counters, the next step size (PI controller) and
// failures. Returns true when the step is accepted.
fn decide(norm: f32, ok: bool, plan: StepPlan, seg_end: f32) -> bool {
  let h = plan.h;
  let accept = ok && (!ADAPTIVE || (finite(norm) && norm <= 1.0));
  if (accept) {
    if (plan.last) {
      smp.t_hi = seg_end;
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
    smp.n_accepted += 1u;
    smp.seg_k += 1u;
    if (ADAPTIVE) {
      // PI controller (Gustafsson; Söderlind): factor = safety·norm^-β1·norm_prev^β2.
      var factor = P.factor_max;
      if (norm > 0.0) {
        factor = P.safety * pow(norm, -P.beta1) * pow(smp.err_prev, P.beta2);
      }
      factor = clamp(factor, P.factor_min, P.factor_max);
      if ((smp.flags & FLAG_REJECTED) != 0u) { factor = min(factor, 1.0); }
      smp.err_prev = max(norm, ERR_PREV_FLOOR);
      smp.flags = 0u;
      // A step clipped to the segment end keeps the controller's own proposal.
      if (!plan.last) { smp.h = h * factor; }
    }
  } else if (!ADAPTIVE) {
    // A fixed step cannot shrink: a non-finite state ends the sample.
    fail(STATUS_NONFINITE);
  } else {
    smp.n_rejected += 1u;
    let nonfinite = !(ok && finite(norm));
    var factor = NONFINITE_SHRINK;
    if (!nonfinite) {
      factor = clamp(P.safety * pow(norm, -1.0 / ERROR_ORDER), P.factor_min, 1.0);
    }
    smp.flags = FLAG_REJECTED;
    if (nonfinite) { smp.flags = FLAG_REJECTED | FLAG_NONFINITE; }
    smp.h = h * factor;
    // Underflow: the step no longer changes t in float32.
    let floor_h = 4.0 * 1.1920929e-7 * max(abs(smp.t_hi), abs(seg_end - smp.seg_t0) * 1e-3);
    if (abs(smp.h) < floor_h) {
      if (nonfinite) { fail(STATUS_NONFINITE); } else { fail(STATUS_UNDERFLOW); }
    }
  }
  return accept;
}

// Starts the controller state at t0 (output 0 written, nothing counted yet).
fn reset_controller(t0: f32) {
  smp.t_hi = t0;
  smp.t_lo = 0.0;
  smp.seg_t0 = t0;
  smp.seg_k = 0u;
  smp.err_prev = 1.0;
  smp.out_idx = 1u;
  smp.n_accepted = 0u;
  smp.n_rejected = 0u;
  smp.n_fe = 0u;
  smp.flags = 0u;
}

// Advances out_idx past every output time the last accepted step reached and
// marks the sample done after the last one (forward solves).
fn advance_outputs() {
  loop {
    if (smp.out_idx >= P.n_out) { break; }
    if (P.dir * (tout[smp.out_idx] - smp.t_hi) > 0.0) { break; }
    smp.out_idx += 1u;
  }
  if (smp.out_idx >= P.n_out) { smp.status = STATUS_DONE; }
}

// One step attempt of the controller state `smp` towards seg_end: the plan,
// the stages, the error norm and the decision. On acceptance the caller
// still holds y (the old point), ynew and every stage, for its outputs.
struct Attempt {
  plan: StepPlan,
  accepted: bool,
}

fn try_step(seg_end: f32) -> Attempt {
  var a: Attempt;
  a.plan = plan_step(smp, seg_end);
  let err2 = rk_stages(smp.t_hi, a.plan.h);
  smp.n_fe += EVALS_PER_ATTEMPT;
  a.accepted = decide(sqrt(err2 / f32(N)), all_finite_ynew(), a.plan, seg_end);
  return a;
}

// f(t_new, ynew) into the last K slot when the method is not FSAL (for FSAL
// methods the last stage already is): the dense output needs it, and it is
// the next step's K[0].
fn end_derivative(t_new: f32) {
  if (!FSAL) {
    rhs_in = ynew;
    rhs_eval(t_new);
    K[NK - 1u] = rhs_out;
    smp.n_fe += 1u;
  }
}

// Moves to the accepted point: y ← ynew, K[0] ← f(t_new, ynew).
fn commit_step() {
  y = ynew;
  K[0] = K[NK - 1u];
}

// Fails a sample that is still running after max_steps attempts.
fn check_max_steps() {
  if (smp.status == STATUS_RUNNING && smp.n_accepted + smp.n_rejected >= P.max_steps) {
    fail(STATUS_MAXSTEPS);
  }
}
