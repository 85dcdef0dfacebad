// webode: the two per-sample kernels around a flow's adjoint solve.
//
// `cotangent`: the adjoint's start at t1 from the loss
// L = Σ_b c_b·log p_b + Σ_b (w_k·kinetic_b + w_j·jacobian_b), with
// log p = log N(z(t1)) + l(t1): dL/dz(t1) = −c_b·z(t1), dL/dl = c_b, and the
// regularisers' weights; the row at t0 is zero.
// `extract`: dL/dx, the z part of the augmented dL/ds(t0).

${BINDINGS}

const D: u32 = ${D}u;
const NA: u32 = ${NA}u;

@compute @workgroup_size(${WG})
fn cotangent(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let c = dlogp[b];
  let at0 = b * NA;
  let at1 = (P.batch + b) * NA;
  for (var d = 0u; d < NA; d++) { cot[at0 + d] = 0.0; }
  for (var d = 0u; d < D; d++) { cot[at1 + d] = -c * out[at1 + d]; }
  cot[at1 + D] = c;
  ${REG_SEEDS}
}

@compute @workgroup_size(${WG})
fn extract(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  for (var d = 0u; d < D; d++) { gx[b * D + d] = gaug[b * NA + d]; }
}
