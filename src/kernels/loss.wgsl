// webode: a loss between predictions and targets, its gradient written straight
// into a cotangent buffer (the dL/dy that `sol.backward` takes, or the dL/dlogits
// a readout layer chains on), and its value reduced on the GPU.
//
// Pass 1 (`items`): one invocation per item (an element for MSE and L1, a row
// of C logits for cross-entropy) writes the item's gradient, scaled by
// L.scale (1/count: the mean over items, as PyTorch's reduction='mean'), and
// its loss term; each workgroup sums its terms by a tree in workgroup memory
// into part[workgroup]. Pass 2 (`total`): one workgroup adds the partial sums
// (strided, then a tree) into value[0]. Both orders are fixed, so the value is
// identical from run to run; it stays on the GPU until someone reads it.
//
// Specialised by src/kernels/loss.ts: the item function of the loss kind.

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/loss.ts), numbered in its order.
${BINDINGS}

const WG: u32 = ${WG}u;
var<workgroup> sums: array<f32, WG>;

// Writes the gradient of item i and returns its (unscaled) loss term.
${ITEM}

fn tree(lid: u32) {
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(${WG})
fn items(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
         @builtin(workgroup_id) wid: vec3<u32>) {
  var term = 0.0;
  if (gid.x < L.n) { term = item(gid.x); }
  sums[lid] = term;
  workgroupBarrier();
  tree(lid);
  if (lid == 0u) { part[wid.x] = sums[0]; }
}

@compute @workgroup_size(${WG})
fn total(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var j = lid; j < L.parts; j += WG) { s += part[j]; }
  sums[lid] = s;
  workgroupBarrier();
  tree(lid);
  if (lid == 0u) { value[0] = L.scale * sums[0]; }
}
