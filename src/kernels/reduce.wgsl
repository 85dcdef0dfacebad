// webode: deterministic sum over the batch of the per-sample parameter
// adjoints, acc[b][p] → out[p] (added to what out already holds, so chunks of
// a large batch accumulate in order).
//
// Pass 1 (`partial`): workgroup (x, y) sums rows [y·ROWS, (y+1)·ROWS) of the
// parameter block x, one parameter per invocation, into part[y][p]. Pass 2
// (`total`): one invocation per parameter adds the partial sums in row order.
// WGSL has no float atomics; this fixed order makes the result identical on
// every run.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/reduce.ts), numbered in its order.
${BINDINGS}

const ROWS: u32 = ${ROWS}u;

@compute @workgroup_size(${WG})
fn partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= R.n_params) { return; }
  let lo = gid.y * ROWS;
  let hi = min(lo + ROWS, R.rows);
  var s = 0.0;
  for (var b = lo; b < hi; b++) { s += acc[b * R.n_params + p]; }
  part[gid.y * R.n_params + p] = s;
}

@compute @workgroup_size(${WG})
fn total(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= R.n_params) { return; }
  var s = out[p];
  for (var j = 0u; j < R.parts; j++) { s += part[j * R.n_params + p]; }
  out[p] = s;
}
