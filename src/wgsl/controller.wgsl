// webode: the step-size controller shared by every solver kernel.
//
// One sample's controller state `smp` (a Sample), the plan of a step attempt
// (adaptive steps clipped to the segment end, fixed steps on their grid), the
// accept/reject decision with the PI controller, and the failure statuses.
// Every decision a solve makes about steps is made here, so the per-sample
// kernels, the batch controller, the adjoint and its lane kernel all take the
// same decisions. The including module declares `P` (with rtol, atol, dir,
// h_fixed, max_steps and the controller's beta1, beta2, safety, factor_min,
// factor_max, n_out), `Sample`, `tout` and the STATUS_* constants.

const ADAPTIVE: bool = ${ADAPTIVE};
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

// True when x is neither Inf nor NaN, tested on the bits: WGSL lets compilers
// assume floats are finite, so x != x may be folded away.
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn fail(status: u32) {
  smp.status = status;
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
// marks the sample done after the last one (forward solves: the one-sample
// and the lane integration kernels).
fn advance_outputs() {
  loop {
    if (smp.out_idx >= P.n_out) { break; }
    if (P.dir * (tout[${TOUT_BASE}smp.out_idx] - smp.t_hi) > 0.0) { break; }
    smp.out_idx += 1u;
  }
  if (smp.out_idx >= P.n_out) { smp.status = STATUS_DONE; }
}

// Fails a sample that is still running after max_steps attempts.
fn check_max_steps() {
  if (smp.status == STATUS_RUNNING && smp.n_accepted + smp.n_rejected >= P.max_steps) {
    fail(STATUS_MAXSTEPS);
  }
}
