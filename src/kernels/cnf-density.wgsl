// webode: the two small per-sample kernels around a flow's solve.
//
// `augment`: the augmented initial state [x, 0, (0), (0)] of every sample from
// its data point x (row-major [B][D]).
// `density`: from the augmented solution rows, the end point z (row P.end_row),
// log p = log N(z_base; 0, I) + P.sign · l(end) with z_base the base point (row
// P.base_row), and the regularisers' integrals. logProb: both rows are t1,
// sign +1 (log p(x) = log N(z(t1)) + ∫ tr dt); sample: the base row is t1,
// the end row t0, sign −1 (l integrated from t1 back to t0 is −∫ tr dt).

${BINDINGS}

const D: u32 = ${D}u;
const NA: u32 = ${NA}u;
// log(2π)
const LOG_TWO_PI: f32 = 1.8378770664093453;

@compute @workgroup_size(${WG})
fn augment(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  for (var d = 0u; d < NA; d++) {
    aug0[b * NA + d] = select(0.0, x[b * D + min(d, D - 1u)], d < D);
  }
}

@compute @workgroup_size(${WG})
fn density(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let base = (P.base_row * P.batch + b) * NA;
  let end = (P.end_row * P.batch + b) * NA;
  var q = 0.0;
  for (var d = 0u; d < D; d++) {
    let zb = out[base + d];
    q = fma(zb, zb, q);
    z[b * D + d] = out[end + d];
  }
  logp[b] = -0.5 * q - 0.5 * f32(D) * LOG_TWO_PI + P.sign * out[end + D];
  // The regularisers' integrals, for the states the flow carries.
  ${REG_WRITES}
}
