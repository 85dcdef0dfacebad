/**
 * The loss kernels (loss.wgsl): mean squared error, mean absolute
 * error (L1) and softmax cross-entropy, each writing dL/dprediction into a
 * gradient buffer and reducing its value on the GPU in a fixed order; and the
 * masked losses of irregularly observed series (masked MSE, Gaussian negative
 * log-likelihood with a fixed observation std), a second definition over the
 * same template with a mask binding.
 *
 * The compile-time spec is the loss kind; sizes and offsets are uniforms.
 */
import lossSource from './loss.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/**
 * The losses: 'mse' (mean squared error), 'l1' (mean absolute error),
 * 'cross-entropy' (softmax, class-index targets), 'nll' (negative mean of
 * log-likelihoods, the predictions; no target), and the masked losses
 * 'masked-mse' and 'gaussian-nll' (see `MaskedLossKind`).
 */
export type LossKind = 'mse' | 'l1' | 'cross-entropy' | 'nll' | MaskedLossKind;
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'l1', 'cross-entropy', 'nll', 'masked-mse', 'gaussian-nll'];

/**
 * The masked losses, over values with a mask m (1 observed, 0 missing; any
 * weight ≥ 0 works): 'masked-mse' Σ m (p − y)², 'gaussian-nll'
 * Σ m [(p − y)²/(2σ²) + log σ + ½ log 2π] with a fixed observation std σ,
 * each times a scale. A missing value contributes nothing to the value and
 * gets gradient 0, whatever its prediction or target holds.
 */
export type MaskedLossKind = 'masked-mse' | 'gaussian-nll';
export const MASKED_LOSS_KINDS: readonly MaskedLossKind[] = ['masked-mse', 'gaussian-nll'];

/** The kinds of `lossKernel` (no mask). */
export const UNMASKED_LOSS_KINDS: readonly Exclude<LossKind, MaskedLossKind>[] = ['mse', 'l1', 'cross-entropy', 'nll'];

/** True for the kinds that take a mask. */
export function isMaskedLoss(kind: LossKind): kind is MaskedLossKind {
  return (MASKED_LOSS_KINDS as readonly string[]).includes(kind);
}

/** Invocations per workgroup of both passes (a power of two: the tree reduction halves it). */
export const LOSS_WORKGROUP = 256;

export const LOSS_PARAMS = new StructLayout('LossParams', [
  /** Items: elements (MSE, L1) or rows (cross-entropy). */
  ['n', 'u32'],
  /** Classes C of cross-entropy (1 otherwise). */
  ['width', 'u32'],
  ['pred_offset', 'u32'],
  ['grad_offset', 'u32'],
  /** Partial sums written by pass 1 (its workgroup count). */
  ['parts', 'u32'],
  /** 1 / count: the loss is a mean over count items. */
  ['scale', 'f32'],
] as const);
export type LossParamsValues = Parameters<typeof LOSS_PARAMS.pack>[0];

/**
 * `fn item(i) -> f32` for a loss kind.
 * - MSE: term (p − y)², gradient 2(p − y)·scale.
 * - L1: term |p − y|, gradient sign(p − y)·scale (0 at p = y, as PyTorch).
 * - NLL: the prediction is a log-likelihood log p_i; term −log p_i, gradient
 *   −scale (the targets are not read).
 * - Cross-entropy over the C logits l of row i with class k: term
 *   logsumexp(l) − l_k with the maximum subtracted first (no overflow),
 *   gradient (softmax(l) − onehot(k))·scale. A class index outside [0, C)
 *   has no one-hot entry: its term is logsumexp(l) and its gradient
 *   softmax(l) (the datasets check labels on upload, so this only happens
 *   with a target tensor the caller filled).
 */
function itemWgsl(kind: Exclude<LossKind, MaskedLossKind>): string {
  switch (kind) {
    case 'mse':
      return `fn item(i: u32) -> f32 {
  let d = pred[L.pred_offset + i] - targets[i];
  grad[L.grad_offset + i] = 2.0 * d * L.scale;
  return d * d;
}`;
    case 'l1':
      return `fn item(i: u32) -> f32 {
  let d = pred[L.pred_offset + i] - targets[i];
  grad[L.grad_offset + i] = sign(d) * L.scale;
  return abs(d);
}`;
    case 'nll':
      return `fn item(i: u32) -> f32 {
  grad[L.grad_offset + i] = -L.scale;
  return -pred[L.pred_offset + i];
}`;
    case 'cross-entropy':
      return `fn item(i: u32) -> f32 {
  let C = L.width;
  let p0 = L.pred_offset + i * C;
  let g0 = L.grad_offset + i * C;
  let k = u32(max(round(targets[i]), 0.0));
  var m = pred[p0];
  for (var c = 1u; c < C; c++) { m = max(m, pred[p0 + c]); }
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += exp(pred[p0 + c] - m); }
  var picked = 0.0;
  for (var c = 0u; c < C; c++) {
    let e = exp(pred[p0 + c] - m) / s;
    var g = e;
    if (c == k) { g = e - 1.0; picked = pred[p0 + c]; }
    grad[g0 + c] = g * L.scale;
  }
  return m + log(s) - picked;
}`;
  }
}

