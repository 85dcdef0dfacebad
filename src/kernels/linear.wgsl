// webode: a Linear layer y = W x + b (PyTorch nn.Linear: W is [OUT][IN]
// row-major, then b [OUT], in one flat parameter vector), and its two
// vector–Jacobian products, for a readout after the ODE block.
//
// `forward`: one invocation per output element (b, o).
// `backward_input`: dL/dx = Wᵀ dL/dy, one invocation per input element (b, i),
//   written from element P.gx_offset of gx: straight into row T−1 of the
//   solve's cotangent buffer when x is the last output row of a solution.
// `backward_params`: dL/dW = Σ_b dL/dy_b x_bᵀ and dL/db = Σ_b dL/dy_b, one
//   invocation per parameter adding the batch in order (deterministic,
//   no atomics), overwriting gtheta.
//
// Specialised by src/kernels/linear.ts (IN and OUT are compile-time).

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/linear.ts), numbered in its order.
${BINDINGS}

const IN: u32 = ${IN}u;
const OUT: u32 = ${OUT}u;

@compute @workgroup_size(${WG})
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= P.batch * OUT) { return; }
  let b = k / OUT;
  let o = k % OUT;
  var s = theta[OUT * IN + o];
  let xr = P.x_offset + b * IN;
  for (var i = 0u; i < IN; i++) { s = fma(theta[o * IN + i], x[xr + i], s); }
  y[k] = s;
}

@compute @workgroup_size(${WG})
fn backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= P.batch * IN) { return; }
  let b = k / IN;
  let i = k % IN;
  var s = 0.0;
  for (var o = 0u; o < OUT; o++) { s = fma(theta[o * IN + i], gy[b * OUT + o], s); }
  gx[P.gx_offset + k] = s;
}

@compute @workgroup_size(${WG})
fn backward_params(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= OUT * IN + OUT) { return; }
  var s = 0.0;
  if (p < OUT * IN) {
    let o = p / IN;
    let i = p % IN;
    for (var b = 0u; b < P.batch; b++) { s = fma(gy[b * OUT + o], x[P.x_offset + b * IN + i], s); }
  } else {
    let o = p - OUT * IN;
    for (var b = 0u; b < P.batch; b++) { s += gy[b * OUT + o]; }
  }
  gtheta[p] = s;
}
