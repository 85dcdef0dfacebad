// webode: the gradient of the loss with respect to the output times, per
// sample. Moving an output time t_i (i ≥ 1) only moves where the trajectory
// is read, so dL/dt_i = dL/dy_i · f(t_i, y_i); moving t_0 shifts the whole
// solution, so dL/dt_0 = −(dL/dy0 − dL/dy_0) · f(t_0, y_0), where dL/dy0 is
// the total gradient of the initial state and dL/dy_0 the loss's own
// cotangent of the first output (which is y0 itself). One invocation per
// sample writes its T terms; the deterministic reduction (reduce.wgsl) sums
// them over the batch.
//
// Specialised by src/kernels/time-gradient.ts.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/time-gradient.ts), numbered in its order.
${BINDINGS}

const D: u32 = ${D}u;

${MLP}

@compute @workgroup_size(${WG})
fn time_gradient(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  for (var i = 0u; i < P.n_out; i++) {
    let row = (i * P.batch + b) * D;
    for (var d = 0u; d < D; d++) { mlp_in[d] = ysol[row + d]; }
    mlp_eval(tout[${TOUT_I}]);
    var s = 0.0;
    for (var d = 0u; d < D; d++) {
      var w = cot[row + d];
      if (i == 0u) { w = cot[row + d] - gy0[b * D + d]; }
      s += w * mlp_out[d];
    }
    terms[b * P.n_out + i] = s;
  }
}
