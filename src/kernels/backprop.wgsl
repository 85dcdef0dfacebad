// webode: exact gradients of the discrete solver ("backprop" mode), one
// sample per invocation, with checkpointing.
//
// Reverse-mode differentiation of every accepted Runge–Kutta step of the
// forward solve (step sizes are taken as constants, as the forward's
// controller chose them): for a step y_{n+1} = y_n + h Σ b_i K_i with
// K_i = f(t_n + c_i h, Y_i), Y_i = y_n + h Σ_j a_ij K_j, and outputs
// y_n + h Σ w_j(θ) K_j inside it, the cotangents go
//   K̄_j += h w_j(θ) c (dense outputs), ȳ_n += c,
//   K̄_i += h b_i ȳ_{n+1}, ȳ_n += ȳ_{n+1},
//   for i = s−1 … 0: Ȳ_i = J_iᵀ K̄_i, θ̄ += (∂f/∂θ)ᵀ K̄_i, ȳ_n += Ȳ_i, K̄_j += h a_ij Ȳ_i.
//
// Each sample runs a small state machine across dispatches:
//   RECORD  replays the forward solve from y0 (same code, so the same steps)
//           and saves a checkpoint (controller state, y, f) every k accepted
//           steps;
//   REPLAY  restores checkpoint j and replays its ≤ k steps, writing each
//           step's (y_n, t_n, h, outputs) to a tape of k records;
//   REVERSE walks the tape backwards through the steps above, then goes to
//           REPLAY of checkpoint j − 1, until j = 0.
// With k ≈ √N for N steps, memory is O(√N) per sample and the forward is
// recomputed about twice. dL/dθ rows go to `acc` and are reduced like the
// adjoint's.
//
// Specialised by src/kernels/backprop.ts.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/backprop.ts), numbered in its order.
${BINDINGS}

${STATUS_CONSTS}

const D: u32 = ${D}u;
// Words of one checkpoint: the Sample struct, y, f(t, y).
const CK: u32 = ${CK}u;
// Words of one tape record: y_n, t_n (hi, lo), h, t_{n+1}, first and end output index.
const SR: u32 = ${SR}u;
// Words of a sample's work area: phase, checkpoint, records, position, evaluations before the last restore, then ȳ, y, f(t, y).
const WORK: u32 = ${WORK}u;${TIMES_DECL}

const PHASE_RECORD: u32 = 1u;
const PHASE_REPLAY: u32 = 2u;
const PHASE_REVERSE: u32 = 3u;
const PHASE_FINISHED: u32 = 4u;

var<private> acc_base: u32;
var<private> vjp_gt: f32;
var<private> vjp_in: array<f32, ${D2}>;
var<private> vjp_out: array<f32, ${D2}>;
var<private> ybar: array<f32, D>;
var<private> ynacc: array<f32, D>;
var<private> phase: u32;
var<private> ckpt: u32;
var<private> nrec: u32;
var<private> pos: u32;
var<private> fe_base: u32;

${VJP}

${MLP}

${RK_CORE}

${KBAR}

${CKPT}

fn row(i: u32, g: u32) -> u32 {
  return (i * P.total + g) * D;
}

fn tape_base(b: u32) -> u32 {
  return b * (P.n_ckpt * CK + P.seg_len * SR);
}


// One forward attempt (no outputs written). On acceptance in REPLAY, the
// step's record goes to tape slot `nrec`.
fn fwd_attempt(b: u32) -> bool {
  let t_old_hi = smp.t_hi;
  let t_old_lo = smp.t_lo;
  let out_lo = smp.out_idx;
  let a = try_step(${T_END});
  if (a.accepted) {
    advance_outputs();
    if (phase == PHASE_REPLAY) {
      let r = tape_base(b) + P.n_ckpt * CK + nrec * SR;
      for (var d = 0u; d < D; d++) { tape[r + d] = bitcast<u32>(y[d]); }
      tape[r + D] = bitcast<u32>(t_old_hi);
      tape[r + D + 1u] = bitcast<u32>(t_old_lo);
      tape[r + D + 2u] = bitcast<u32>(a.plan.h);
      tape[r + D + 3u] = bitcast<u32>(smp.t_hi);
      tape[r + D + 4u] = out_lo;
      tape[r + D + 5u] = smp.out_idx;
      nrec += 1u;
    }
    end_derivative(smp.t_hi);
    commit_step();
  }
  check_max_steps();
  return a.accepted;
}

fn begin_replay(b: u32, j: u32) {
  fe_base += smp.n_fe;
  ckpt_load(tape_base(b) + j * CK);
  smp.n_fe = 0u;
  ckpt = j;
  nrec = 0u;
  phase = PHASE_REPLAY;
}

fn init_record(b: u32, g: u32) {
  reset_controller(${T0});
  for (var d = 0u; d < D; d++) {
    y[d] = ysol[g * D + d];
    ybar[d] = 0.0;
  }
  phase = PHASE_RECORD;
  fe_base = 0u;
  if (P.n_out == 1u) {
    finish(g);
    return;
  }
  rhs_in = y;
  rhs_eval(${T0});
  smp.n_fe = 1u;
  K[0] = rhs_out;
  smp.h = first_step(${T0}, ${T_END}, 0.0);
  smp.status = STATUS_RUNNING;
  ckpt_save(tape_base(b));
}

