// webode: the gate of a training iteration that waits for nothing.
//
// After a deferred forward solve and a deferred gradient solve, one
// invocation reads both solves' reports (summary.wgsl, `fold`) and
// decides on the GPU whether the optimizer may update the parameters: it
// writes each parameter tensor's workgroup count into the indirect-dispatch
// arguments of the optimizer, or zero when a solve failed or had not finished
// within its dispatch budget. The first such iteration is recorded in the
// health words (which solve, the first failing sample, its status and time,
// how many samples failed); from then on every update is skipped and counted
// until the host reads the health words (with the loss) and reports it. The
// last solves' step totals are kept there too, and each iteration's largest
// function-evaluation counts go into a ring the host reads with the losses.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/gate.ts), numbered in its order.
${BINDINGS}

// Samples that failed or did not finish; a report no summary was folded
// into (its solve's submit was rejected by WebGPU, so nothing ran) counts
// as one, so no update is made from it.
fn failing(s: Summary) -> u32 {
  return s.running + s.failed + select(0u, 1u, s.folds == 0u);
}

fn record_failure(phase: u32, s: Summary) {
  health.bad_iteration = G.iteration;
  health.bad_phase = phase;
  health.bad_sample = s.first_unfinished;
  health.bad_status = s.first_status;
  health.bad_t = s.first_t;
  health.bad_failing = failing(s);
}

@compute @workgroup_size(1)
fn gate() {
  if (health.bad_iteration == 0u) {
    if (failing(forward) > 0u) {
      record_failure(1u, forward);
    } else if (failing(backward) > 0u) {
      record_failure(2u, backward);
    }
  }
  let go = health.bad_iteration == 0u;
  if (!go) { health.skipped += 1u; }
  health.forward_nfe = forward.nfe_total;
  health.forward_nfe_max = forward.nfe_max;
  health.forward_accepted = forward.accepted;
  health.forward_rejected = forward.rejected;
  health.backward_nfe = backward.nfe_total;
  health.backward_nfe_max = backward.nfe_max;
  health.backward_accepted = backward.accepted;
  health.backward_rejected = backward.rejected;
  nfe_history[2u * G.slot] = forward.nfe_max;
  nfe_history[2u * G.slot + 1u] = backward.nfe_max;
  for (var i = 0u; i < G.tensors; i++) {
    args[3u * i] = select(0u, counts[i], go);
    args[3u * i + 1u] = 1u;
    args[3u * i + 2u] = 1u;
  }
}
