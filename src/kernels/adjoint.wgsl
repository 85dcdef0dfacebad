// webode: the adjoint (reverse) solve of a Neural ODE, one sample per
// invocation, with per-sample adaptive steps.
//
// Each sample integrates the augmented system backwards from the last output
// time to the first:
//   dz/dt = f(t, z),   da/dt = −aᵀ ∂f/∂z,   da_θ/dt = −aᵀ ∂f/∂θ,
// with the step-size control on [z, a] only (a_θ never enters the error norm:
// the seminorm of Kidger et al. 2021; a_θ does not feed back into z or a, so it
// is a quadrature along the accepted steps). Steps land exactly on every
// output time t_i, where the adjoint jumps (a += dL/dy_i) and z is reset to the
// forward solution y_i, which bounds the error of reconstructing z backwards.
//
// The quadrature −h Σ b_i a_iᵀ∂f/∂θ(stage i) is fused into the stages: the
// sweep that evaluates a stage with b_i ≠ 0 (f and aᵀ∂f/∂z) also adds
// b_i·aᵀ∂f/∂θ, from the same activations, to the attempt's step row (P
// floats). The first stage is carried over from the last step, so an attempt
// starts its row with b_1·aᵀ∂f/∂θ at (t, y). An accepted step adds −h·(step
// row) to the sample's accumulator row acc[b]; a rejected attempt's row, which
// may hold non-finite values, is discarded (the next attempt overwrites it),
// so only steps whose ynew and error norm are finite reach the accumulator. A
// deterministic two-pass reduction over the batch (reduce.wgsl) then
// gives dL/dθ. Memory is the outputs, the cotangents, a few state vectors and
// 2P floats per sample (the step row private when P is small): it does not
// depend on how many steps either solve took.
//
// Specialised by src/kernels/adjoint.ts.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/adjoint.ts), numbered in its order.
${BINDINGS}

${STATUS_CONSTS}

const D: u32 = ${D}u;
const STATE_FLOATS: u32 = ${STATE_FLOATS}u;${TIMES_DECL}

var<private> acc_base: u32;
var<private> state_base: u32;
var<private> vjp_gt: f32;

${VJP}

// The augmented backward system [dz/dt, da/dt] = [f, −aᵀ∂f/∂z] at rhs_in.
fn rhs_eval(t: f32) { mlp_vjp(t, 0.0, false); }

${RK_CORE}

// Per-sample set-up before a sample is stepped (empty for the MLP; a flow's
// kernel loads the sample's noise ε, by its global index g).
${SAMPLE_SETUP}

// The accumulator and step rows.
${ROWS}

// Row i, sample g of a [T][total][D] array.
fn row(i: u32, g: u32) -> u32 {
  return (i * P.total + g) * D;
}

// Lands on output time index i: the adjoint jumps by dL/dy_i and z is reset
// to the forward solution there.
fn land(i: u32, g: u32) {
  for (var d = 0u; d < D; d++) {
    y[d] = ysol[row(i, g) + d];
    y[D + d] += cot[row(i, g) + d];
  }
}

fn finish(g: u32) {
  for (var d = 0u; d < D; d++) { gy0[g * D + d] = y[D + d]; }
  smp.status = STATUS_DONE;
}

// Starts a segment at the current point: f there (the state jumped, so the
// stage carried from the last step is stale) and, for the first segment, the
// first step.
fn start_segment(t: f32, first: bool) {
  rhs_in = y;
  rhs_eval(t);
  smp.n_fe += 1u;
  K[0] = rhs_out;
  smp.seg_t0 = t;
  smp.seg_k = 0u;
  if (first) { smp.h = first_step(t, tout[${TOUT_BASE}smp.out_idx], smp.h); }
}

fn init_sample(g: u32) {
  let last = P.n_out - 1u;
  reset_controller(tout[${TOUT_BASE}last]);
  for (var d = 0u; d < N; d++) { y[d] = 0.0; }
  land(last, g);
  var ok = true;
  for (var d = 0u; d < N; d++) { ok = ok && finite(y[d]); }
  if (!ok) { fail(STATUS_NONFINITE); return; }
  if (last == 0u) { finish(g); return; }
  smp.out_idx = last - 1u;
  smp.status = STATUS_RUNNING;
  start_segment(smp.t_hi, true);
  if (!all_finite_k0()) { fail(STATUS_NONFINITE); }
}

fn attempt(g: u32) {
  begin_step_row(smp.t_hi);
  let a = try_step(tout[${TOUT_BASE}smp.out_idx]);
  if (a.accepted) {
    commit_step_row(a.plan.h);
    if (a.plan.last) {
      y = ynew;
      let i = smp.out_idx;
      land(i, g);
      if (i == 0u) {
        finish(g);
      } else {
        smp.out_idx = i - 1u;
        start_segment(smp.t_hi, false);
      }
    } else {
      end_derivative(smp.t_hi);
      commit_step();
    }
  }
  check_max_steps();
}

@compute @workgroup_size(${WG})
fn adjoint(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let g = P.offset + b;${TIMES_ROW}
  acc_base = b * P.n_params;
  state_base = b * STATE_FLOATS;
  smp = samples[b];
  if (smp.status >= STATUS_DONE) { return; }
  sample_setup(g);
  if (smp.status == STATUS_NEW) {
    init_sample(g);
  } else {
    for (var d = 0u; d < N; d++) {
      y[d] = state[state_base + d];
      K[0][d] = state[state_base + N + d];
    }
  }
  acc_load();
  for (var i = 0u; i < P.steps_per_dispatch; i++) {
    if (smp.status != STATUS_RUNNING) { break; }
    attempt(g);
  }
  acc_store();
  for (var d = 0u; d < N; d++) {
    state[state_base + d] = y[d];
    state[state_base + N + d] = K[0][d];
  }
  samples[b] = smp;
}
