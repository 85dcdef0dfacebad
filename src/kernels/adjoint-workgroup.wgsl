// webode: the adjoint (reverse) solve of a Neural ODE with one sample per
// workgroup, for small batches: the invocations of a workgroup share every
// evaluation of the MLP.
//
// The system and its error control are those of adjoint.wgsl:
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
// The stages, error norm and initial step are rk_core's (src/wgsl/rk_core.wgsl)
// with `wg_vjp` as the vector field. Barriers need uniform control flow: the
// step loop stops on a flag read with workgroupUniformLoad, and every
// attempt evaluates all s stages, its first one too (its θ product needs the
// sweep anyway, and after a landing the state has jumped), so no evaluation
// depends on a step's outcome.
//
// Memory: the outputs, the cotangents, [z, a] and P floats per sample,
// whatever the number of steps. The deterministic two-pass reduction over the
// rows (reduce.wgsl) gives dL/dθ.
//
// Specialised by src/kernels/adjoint-workgroup.ts.

${STATUS_CONSTS}

const D: u32 = ${D}u;
// Invocations per workgroup (one sample).
const WG: u32 = ${WG}u;${TIMES_DECL}

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/adjoint-workgroup.ts), numbered in its order.
${BINDINGS}

var<private> tid: u32;
var<private> acc_base: u32;
// Written by invocation 0 and read with workgroupUniformLoad: the sample's
// status at the start, its first-step hint (bits), then 1 while it runs.
var<workgroup> wg_flag: u32;

${VJP}

// The augmented backward system [dz/dt, da/dt] = [f, −aᵀ∂f/∂z] at rhs_in.
fn rhs_eval(t: f32) { wg_vjp(t, 0.0, false); }

${RK_CORE}

// Landing on an output time: a += dL/dy_i, z ← y_i; then the next segment,
// or done at the first output (invocation 0 writes dL/dy0).
${LANDING}

// Starts a new sample: [z, a] at the last output, then its first step (the
// evaluations run whatever the state, for uniform control flow).
fn init_sample(g: u32) {
  let last = P.n_out - 1u;
  reset_controller(tout[${TOUT_BASE}last]);
  for (var d = 0u; d < N; d++) { y[d] = 0.0; }
  let ok = land(last, g);
  smp.status = STATUS_RUNNING;
  after_landing(last, g, ok);
  rhs_in = y;
  rhs_eval(smp.t_hi);
  K[0] = rhs_out;
  smp.n_fe += 1u;
  // The first-step hint through workgroup memory: a uniform value for the branch in first_step.
  if (tid == 0u) { wg_flag = bitcast<u32>(smp.h); }
  let hint = bitcast<f32>(workgroupUniformLoad(&wg_flag));
  smp.h = first_step(smp.t_hi, tout[${TOUT_BASE}smp.out_idx], hint);
  if (smp.status == STATUS_RUNNING && !all_finite_k0()) { fail(STATUS_NONFINITE); }
}

// One attempt from (t, y): its first stage (with b_1·aᵀ∂f/∂θ into the step
// slice: the stage is not carried over from the last step), then the others
// and the decision (rk_core's try_step).
fn attempt(g: u32) {
  rhs_in = y;
  ${FIRST_STAGE}
  K[0] = rhs_out;
  smp.n_fe += 1u;
  let a = try_step(tout[${TOUT_BASE}smp.out_idx]);
  if (a.accepted) {
    commit_step_row(a.plan.h);
    y = ynew;
    if (a.plan.last) {
      let i = smp.out_idx;
      after_landing(i, g, land(i, g));
    }
  } else {
    clear_step_row();
  }
  check_max_steps();
}

@compute @workgroup_size(WG)
fn adjoint(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  if (b >= P.batch) { return; }
  tid = lid;
  let g = P.offset + b;${TIMES_ROW}
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
    attempt(g);
  }
  acc_store();
  if (tid == 0u) {
    if (smp.status == STATUS_RUNNING) {
      for (var d = 0u; d < N; d++) { state[b * N + d] = y[d]; }
    }
    samples[b] = smp;
  }
}
