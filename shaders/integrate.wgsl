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
@group(0) @binding(7) var<storage, read_write> kcur: array<f32>;

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

// One step attempt of sample b.
fn attempt(b: u32) {
  let t = smp.t_hi;
  var h: f32;
  var last = false;
  if (ADAPTIVE) {
    h = smp.h;
    let rem = (P.t_end - smp.t_hi) - smp.t_lo;
    if (P.dir * (h - rem) >= 0.0) { h = rem; last = true; }
  } else {
    // Fixed grid t0 + k·h, computed from k (not accumulated), so no drift.
    var tn = P.t0 + f32(smp.n_accepted + 1u) * P.h_fixed;
    if (P.dir * (P.t_end - tn) <= GRID_MERGE * abs(P.h_fixed)) { tn = P.t_end; last = true; }
    h = tn - t;
  }
  let err2 = rk_stages(t, h);
  smp.n_fe += EVALS_PER_ATTEMPT;
  let ok = all_finite_ynew();
  var norm = 0.0;
  var accept = ok;
  if (ADAPTIVE) {
    norm = sqrt(err2 / f32(D));
    accept = ok && finite(norm) && norm <= 1.0;
  } else if (!ok) {
    fail(STATUS_NONFINITE);
    return;
  }

  if (accept) {
    // New time: compensated sum (Kahan's two-sum) so 10^5 small steps do not drift.
    var t_hi: f32;
    var t_lo: f32;
    if (last) {
      t_hi = P.t_end;
      t_lo = 0.0;
    } else if (ADAPTIVE) {
      let s = smp.t_hi + h;
      let bb = s - smp.t_hi;
      let e = (smp.t_hi - (s - bb)) + (h - bb);
      let lo = smp.t_lo + e;
      t_hi = s + lo;
      t_lo = lo - (t_hi - s);
    } else {
      t_hi = t + h;
      t_lo = 0.0;
    }
    if (!FSAL) {
      mlp_in = ynew;
      mlp_eval(t_hi);
      K[NK - 1u] = mlp_out;
      smp.n_fe += 1u;
    }
    // Dense output at every output time this step reached.
    loop {
      if (smp.out_idx >= P.n_out) { break; }
      let to = tout[smp.out_idx];
      if (P.dir * (to - t_hi) > 0.0) { break; }
      if (to == t_hi) {
        write_row(smp.out_idx, b);
      } else {
        let th = clamp(((to - smp.t_hi) - smp.t_lo) / h, 0.0, 1.0);
        dense_write(th, h, smp.out_idx, b);
      }
      smp.out_idx += 1u;
    }
    y = ynew;
    K[0] = K[NK - 1u];
    smp.t_hi = t_hi;
    smp.t_lo = t_lo;
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
      if (!last) { smp.h = h * factor; }
    }
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
      return;
    }
  }
  if (smp.status == STATUS_RUNNING && smp.n_accepted + smp.n_rejected >= P.max_steps) {
    fail(STATUS_MAXSTEPS);
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
      K[0][d] = kcur[b * D + d];
    }
  }
  for (var i = 0u; i < P.steps_per_dispatch; i++) {
    if (smp.status != STATUS_RUNNING) { break; }
    attempt(b);
  }
  for (var d = 0u; d < D; d++) {
    ycur[b * D + d] = y[d];
    kcur[b * D + d] = K[0][d];
  }
  samples[b] = smp;
}
