/**
 * The loss kernels (loss.wgsl): mean squared error, mean absolute
 * error (L1) and softmax cross-entropy, each writing dL/dprediction into a
 * gradient buffer and reducing its value on the GPU in a fixed order.
 *
 * The compile-time spec is the loss kind; sizes and offsets are uniforms.
 */
import lossSource from './loss.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/**
 * The losses: 'mse' (mean squared error), 'l1' (mean absolute error),
 * 'cross-entropy' (softmax, class-index targets), 'nll' (negative mean of
 * log-likelihoods, the predictions; no target).
 */
export type LossKind = 'mse' | 'l1' | 'cross-entropy' | 'nll';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'l1', 'cross-entropy', 'nll'];

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
function itemWgsl(kind: LossKind): string {
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
  wgsl: (kind: LossKind, decls) => fillTemplate(lossSource, { BINDINGS: decls, ITEM: itemWgsl(kind), WG: LOSS_WORKGROUP }),
});

/** Workgroups of pass 1 for n items. */
export function lossWorkgroups(n: number): number {
  return Math.ceil(n / LOSS_WORKGROUP);
}
