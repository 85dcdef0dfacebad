// webode: acc[i] += x[i] for i < P.n, one invocation per element: sums the
// gradients of a chain of pieces (the ODE segments and GRU updates of the
// ODE-RNN encoder) into one tensor on the GPU, in the order recorded.

${BINDINGS}

@compute @workgroup_size(${WG})
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P.n) { return; }
  acc[i] += x[i];
}
