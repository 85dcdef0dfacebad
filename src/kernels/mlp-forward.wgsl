// webode: evaluates the MLP vector field f(t, z) on a batch, LANES samples per
// invocation. Used by `MLP.forward` (vector-field plots, checks) and by the
// kernel benchmarks. Specialised by src/kernels/mlp-forward.ts: `evaluate` is the
// K-lane MLP of src/kernels/lanes.ts, or, for widths whose lanes would not
// fit WGSL's limits, one sample through the MLP of src/kernels/mlp.ts.

${PARAMS_STRUCT}

const D: u32 = ${D}u;
const LANES: u32 = ${LANES}u;

@group(0) @binding(0) var<uniform> P: EvalParams;
${THETA_BINDING}
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

${EVALUATE}

@compute @workgroup_size(${WG})
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let first = gid.x * LANES;
  if (first >= P.batch) { return; }
  evaluate(first);
}
