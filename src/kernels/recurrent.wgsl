// webode: recurrent cells (PyTorch's GRUCell and tanh RNNCell) over a whole
// sequence in one dispatch per direction: one workgroup per sample, one
// invocation per hidden unit, the time loop inside the kernel with two
// workgroup barriers per step (h_{t-1} and x_t are staged in workgroup
// memory, every unit of the sample reads all of them).
//
// `forward`: h_t = h_{t-1} (1 − m_t) + cell(x_t, h_{t-1}) m_t for t = 0…T−1,
//   written to hs [T][B][H]; m_t is the sample's mask (1 without a mask), so
//   a masked step (m = 0) leaves h unchanged, exactly.
// `backward`: backpropagation through time, t = T−1…0, from dL/dh_t (every
//   step, or the last only) plus the carry dL/dh_t from step t+1. It
//   recomputes the gates of step t from h_{t-1} (kept in hs) and x_t, writes
//   dL/dx_t to gx and the cotangents of the gate pre-activations to
//   work [T][B][DA] (read by recurrent-params.wgsl for dL/dθ), and after
//   step 0 dL/dh0 to work[T·B·DA + b·H + j].
//
// GRU (gate rows r, z, n as in torch.nn.GRUCell):
//   r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r (W_hn h + b_hn)), cell = (1 − z) n + z h
// RNN: cell = tanh(W_ih x + b_ih + W_hh h + b_hh).
//
// Specialised by src/kernels/recurrent.ts (I, H and the cell are compile-time).

// Bindings and the structs they use: declared from the bindings record of
// the kernel's definition (src/kernels/recurrent.ts), numbered in its order.
${BINDINGS}

${LAYOUT}

var<workgroup> hw: array<f32, H>;
var<workgroup> xw: array<f32, I>;
var<workgroup> daw: array<f32, DA>;

fn sigmoid(a: f32) -> f32 {
  // exp of ±80 stays finite in float32; σ there is 0 or 1 to well below an ulp.
  return 1.0 / (1.0 + exp(-clamp(a, -80.0, 80.0)));
}

fn tanh_c(a: f32) -> f32 {
  // tanh is ±1 in float32 beyond |a| = 9.1 (as in the activation table).
  return tanh(clamp(a, -9.1, 9.1));
}

fn mask_at(t: u32, b: u32) -> f32 {
  if ((P.flags & FLAG_MASK) != 0u) { return mask[t * P.batch + b]; }
  return 1.0;
}

// Row `row` of W_ih times x_t (staged in xw).
fn row_x(row: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < I; i++) { s = fma(theta[W_IH + row * I + i], xw[i], s); }
  return s;
}

// Row `row` of W_hh times h_{t-1} (staged in hw).
fn row_h(row: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < H; k++) { s = fma(theta[W_HH + row * H + k], hw[k], s); }
  return s;
}

struct Unit {
  /** The cell's output for this unit. */
  out: f32,
  r: f32,
  z: f32,
  /** tanh of the GRU's candidate (the RNN's output). */
  n: f32,
  /** W_hn h + b_hn (GRU). */
  ahn: f32,
}

fn unit_forward(j: u32) -> Unit {
  var u: Unit;
  if (GRU) {
    let ar = theta[B_IH + j] + theta[B_HH + j] + row_x(j) + row_h(j);
    let az = theta[B_IH + H + j] + theta[B_HH + H + j] + row_x(H + j) + row_h(H + j);
    let ain = theta[B_IH + 2u * H + j] + row_x(2u * H + j);
    u.ahn = theta[B_HH + 2u * H + j] + row_h(2u * H + j);
    u.r = sigmoid(ar);
    u.z = sigmoid(az);
    u.n = tanh_c(ain + u.r * u.ahn);
    u.out = (1.0 - u.z) * u.n + u.z * hw[j];
  } else {
    u.n = tanh_c(theta[B_IH + j] + theta[B_HH + j] + row_x(j) + row_h(j));
    u.out = u.n;
  }
  return u;
}

// h (1 − m) + c m, exactly h for m = 0 and exactly c for m = 1.
fn masked(h: f32, c: f32, m: f32) -> f32 {
  return select(h * (1.0 - m) + c * m, h, m == 0.0);
}

@compute @workgroup_size(H)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) j: u32) {
  let b = wid.x;
  let B = P.batch;
  var h = 0.0;
  if ((P.flags & FLAG_H0) != 0u) { h = h0[b * H + j]; }
  hw[j] = h;
  for (var t = 0u; t < P.steps; t++) {
    for (var i = j; i < I; i += H) { xw[i] = x[(t * B + b) * I + i]; }
    workgroupBarrier();
    let u = unit_forward(j);
    h = masked(h, u.out, mask_at(t, b));
    workgroupBarrier();
    hw[j] = h;
    hs[(t * B + b) * H + j] = h;
  }
}

@compute @workgroup_size(H)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) j: u32) {
  let b = wid.x;
  let B = P.batch;
  let T = P.steps;
  var carry = 0.0;
  for (var s = 0u; s < T; s++) {
    let t = T - 1u - s;
    var g = carry;
    if ((P.flags & FLAG_GRAD_ALL) != 0u) { g += gin[(t * B + b) * H + j]; }
    if ((P.flags & FLAG_GRAD_LAST) != 0u && s == 0u) { g += gin[P.last_offset + b * H + j]; }
    var hp = 0.0;
    if (t > 0u) {
      hp = hs[((t - 1u) * B + b) * H + j];
    } else if ((P.flags & FLAG_H0) != 0u) {
      hp = h0[b * H + j];
    }
    hw[j] = hp;
    for (var i = j; i < I; i += H) { xw[i] = x[(t * B + b) * I + i]; }
    workgroupBarrier();
    let m = mask_at(t, b);
    let u = unit_forward(j);
    // Cotangent of the cell's output; the rest of g passes to h_{t-1} directly.
    let gc = select(m * g, 0.0, m == 0.0);
    var dh = select((1.0 - m) * g, g, m == 0.0);
    if (GRU) {
      let dan = gc * (1.0 - u.z) * (1.0 - u.n * u.n);
      dh += gc * u.z;
      daw[j] = dan * u.ahn * u.r * (1.0 - u.r);
      daw[H + j] = gc * (hp - u.n) * u.z * (1.0 - u.z);
      daw[2u * H + j] = dan;
      daw[3u * H + j] = dan * u.r;
    } else {
      daw[j] = gc * (1.0 - u.n * u.n);
    }
    workgroupBarrier();
    let row = (t * B + b) * DA;
    for (var c = j; c < DA; c += H) { work[row + c] = daw[c]; }
    // dL/dh_{t-1} = direct part + Σ_rows W_hh[row][j] · (cotangent of that row's h pre-activation).
    for (var gate = 0u; gate < G; gate++) {
      let col = hh_col(gate * H);
      for (var k = 0u; k < H; k++) { dh = fma(theta[W_HH + (gate * H + k) * H + j], daw[col + k], dh); }
    }
    carry = dh;
    // dL/dx_t = Σ_rows W_ih[row][i] · (cotangent of that row's x pre-activation).
    for (var i = j; i < I; i += H) {
      var dx = 0.0;
      for (var r = 0u; r < G * H; r++) { dx = fma(theta[W_IH + r * I + i], daw[ih_col(r)], dx); }
      gx[(t * B + b) * I + i] = dx;
    }
  }
  work[T * B * DA + b * H + j] = carry;
}
