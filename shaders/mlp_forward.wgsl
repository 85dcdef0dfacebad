// webode: evaluates the MLP vector field f(t, z) on a batch (one sample per
// invocation). Used by `MLP.forward` (vector-field plots, checks) and by the
// kernel benchmarks. Specialised by src/kernels/forward.ts.

${PARAMS_STRUCT}

const D: u32 = ${D}u;

@group(0) @binding(0) var<uniform> P: EvalParams;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

${MLP}

@compute @workgroup_size(${WG})
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  for (var d = 0u; d < D; d++) { mlp_in[d] = z[b * D + d]; }
  mlp_eval(P.t);
  for (var d = 0u; d < D; d++) { out[b * D + d] = mlp_out[d]; }
}
