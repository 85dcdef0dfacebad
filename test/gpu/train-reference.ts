/**
 * Float64 CPU references for the training tests, written from the PyTorch
 * documentation's formulas, independently of the WGSL:
 *
 * - losses with reduction='mean' (MSELoss, L1Loss, CrossEntropyLoss on class
 *   indices) and their gradients;
 * - torch.optim.SGD (momentum, dampening, nesterov, weight_decay) and
 *   torch.optim.Adam (betas, eps, weight_decay, bias correction), as the
 *   pseudo-code in their documentation states them;
 * - nn.Linear and its gradients.
 */

export function mseRef(p: ArrayLike<number>, y: ArrayLike<number>): { value: number; grad: Float64Array } {
  const n = y.length;
  const grad = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = p[i] - y[i];
    s += d * d;
    grad[i] = (2 * d) / n;
  }
  return { value: s / n, grad };
}

export function l1Ref(p: ArrayLike<number>, y: ArrayLike<number>): { value: number; grad: Float64Array } {
  const n = y.length;
  const grad = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = p[i] - y[i];
    s += Math.abs(d);
    grad[i] = Math.sign(d) / n;
  }
  return { value: s / n, grad };
}

/** Cross-entropy of rows of C logits against class indices; mean over rows. */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, C: number): { value: number; grad: Float64Array } {
  const n = labels.length;
  const grad = new Float64Array(n * C);
  let s = 0;
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[r * C + c]);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(logits[r * C + c] - m);
    const lse = m + Math.log(z);
    s += lse - logits[r * C + labels[r]];
    for (let c = 0; c < C; c++) grad[r * C + c] = (Math.exp(logits[r * C + c] - lse) - (c === labels[r] ? 1 : 0)) / n;
  }
  return { value: s / n, grad };
}

export interface SgdRefOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * torch.optim.SGD, from its documentation:
 *   g ← ∇ + λθ
 *   if μ ≠ 0: b ← (t > 1 ? μb + (1 − τ)g : g); g ← nesterov ? g + μb : b
 *   θ ← θ − γg
 * Returns θ after every step.
 */
export function sgdRef(theta0: ArrayLike<number>, grads: ArrayLike<number>[], o: SgdRefOptions, lrs?: number[]): Float64Array[] {
  const mu = o.momentum ?? 0;
  const tau = o.dampening ?? 0;
  const wd = o.weightDecay ?? 0;
  const theta = Float64Array.from(theta0);
  const buf = new Float64Array(theta.length);
  const out: Float64Array[] = [];
  grads.forEach((grad, step) => {
    const lr = lrs ? lrs[step] : o.lr;
    for (let i = 0; i < theta.length; i++) {
      let g = grad[i] + wd * theta[i];
      if (mu !== 0) {
        buf[i] = step === 0 ? g : mu * buf[i] + (1 - tau) * g;
        g = o.nesterov ? g + mu * buf[i] : buf[i];
      }
      theta[i] -= lr * g;
    }
    out.push(Float64Array.from(theta));
  });
  return out;
}

export interface AdamRefOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * torch.optim.Adam (amsgrad = False), from its documentation:
 *   g ← ∇ + λθ;  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²
 *   m̂ ← m / (1 − β1^t);  v̂ ← v / (1 − β2^t);  θ ← θ − γ m̂ / (sqrt(v̂) + ε)
 */
export function adamRef(theta0: ArrayLike<number>, grads: ArrayLike<number>[], o: AdamRefOptions, lrs?: number[]): Float64Array[] {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? 0;
  const theta = Float64Array.from(theta0);
  const m = new Float64Array(theta.length);
  const v = new Float64Array(theta.length);
  const out: Float64Array[] = [];
  grads.forEach((grad, step) => {
    const t = step + 1;
    const lr = lrs ? lrs[step] : (o.lr ?? 1e-3);
    for (let i = 0; i < theta.length; i++) {
      const g = grad[i] + wd * theta[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mhat = m[i] / (1 - b1 ** t);
      const vhat = v[i] / (1 - b2 ** t);
      theta[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
    out.push(Float64Array.from(theta));
  });
  return out;
}

/** nn.Linear: y = W x + b for each row; W [O][I] then b [O] in `theta`. */
export function linearRef(theta: ArrayLike<number>, x: ArrayLike<number>, I: number, O: number): Float64Array {
  const B = x.length / I;
  const y = new Float64Array(B * O);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      let s = theta[O * I + o];
      for (let i = 0; i < I; i++) s += theta[o * I + i] * x[b * I + i];
      y[b * O + o] = s;
    }
  }
  return y;
}

/** Gradients of Σ gy·y through nn.Linear: dL/dx and dL/dθ. */
export function linearBackwardRef(theta: ArrayLike<number>, x: ArrayLike<number>, gy: ArrayLike<number>, I: number, O: number) {
  const B = x.length / I;
  const gx = new Float64Array(B * I);
  const gtheta = new Float64Array(O * I + O);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const g = gy[b * O + o];
      gtheta[O * I + o] += g;
      for (let i = 0; i < I; i++) {
        gx[b * I + i] += theta[o * I + i] * g;
        gtheta[o * I + i] += g * x[b * I + i];
      }
    }
  }
  return { gx, gtheta };
}

/** max |got − want| / max(max |want|, floor): a norm-wise relative error. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-6): number {
  if (got.length !== want.length) return Infinity;
  let num = 0;
  let den = floor;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / den;
}