fn finish(g: u32) {
  for (var d = 0u; d < D; d++) { gy0[g * D + d] = ybar[d] + cot[row(0u, g) + d]; }
  smp.n_fe += fe_base;
  smp.status = STATUS_DONE;
  phase = PHASE_FINISHED;
}

// Differentiates the step in tape slot `slot`: ybar holds ȳ_{n+1} on entry
// and ȳ_n on exit; θ̄ is added to the sample's accumulator row.
fn reverse_step(b: u32, g: u32, slot: u32) {
  let r = tape_base(b) + P.n_ckpt * CK + slot * SR;
  for (var d = 0u; d < D; d++) { y[d] = bitcast<f32>(tape[r + d]); }
  let t = bitcast<f32>(tape[r + D]);
  let t_lo = bitcast<f32>(tape[r + D + 1u]);
  let h = bitcast<f32>(tape[r + D + 2u]);
  let t_new = bitcast<f32>(tape[r + D + 3u]);
  let lo = tape[r + D + 4u];
  let hi = tape[r + D + 5u];
  // Recompute the stages of the step.
  rhs_in = y;
  rhs_eval(t);
  K[0] = rhs_out;
  _ = rk_stages(t, h);
  smp.n_fe += EVALS_PER_ATTEMPT + 1u;
  end_derivative(t_new);
  for (var j = 0u; j < NK; j++) {
    for (var d = 0u; d < D; d++) { kbar[j][d] = 0.0; }
  }
  for (var d = 0u; d < D; d++) { ynacc[d] = 0.0; }
  // Outputs produced by this step.
  for (var i = lo; i < hi; i++) {
    var c: array<f32, D>;
    for (var d = 0u; d < D; d++) { c[d] = cot[row(i, g) + d]; }
    if (tout[${TOUT_BASE}i] == t_new) {
      for (var d = 0u; d < D; d++) { ybar[d] += c[d]; }
    } else {
      for (var d = 0u; d < D; d++) { ynacc[d] += c[d]; }
      dense_cotangent(clamp(((tout[${TOUT_BASE}i] - t) - t_lo) / h, 0.0, 1.0), h, c);
    }
  }
  if (!FSAL) {
    // f(t_{n+1}, y_{n+1}) enters the dense output only: its cotangent goes to ȳ_{n+1}.
    for (var d = 0u; d < D; d++) {
      vjp_in[d] = ynew[d];
      vjp_in[D + d] = kbar[NK - 1u][d];
    }
    mlp_vjp(t_new, 1.0, true);
    smp.n_fe += 1u;
    for (var d = 0u; d < D; d++) { ybar[d] += vjp_out[D + d]; }
  }
  solution_cotangent(h);
  for (var d = 0u; d < D; d++) { ynacc[d] += ybar[d]; }
  stages_reverse(t, h);
  smp.n_fe += NS;
  ybar = ynacc;
}

fn load_work(b: u32) {
  let w = b * WORK;
  phase = work[w];
  ckpt = work[w + 1u];
  nrec = work[w + 2u];
  pos = work[w + 3u];
  fe_base = work[w + 4u];
  for (var d = 0u; d < D; d++) {
    ybar[d] = bitcast<f32>(work[w + 6u + d]);
    y[d] = bitcast<f32>(work[w + 6u + D + d]);
    K[0][d] = bitcast<f32>(work[w + 6u + 2u * D + d]);
  }
}

fn store_work(b: u32) {
  let w = b * WORK;
  work[w] = phase;
  work[w + 1u] = ckpt;
  work[w + 2u] = nrec;
  work[w + 3u] = pos;
  work[w + 4u] = fe_base;
  for (var d = 0u; d < D; d++) {
    work[w + 6u + d] = bitcast<u32>(ybar[d]);
    work[w + 6u + D + d] = bitcast<u32>(y[d]);
    work[w + 6u + 2u * D + d] = bitcast<u32>(K[0][d]);
  }
}

@compute @workgroup_size(${WG})
fn backprop(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let g = P.offset + b;${TIMES_ROW}
  acc_base = b * P.n_params;
  smp = samples[b];
  if (smp.status >= STATUS_DONE) { return; }
  if (smp.status == STATUS_NEW) {
    init_record(b, g);
  } else {
    load_work(b);
  }
  acc_load();
  for (var it = 0u; it < P.steps_per_dispatch; it++) {
    if (phase == PHASE_FINISHED || smp.status > STATUS_DONE) { break; }
    if (phase == PHASE_RECORD) {
      if (fwd_attempt(b) && smp.status == STATUS_RUNNING && smp.n_accepted % P.seg_len == 0u) {
        let j = smp.n_accepted / P.seg_len;
        if (j >= P.n_ckpt) { fail(STATUS_TAPE); break; }
        ckpt_save(tape_base(b) + j * CK);
      }
      if (smp.status == STATUS_DONE) {
        begin_replay(b, (smp.n_accepted - 1u) / P.seg_len);
      }
    } else if (phase == PHASE_REPLAY) {
      fwd_attempt(b);
      if (smp.status == STATUS_DONE || nrec == P.seg_len) {
        phase = PHASE_REVERSE;
        pos = nrec;
        smp.status = STATUS_RUNNING;
      }
    } else if (phase == PHASE_REVERSE) {
      pos -= 1u;
      reverse_step(b, g, pos);
      if (pos == 0u) {
        if (ckpt == 0u) {
          finish(g);
        } else {
          begin_replay(b, ckpt - 1u);
        }
      }
    }
  }
  acc_store();
  store_work(b);
  samples[b] = smp;
}
