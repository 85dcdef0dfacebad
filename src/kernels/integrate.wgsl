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

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/integrate.ts), numbered in its order.
${BINDINGS}

${STATUS_CONSTS}

const D: u32 = ${D}u;${TIMES_DECL}

${MLP}

${RK_CORE}

// Per-sample set-up before a sample's state is used in a dispatch (empty for
// the plain MLP; a flow's kernel loads the sample's noise ε here).
${SAMPLE_SETUP}

// Writes the dense output y(t + θh) = y + h Σ w_i(θ) K_i to output row `row`.
${DENSE}

fn write_row(row: u32, b: u32) {
  let o = (row * P.batch + b) * D;
  for (var d = 0u; d < D; d++) { out[o + d] = ynew[d]; }
}

fn init_sample(b: u32) {
  reset_controller(${T0});
  var ok = true;
  for (var d = 0u; d < D; d++) {
    y[d] = y0[b * D + d];
    ynew[d] = y[d];
    ok = ok && finite(y[d]);
  }
  write_row(0u, b);
  if (!ok) { fail(STATUS_NONFINITE); return; }
  if (P.n_out == 1u) { smp.status = STATUS_DONE; return; }
  rhs_in = y;
  rhs_eval(${T0});
  smp.n_fe = 1u;
  K[0] = rhs_out;
  if (!all_finite_k0()) { fail(STATUS_NONFINITE); return; }
  smp.h = first_step(${T0}, ${T_END}, 0.0);
  smp.status = STATUS_RUNNING;
}


// Writes outputs [lo, hi) of sample b for an accepted step from t_old (hi, lo
// parts) of size h ending at t_new: exactly ynew at t_new, the dense output
// elsewhere. Needs y, ynew and every K slot (including f(t_new, ynew)).
fn write_outputs(b: u32, lo: u32, hi: u32, t_old_hi: f32, t_old_lo: f32, h: f32, t_new: f32) {
  for (var i = lo; i < hi; i++) {
    let to = tout[${TOUT_BASE}i];
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
  let a = try_step(${T_END});
  if (a.accepted) {
    advance_outputs();
    end_derivative(smp.t_hi);
    write_outputs(b, out_lo, smp.out_idx, t_old_hi, t_old_lo, a.plan.h, smp.t_hi);
    commit_step();
  }
  check_max_steps();
}

@compute @workgroup_size(${WG})
fn integrate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;${TIMES_ROW}
  if (b >= P.batch) { return; }
  smp = samples[b];
  if (smp.status >= STATUS_DONE) { return; }
  sample_setup(b);
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
  sample_setup(b);
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
  sample_setup(b);
  for (var d = 0u; d < D; d++) {
    y[d] = ycur[b * D + d];
    K[0][d] = kbuf[kb(b, 0u, d)];
  }
  let plan = plan_step(c, P.t_end);
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
    reset_controller(P.t0);
    smp.h = P.dir * red_f[0];
    if (red_u[0] > 0u) {
      smp.status = STATUS_NONFINITE;
    } else if (P.n_out == 1u) {
      smp.status = STATUS_DONE;
    } else {
      smp.status = STATUS_RUNNING;
    }
  } else if (c.status == STATUS_RUNNING) {
    let plan = plan_step(smp, P.t_end);
    pv.t_hi = smp.t_hi;
    pv.t_lo = smp.t_lo;
    pv.h = plan.h;
    pv.out_idx = smp.out_idx;
    let norm = sqrt(red_f[0] / (f32(P.batch) * f32(D)));
    let accepted = decide(norm, red_u[0] == 0u, plan, P.t_end);
    if (accepted) { advance_outputs(); }
    check_max_steps();
    pv.status = select(0u, 1u, accepted);
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
    sample_setup(b);
    for (var d = 0u; d < D; d++) {
      y[d] = ycur[b * D + d];
      for (var i = 0u; i < NK; i++) { K[i][d] = kbuf[kb(b, i, d)]; }
      ynew[d] = kbuf[kb(b, NK, d)];
    }
    end_derivative(c.t_hi);
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
