// webode: evaluates the MLP vector field f(t, z) on a batch, LANES samples per
// invocation. Used by `MLP.forward` (vector-field plots, checks) and by the
// kernel benchmarks. Specialised by src/kernels/mlp-forward.ts: `evaluate` is the
// K-lane MLP of src/mlp/lanes.ts, or, for widths whose lanes would not
// fit WGSL's limits, one sample through the MLP of src/mlp/mlp.ts.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/mlp-forward.ts), numbered in its order.
${BINDINGS}

const D: u32 = ${D}u;
const LANES: u32 = ${LANES}u;

${EVALUATE}

@compute @workgroup_size(${WG})
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.x * LANES;
  if (first >= P.batch) { return; }
  evaluate(first);
}
