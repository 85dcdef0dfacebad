/**
 * Float64 CPU reference of torch.nn.GRUCell and torch.nn.RNNCell (tanh) run
 * over a sequence, written from PyTorch's documented formulas, apart from the
 * WGSL. Used for the forward (directly) and for gradients (by central finite
 * differences of `sequenceLoss`).
 *
 * Parameters, flat in PyTorch's `named_parameters()` order: weight_ih [G·H][I],
 * weight_hh [G·H][H], bias_ih [G·H], bias_hh [G·H], row-major, with the GRU's
 * G = 3 row blocks in the order r, z, n (RNN: G = 1).
 *
 * Layouts: x [T][B][I], h0 [B][H], mask [T][B] (h_t = h_{t−1}(1 − m) + cell·m),
 * hidden states [T][B][H].
 */
export type ReferenceCell = 'gru' | 'rnn';

export interface ReferenceSequence {
  cell: ReferenceCell;
  I: number;
  H: number;
  T: number;
  B: number;
  params: ArrayLike<number>;
  x: ArrayLike<number>;
  h0?: ArrayLike<number>;
  mask?: ArrayLike<number>;
}

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/** W[row] · v for a row-major matrix stored from `offset` with `cols` columns. */
function matRow(p: ArrayLike<number>, offset: number, cols: number, row: number, v: ArrayLike<number>, vOff: number): number {
  let s = 0;
  for (let c = 0; c < cols; c++) s += p[offset + row * cols + c] * v[vOff + c];
  return s;
}

/** One cell step for one sample: h' from x (at xOff) and h. */
export function cellStep(cell: ReferenceCell, I: number, H: number, p: ArrayLike<number>, x: ArrayLike<number>, xOff: number, h: Float64Array): Float64Array {
  const G = cell === 'gru' ? 3 : 1;
  const wih = 0;
  const whh = G * H * I;
  const bih = whh + G * H * H;
  const bhh = bih + G * H;
  const out = new Float64Array(H);
  for (let j = 0; j < H; j++) {
    const gi = (g: number) => p[bih + g * H + j] + matRow(p, wih, I, g * H + j, x, xOff);
    const gh = (g: number) => p[bhh + g * H + j] + matRow(p, whh, H, g * H + j, h, 0);
    if (cell === 'rnn') {
      out[j] = Math.tanh(gi(0) + gh(0));
    } else {
      const r = sigmoid(gi(0) + gh(0));
      const z = sigmoid(gi(1) + gh(1));
      const n = Math.tanh(gi(2) + r * gh(2));
      out[j] = (1 - z) * n + z * h[j];
    }
  }
  return out;
}

/** Every hidden state [T][B][H] in float64. */
export function referenceSequence(s: ReferenceSequence): Float64Array {
  const { cell, I, H, T, B } = s;
  const hs = new Float64Array(T * B * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    if (s.h0) for (let j = 0; j < H; j++) h[j] = s.h0[b * H + j];
    for (let t = 0; t < T; t++) {
      const c = cellStep(cell, I, H, s.params, s.x, (t * B + b) * I, h);
      const m = s.mask ? s.mask[t * B + b] : 1;
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) next[j] = h[j] * (1 - m) + c[j] * m;
      h = next;
      hs.set(h, (t * B + b) * H);
    }
  }
  return hs;
}

/** L = Σ gradHidden·h_t (every step) + Σ gradLast·h_{T−1}: its gradient is what BPTT computes from these cotangents. */
export function sequenceLoss(s: ReferenceSequence, gradHidden?: ArrayLike<number>, gradLast?: ArrayLike<number>): number {
  const hs = referenceSequence(s);
  const { T, B, H } = s;
  let L = 0;
  if (gradHidden) for (let k = 0; k < hs.length; k++) L += gradHidden[k] * hs[k];
  if (gradLast) for (let k = 0; k < B * H; k++) L += gradLast[k] * hs[(T - 1) * B * H + k];
  return L;
}

/** Central finite differences of `f` with respect to every element of `v` (step `eps`), in float64. */
export function finiteDifferences(v: ArrayLike<number>, f: (w: Float64Array) => number, eps = 1e-6): Float64Array {
  const w = Float64Array.from(v);
  const g = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const keep = w[i];
    w[i] = keep + eps;
    const up = f(w);
    w[i] = keep - eps;
    const down = f(w);
    w[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}