/** The loss kernel of a kind: `items` (pass 1) and `total` (pass 2) share one bind group. */
export const lossKernel = defineKernel({
  name: 'loss',
  bindings: () => ({
    L: uniform(LOSS_PARAMS),
    /** Predictions, read from element L.pred_offset on (so a loss can read one row of a solution). */
    pred: storage('read'),
    /** Targets: values (MSE, L1) or class indices stored as floats (cross-entropy). */
    targets: storage('read'),
    /** Gradient output, written from element L.grad_offset on. */
    grad: storage('read_write'),
    /** Partial sums of pass 1, one per workgroup. */
    part: storage('read_write'),
    /** The loss value (one float). */
    value: storage('read_write'),
  }),
  entryPoints: ['items', 'total'],
  wgsl: (kind: Exclude<LossKind, MaskedLossKind>, decls) => fillTemplate(lossSource, { BINDINGS: decls, ITEM: itemWgsl(kind), WG: LOSS_WORKGROUP }),
});

export const MASKED_LOSS_PARAMS = new StructLayout('MaskedLossParams', [
  /** Values (the mask and the targets have as many, from element 0). */
  ['n', 'u32'],
  ['pred_offset', 'u32'],
  ['grad_offset', 'u32'],
  /** Partial sums written by pass 1 (its workgroup count). */
  ['parts', 'u32'],
  /** The factor of the sum: 1/(observed values) for a mean over them, 1/B for a per-series sum averaged over series. */
  ['scale', 'f32'],
  /** 1/σ² of the Gaussian likelihood (1 for masked MSE). */
  ['inv_var', 'f32'],
  /** log σ + ½ log 2π, the constant of each Gaussian term (0 for masked MSE). */
  ['log_norm', 'f32'],
] as const);
export type MaskedLossParamsValues = Parameters<typeof MASKED_LOSS_PARAMS.pack>[0];

/**
 * `fn item(i) -> f32` of a masked loss: with m = mask[i] and d = p − y,
 * - masked MSE: term m d², gradient 2 m d · scale;
 * - Gaussian NLL: term m (½ d²/σ² + log σ + ½ log 2π), gradient m d/σ² · scale.
 * A value with m = 0 returns 0 and writes gradient 0 without reading its
 * prediction (padding may hold anything, NaN included).
 */
function maskedItemWgsl(kind: MaskedLossKind): string {
  const body =
    kind === 'masked-mse'
      ? `grad[L.grad_offset + i] = 2.0 * m * d * L.scale;
  return m * d * d;`
      : `grad[L.grad_offset + i] = m * d * L.inv_var * L.scale;
  return m * (0.5 * d * d * L.inv_var + L.log_norm);`;
  return `fn item(i: u32) -> f32 {
  let m = mask[i];
  if (m == 0.0) {
    grad[L.grad_offset + i] = 0.0;
    return 0.0;
  }
  let d = pred[L.pred_offset + i] - targets[i];
  ${body}
}`;
}

/** The masked loss kernel of a kind: the loss template with a mask binding; `items` and `total` as `lossKernel`'s. */
export const maskedLossKernel = defineKernel({
  name: 'masked-loss',
  bindings: () => ({
    L: uniform(MASKED_LOSS_PARAMS),
    pred: storage('read'),
    targets: storage('read'),
    /** The mask, one weight per target value (0 = missing). */
    mask: storage('read'),
    grad: storage('read_write'),
    part: storage('read_write'),
    value: storage('read_write'),
  }),
  entryPoints: ['items', 'total'],
  wgsl: (kind: MaskedLossKind, decls) => fillTemplate(lossSource, { BINDINGS: decls, ITEM: maskedItemWgsl(kind), WG: LOSS_WORKGROUP }),
});

/** Workgroups of pass 1 for n items. */
export function lossWorkgroups(n: number): number {
  return Math.ceil(n / LOSS_WORKGROUP);
}
