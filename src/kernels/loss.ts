/**
 * The loss kernels (loss.wgsl): mean squared error, mean absolute
 * error (L1) and softmax cross-entropy, each writing dL/dprediction into a
 * gradient buffer and reducing its value on the GPU in a fixed order.
 *
 * The compile-time spec is the loss kind; sizes and offsets are uniforms.
 */
import lossSource from './loss.wgsl?raw';
import { type ExplicitLayout, StructLayout, explicitLayout, fillTemplate } from '../wgsl/layout';

/** The losses: 'mse' (mean squared error), 'l1' (mean absolute error), 'cross-entropy' (softmax, class-index targets). */
export type LossKind = 'mse' | 'l1' | 'cross-entropy';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'l1', 'cross-entropy'];

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

/** Bindings: params, predictions, targets, gradient, partial sums, value. */
const LOSS_BINDINGS: readonly GPUBufferBindingType[] = [
  'uniform',
  'read-only-storage',
  'read-only-storage',
  'storage',
  'storage',
  'storage',
];

export function lossLayout(device: GPUDevice): ExplicitLayout {
  return explicitLayout(device, 'loss', LOSS_BINDINGS);
}

export function lossKey(kind: LossKind): string {
  return `loss|${kind}|wg${LOSS_WORKGROUP}`;
}

/**
 * `fn item(i) -> f32` for a loss kind.
 * - MSE: term (p − y)², gradient 2(p − y)·scale.
 * - L1: term |p − y|, gradient sign(p − y)·scale (0 at p = y, as PyTorch).
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

export function lossWgsl(kind: LossKind): string {
  return fillTemplate(lossSource, {
    PARAMS_STRUCT: LOSS_PARAMS.wgsl(),
    ITEM: itemWgsl(kind),
    WG: LOSS_WORKGROUP,
  });
}

/** Workgroups of pass 1 for n items. */
export function lossWorkgroups(n: number): number {
  return Math.ceil(n / LOSS_WORKGROUP);
}
