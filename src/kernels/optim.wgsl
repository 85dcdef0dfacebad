// webode: one optimizer step on a parameter vector, in place, one invocation
// per parameter: θ ← update(θ, g, state). The update follows PyTorch's
// torch.optim formulas (see src/kernels/optim.ts); the step counter, bias
// corrections and hyperparameters come from the host in the uniform, so the
// step needs no readback.
//
// Specialised by src/kernels/optim.ts: the optimizer's uniform struct and
// update function.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/optim.ts), numbered in its order.
${BINDINGS}

${UPDATE}

@compute @workgroup_size(${WG})
fn optimize(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= O.n) { return; }
  update(gid.x);
}
