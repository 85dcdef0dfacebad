// webode: the Runge–Kutta core shared by the forward and the adjoint kernels.
//
// State of width N in private arrays (y, ynew, stage slots K), one vector
// field `rhs_eval(t)` that reads `rhs_in` and writes `rhs_out` (the MLP for the
// forward solve, the augmented adjoint system for the backward one), the
// stages of one attempt with their embedded error norm and the initial step,
// on top of the step-size controller (src/wgsl/controller.wgsl, included
// first). The including module declares `P` (with rtol, atol, dir, h_fixed,
// first_step, max_steps, n_out and the controller's fields), `tout`, `Sample`
// and the STATUS_* constants.

${CONTROLLER}

const N: u32 = ${N}u;
// Stage derivative slots: the tableau's stages, plus f(t+h, y_{n+1}) when the
// method is not FSAL (the dense output needs it; it is the next step's K[0]).
const NK: u32 = ${NK}u;
const FSAL: bool = ${FSAL};
// Function evaluations of one step attempt (K[0] is carried over from the last step).
const EVALS_PER_ATTEMPT: u32 = ${EVALS_PER_ATTEMPT}u;

var<private> K: array<array<f32, N>, NK>;
var<private> y: array<f32, N>;
var<private> ynew: array<f32, N>;
var<private> rhs_in: array<f32, N>;
var<private> rhs_out: array<f32, N>;

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

// The first step of a segment starting at (t0, y) with K[0] known: the
// option firstStep if set, else `hint` if positive (a reverse solve's: the
// step size its forward solve ended with), else the initial-step heuristic.
fn first_step(t0: f32, t1: f32, hint: f32) -> f32 {
  if (!ADAPTIVE) { return P.h_fixed; }
  if (P.first_step > 0.0) { return P.dir * min(P.first_step, abs(t1 - t0)); }
  if (hint > 0.0) { return P.dir * min(hint, abs(t1 - t0)); }
  return initial_step(t0, t1);
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
