/**
 * Optimizer kernels (optim.wgsl): SGD with momentum, dampening and
 * Nesterov momentum, and Adam, with the update formulas of PyTorch's
 * torch.optim.SGD and torch.optim.Adam (L2 weight decay added to the
 * gradient; Adam's bias corrections computed on the host in float64 from the
 * step count). The compile-time spec is the optimizer kind.
 */
import optimSource from './optim.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/** The optimizers' names: `optimizer.kind`. */
export type OptimizerKind = 'sgd' | 'adam';

/** Invocations per workgroup (one parameter each). */
export const OPTIM_WORKGROUP = 64;

export const SGD_PARAMS = new StructLayout('OptimParams', [
  ['n', 'u32'],
  /** 1 on the first step (the momentum buffer starts as the gradient itself). */
  ['first', 'u32'],
  ['nesterov', 'u32'],
  ['lr', 'f32'],
  ['momentum', 'f32'],
  /** 1 − τ, computed in float64 on the host. */
  ['one_minus_dampening', 'f32'],
  ['weight_decay', 'f32'],
] as const);
export type SgdParamsValues = Parameters<typeof SGD_PARAMS.pack>[0];

export const ADAM_PARAMS = new StructLayout('OptimParams', [
  ['n', 'u32'],
  ['beta2', 'f32'],
  /** 1 − β1 and 1 − β2, computed in float64 on the host (in float32, 1 − 0.999 is off by 1.3e-5 relative). */
  ['one_minus_beta1', 'f32'],
  ['one_minus_beta2', 'f32'],
  ['eps', 'f32'],
  ['weight_decay', 'f32'],
  /** lr / (1 − β1^t). */
  ['step_size', 'f32'],
  /** sqrt(1 − β2^t). */
  ['bc2_sqrt', 'f32'],
] as const);
export type AdamParamsValues = Parameters<typeof ADAM_PARAMS.pack>[0];

/**
 * torch.optim.SGD (maximize = False):
 *   g ← g + λθ;  with μ ≠ 0: b ← g on the first step, else b ← μb + (1 − τ)g;
 *   g ← g + μb (Nesterov) or g ← b;  θ ← θ − γg.
 */
const SGD_UPDATE = `fn update(i: u32) {
  let p = param[i];
  var g = fma(O.weight_decay, p, grad[i]);
  if (O.momentum != 0.0) {
    var b = g;
    if (O.first == 0u) { b = fma(O.momentum, s1[i], O.one_minus_dampening * g); }
    s1[i] = b;
    if (O.nesterov == 1u) { g = fma(O.momentum, b, g); } else { g = b; }
  }
  param[i] = fma(-O.lr, g, p);
}`;

/**
 * torch.optim.Adam (amsgrad = False, maximize = False), in the order of its
 * single-tensor implementation:
 *   g ← g + λθ;  m ← lerp(m, g, 1 − β1);  v ← β2 v + (1 − β2) g²;
 *   θ ← θ − (γ / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε).
 */
const ADAM_UPDATE = `fn update(i: u32) {
  let p = param[i];
  let g = fma(O.weight_decay, p, grad[i]);
  let m = fma(O.one_minus_beta1, g - s1[i], s1[i]);
  let v = fma(O.beta2, s2[i], O.one_minus_beta2 * g * g);
  s1[i] = m;
  s2[i] = v;
  param[i] = p - O.step_size * m / (sqrt(v) / O.bc2_sqrt + O.eps);
}`;

export function optimUniformSize(kind: OptimizerKind): number {
  return kind === 'sgd' ? SGD_PARAMS.byteSize : ADAM_PARAMS.byteSize;
}

/** One optimizer step over a parameter tensor: the spec is the optimizer kind. */
export const optimKernel = defineKernel({
  name: 'optim',
  bindings: (kind: OptimizerKind) => ({
    O: uniform(kind === 'sgd' ? SGD_PARAMS : ADAM_PARAMS),
    param: storage('read_write'),
    grad: storage('read'),
    /** Optimizer state: SGD's momentum buffer; Adam's exp_avg and exp_avg_sq. */
    s1: storage('read_write'),
    s2: storage('read_write'),
  }),
  entryPoints: ['optimize'],
  wgsl: (kind: OptimizerKind, decls) =>
    fillTemplate(optimSource, { BINDINGS: decls, UPDATE: kind === 'sgd' ? SGD_UPDATE : ADAM_UPDATE, WG: OPTIM_WORKGROUP }),
});

export function optimWorkgroups(n: number): number {
  return Math.ceil(n / OPTIM_WORKGROUP);
}
