// webode: mini-batches drawn on the GPU from a dataset uploaded once.
//
// Sample b of the draw number P.draw takes the index
//   pcg(pcg(pcg(P.seed) + P.draw) + b) mod P.range
// (the PCG hash of Jarzynski & Olano, "Hash Functions for GPU Rendering",
// JCGT 2020, chained so seed, draw and sample each change every bit), so a
// run is reproducible from (seed, draw) alone and needs no generator state on
// the GPU. Draws are with replacement; the modulo's bias is below
// range / 2^32.
//
// `windows`: index s is the start of a window of P.length rows of a trajectory
//   data [N][W] (W = P.dim): y0[b] = data[s], targets[i][b] = data[s + i].
// `points`: index j picks a point data[j] (W = P.width values) and its label:
//   y0[b] = [data[j], 0 … 0] (zero-padded to P.dim: an augmented state),
//   targets[b] = labels[j].
// Both write the index drawn to index[b] (as a float; exact below 2^24).

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/minibatch.ts), numbered in its order.
${BINDINGS}

// The PCG hash (src/wgsl/pcg.ts).
${PCG}

fn draw(b: u32) -> u32 {
  return pcg(pcg(pcg(P.seed) + P.draw) + b) % P.range;
}

@compute @workgroup_size(${WG})
fn windows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let s = draw(b);
  index[b] = f32(s);
  let D = P.dim;
  for (var d = 0u; d < D; d++) { y0[b * D + d] = data[s * D + d]; }
  for (var i = 0u; i < P.length; i++) {
    for (var d = 0u; d < D; d++) { targets[(i * P.batch + b) * D + d] = data[(s + i) * D + d]; }
  }
}

@compute @workgroup_size(${WG})
fn points(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= P.batch) { return; }
  let j = draw(b);
  index[b] = f32(j);
  for (var d = 0u; d < P.dim; d++) {
    var v = 0.0;
    if (d < P.width) { v = data[j * P.width + d]; }
    y0[b * P.dim + d] = v;
  }
  targets[b] = labels[j];
}
