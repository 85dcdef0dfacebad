// webode: dL/dθ of a recurrent cell over a sequence, from the gate
// cotangents that recurrent.wgsl's `backward` left in work [T][B][DA]:
//   dW_ih[row][i] = Σ_{t,b} a_ih(row) x_t[i],  dW_hh[row][k] = Σ_{t,b} a_hh(row) h_{t-1}[k],
//   db_ih[row] = Σ_{t,b} a_ih(row),            db_hh[row] = Σ_{t,b} a_hh(row),
// where a_ih(row) = work[ih_col(row)] and a_hh(row) = work[hh_col(row)] (they
// differ only for the GRU's n rows, where r multiplies W_hn h + b_hn). One
// invocation per parameter adds t then b in order (deterministic, no
// atomics) and overwrites gtheta.
//
// Specialised by src/kernels/recurrent.ts.

${BINDINGS}

${LAYOUT}

const WG: u32 = ${WG}u;

fn h_prev(t: u32, b: u32, k: u32) -> f32 {
  if (t > 0u) { return hs[((t - 1u) * P.batch + b) * H + k]; }
  if ((P.flags & FLAG_H0) != 0u) { return h0[b * H + k]; }
  return 0.0;
}

@compute @workgroup_size(WG)
fn params(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= NP) { return; }
  let B = P.batch;
  let T = P.steps;
  var s = 0.0;
  if (p < W_HH) {
    let col = ih_col(p / I);
    let i = p % I;
    for (var t = 0u; t < T; t++) {
      for (var b = 0u; b < B; b++) { s = fma(work[(t * B + b) * DA + col], x[(t * B + b) * I + i], s); }
    }
  } else if (p < B_IH) {
    let q = p - W_HH;
    let col = hh_col(q / H);
    let k = q % H;
    for (var t = 0u; t < T; t++) {
      for (var b = 0u; b < B; b++) { s = fma(work[(t * B + b) * DA + col], h_prev(t, b, k), s); }
    }
  } else {
    var col = 0u;
    if (p < B_HH) { col = ih_col(p - B_IH); } else { col = hh_col(p - B_HH); }
    for (var t = 0u; t < T; t++) {
      for (var b = 0u; b < B; b++) { s += work[(t * B + b) * DA + col]; }
    }
  }
  gtheta[p] = s;
}
