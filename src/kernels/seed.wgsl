// webode: the per-sample state a reverse (adjoint) solve starts from. The
// chunk's samples are zeroed first (new); this sets each one's h to the
// magnitude of the step size the forward solve of that sample ended with. The adjoint kernels take it as the sample's first step (clipped
// to its first segment) instead of spending two evaluations on the
// initial-step heuristic; 0 (a forward sample that did not finish, or a step
// that is not finite) leaves the heuristic to choose.
//
// Specialised by src/kernels/seed.ts. Bindings: P (SeedParams); forward, the
// forward solve's samples [total]; samples, the chunk's samples, zeroed, [count] or more.

${BINDINGS}

${STATUS_CONSTS}

@compute @workgroup_size(${WG})
fn seed(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P.count) { return; }
  let f = forward[P.offset + i];
  let h = abs(f.h);
  let finite = (bitcast<u32>(h) & 0x7f800000u) != 0x7f800000u;
  if (f.status == STATUS_DONE && finite && h > 0.0) { samples[i].h = h; }
}
