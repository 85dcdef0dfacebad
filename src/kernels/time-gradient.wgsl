// webode: the gradient of the loss with respect to the output times, per
// sample. Moving an output time t_i (i ≥ 1) only moves where the trajectory
// is read, so dL/dt_i = dL/dy_i · f(t_i, y_i); moving t_0 shifts the whole
// solution, so dL/dt_0 = −(dL/dy0 − dL/dy_0) · f(t_0, y_0), where dL/dy0 is
// the total gradient of the initial state and dL/dy_0 the loss's own
// cotangent of the first output (which is y0 itself). Four samples per
// invocation, as the lanes of vec4 values (the lane MLP of src/mlp/lanes.ts),
// write their T terms each; the deterministic reduction (reduce.wgsl) sums
// them over the batch.
//
// Specialised by src/kernels/time-gradient.ts.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/time-gradient.ts), numbered in its order.
${BINDINGS}

const D: u32 = ${D}u;

var<private> rhs_in: array<vec4<f32>, D>;
var<private> rhs_out: array<vec4<f32>, D>;

${ACT}
${MLP}

// The output time of output i for sample b.
fn time_of(b: u32, i: u32) -> f32 {
  return tout[${TOUT_I}];
}

@compute @workgroup_size(${WG})
fn time_gradient(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Samples first … first + 3 as the lanes of vec4 values (lanes past the
  // batch evaluate the last sample again and store nothing).
  let first = gid.x * 4u;
  if (first >= P.batch) { return; }
  let last = P.batch - 1u;
  let b = vec4<u32>(first, min(first + 1u, last), min(first + 2u, last), min(first + 3u, last));
  for (var i = 0u; i < P.n_out; i++) {
    let row = (vec4<u32>(i * P.batch) + b) * D;
    for (var d = 0u; d < D; d++) {
      rhs_in[d] = vec4<f32>(ysol[row.x + d], ysol[row.y + d], ysol[row.z + d], ysol[row.w + d]);
    }
    rhs4(vec4<f32>(time_of(b.x, i), time_of(b.y, i), time_of(b.z, i), time_of(b.w, i)));
    for (var k = 0u; k < 4u; k++) {
      if (first + k > last) { break; }
      var s = 0.0;
      for (var d = 0u; d < D; d++) {
        var w = cot[row[k] + d];
        if (i == 0u) { w = cot[row[k] + d] - gy0[b[k] * D + d]; }
        s += w * rhs_out[d][k];
      }
      terms[b[k] * P.n_out + i] = s;
    }
  }
}
