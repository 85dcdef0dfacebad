/**
 * Optimizers as WGSL kernels: `SGD` (momentum, dampening, Nesterov, weight
 * decay) and `Adam` (weight decay, bias correction), with PyTorch's update
 * formulas (src/kernels/optim.ts states them). An optimizer owns one gradient
 * tensor per parameter tensor (`grads`, filled by whoever computes the
 * gradient) and its state; `record(pass)` updates every parameter tensor in
 * place on the GPU. The step count lives on the host, which computes Adam's
 * bias corrections in float64, so a step needs no readback.
 */
import { ADAM_PARAMS, type OptimizerKind, SGD_PARAMS, optimKernel, optimUniformSize, optimWorkgroups } from '../kernels/optim';
import type { BoundKernel } from '../runtime/kernel';
import { ArgumentError, DestroyedError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import { checkNumber, checkWorkgroups } from './common';

/** Options of `new SGD(params, options)` (torch.optim.SGD's names, camelCase). */
export interface SGDOptions {
  /** Learning rate γ. */
  lr: number;
  /** Momentum factor μ. Default 0. */
  momentum?: number;
  /** Dampening τ of the momentum. Default 0. */
  dampening?: number;
  /** L2 penalty λ, added to the gradient as λθ. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). Default false. */
  nesterov?: boolean;
}

/** Options of `new Adam(params, options)` (torch.optim.Adam's names, camelCase). */
export interface AdamOptions {
  /** Learning rate γ. Default 1e-3. */
  lr?: number;
  /** (β1, β2). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** ε added to the denominator. Default 1e-8. */
  eps?: number;
  /** L2 penalty λ, added to the gradient as λθ (not AdamW's decoupled decay). Default 0. */
  weightDecay?: number;
}

interface Slot {
  readonly param: Tensor;
  readonly grad: Tensor;
  readonly s1: GPUBuffer;
  readonly s2: GPUBuffer;
  readonly uniform: GPUBuffer;
  readonly update: BoundKernel<'optimize'>;
}

function checkParams(params: readonly Tensor[]): readonly Tensor[] {
  if (!Array.isArray(params) || params.length === 0) throw new ArgumentError('params', params, 'a non-empty array of parameter tensors');
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`params[${i}]`, p, 'a Tensor');
    if (p.isDestroyed) throw new DestroyedError(`Tensor "${p.label}"`);
    if (p.size === 0) throw new ArgumentError(`params[${i}]`, p, 'a non-empty tensor');
    if (params.indexOf(p) !== i) throw new ArgumentError(`params[${i}]`, p, 'each tensor once');
    if (p.runtime !== params[0].runtime) throw new ArgumentError(`params[${i}]`, p, 'tensors of one runtime');
  });
  return [...params];
}

/** The shared machinery of the optimizers: gradients, state, one dispatch per parameter tensor. */
export abstract class Optimizer {
  /** The runtime of the parameters. */
  readonly runtime: Runtime;
  /** Which optimizer. */
  readonly kind: OptimizerKind;
  /** The parameter tensors, updated in place. */
  readonly params: readonly Tensor[];
  /** One gradient tensor per parameter tensor (same shape), read by each step. */
  readonly grads: readonly Tensor[];
  /** Steps taken so far (PyTorch's `step` of the state). */
  steps = 0;
  /** State buffers per parameter tensor: SGD 0 (no momentum) or 1 (momentum), Adam 2 (first and second moments). */
  readonly stateBuffers: 0 | 1 | 2;
  private readonly slots: Slot[];
  private destroyed = false;

  protected constructor(kind: OptimizerKind, params: readonly Tensor[], stateBuffers: 0 | 1 | 2) {
    const ps = checkParams(params);
    const rt = ps[0].runtime;
    rt.check();
    this.runtime = rt;
    this.kind = kind;
    this.params = ps;
    this.stateBuffers = stateBuffers;
    for (const p of ps) checkWorkgroups(rt, 'params', p, optimWorkgroups(p.size), 'parameter tensors');
    const kernel = rt.kernel(optimKernel, kind);
    this.slots = ps.map((param, i) => {
      const grad = Tensor.zeros(rt, param.shape, `${kind} gradient ${i}`);
      const stateBytes = (k: number) => (stateBuffers >= k ? param.size * 4 : 16);
      const s1 = rt.createBuffer(`${kind} state 1 of ${i}`, stateBytes(1), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC);
      const s2 = rt.createBuffer(`${kind} state 2 of ${i}`, stateBytes(2), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC);
      const uniform = rt.createBuffer(`${kind} params of ${i}`, optimUniformSize(kind), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const update = kernel.bind({ O: uniform, param: param.buffer, grad: grad.buffer, s1, s2 }, `${kind} bind group ${i}`);
      return { param, grad, s1, s2, uniform, update };
    });
    this.grads = this.slots.map((s) => s.grad);
  }

  /** The gradient tensor the optimizer reads for `param`. */
  gradFor(param: Tensor): Tensor {
    const i = this.params.indexOf(param);
    if (i < 0) throw new ArgumentError('param', param, 'one of the optimizer\'s parameter tensors');
    return this.grads[i];
  }

  /** The options that rebuild this optimizer, with the current `lr` (what a checkpoint stores). */
  abstract get options(): SGDOptions | AdamOptions;

  /**
   * @internal The state buffers to read for a checkpoint, tensor by tensor
   * (momentum; or first then second moment), each `bytes` long.
   */
  get stateSources(): { buffer: GPUBuffer; bytes: number }[] {
    if (this.destroyed) throw new DestroyedError(`${this.kind} optimizer`);
    const out: { buffer: GPUBuffer; bytes: number }[] = [];
    for (const s of this.slots) {
      if (this.stateBuffers >= 1) out.push({ buffer: s.s1, bytes: s.param.size * 4 });
      if (this.stateBuffers >= 2) out.push({ buffer: s.s2, bytes: s.param.size * 4 });
    }
    return out;
  }

  /**
   * @internal Writes state read by `stateSources` back (same order and
   * sizes) and sets the step count: the next step is the one after `steps`.
   */
  loadState(state: readonly Float32Array[], steps: number): void {
    if (this.destroyed) throw new DestroyedError(`${this.kind} optimizer`);
    const rt = this.runtime;
    let k = 0;
    for (const s of this.slots) {
      for (const buffer of this.stateBuffers >= 2 ? [s.s1, s.s2] : this.stateBuffers >= 1 ? [s.s1] : []) {
        const v = state[k++];
        if (!v || v.length !== s.param.size) throw new ArgumentError(`state[${k - 1}]`, v?.length, `${s.param.size} values`);
        rt.device.queue.writeBuffer(buffer, 0, v.buffer, v.byteOffset, v.byteLength);
      }
    }
    if (k !== state.length) throw new ArgumentError('state', state.length, `${k} state arrays`);
    this.steps = steps;
  }

  /** The uniform values of step number `step` (1-based) for a tensor of n values. */
  protected abstract uniformBytes(step: number, n: number): ArrayBuffer;

  /** @internal Workgroups of each parameter tensor's update dispatch, in `params` order. */
  get workgroupCounts(): number[] {
    return this.slots.map((s) => optimWorkgroups(s.param.size));
  }

  /**
   * Records one update of every parameter tensor into `pass` (no submit) and
   * advances the step count. The step's values are written to the
   * optimizer's uniforms now, so submit the pass's command buffer before
   * recording the next step.
   *
   * @internal With `gate`, tensor i's update is an indirect dispatch whose
   * workgroup counts are at byte 12·i of `gate` (zero skips it: the trainer's
   * gate kernel writes them).
   */
  record(pass: GPUComputePassEncoder, gate?: GPUBuffer): void {
    if (this.destroyed) throw new DestroyedError(`${this.kind} optimizer`);
    const rt = this.runtime;
    rt.check();
    const step = this.steps + 1;
    this.slots.forEach((s, i) => {
      rt.device.queue.writeBuffer(s.uniform, 0, this.uniformBytes(step, s.param.size));
      if (gate) s.update.dispatchIndirect(pass, 'optimize', gate, 12 * i);
      else s.update.dispatch(pass, 'optimize', optimWorkgroups(s.param.size));
    });
    this.steps = step;
  }

  /** Takes one step with the current `grads` (submits; no host wait). */
  step(): void {
    const rt = this.runtime;
    const encoder = rt.device.createCommandEncoder({ label: `${this.kind} step` });
    const pass = encoder.beginComputePass({ label: `${this.kind} step` });
    this.record(pass);
    pass.end();
    rt.submit([encoder.finish()]);
  }

  /** Clears the state (momentum, moments) and the step count; the parameters are kept. */
  reset(): void {
    if (this.destroyed) throw new DestroyedError(`${this.kind} optimizer`);
    const rt = this.runtime;
    const encoder = rt.device.createCommandEncoder({ label: `${this.kind} reset` });
    for (const s of this.slots) {
      encoder.clearBuffer(s.s1);
      encoder.clearBuffer(s.s2);
    }
    rt.submit([encoder.finish()]);
    this.steps = 0;
  }

  /** Frees the gradients and the state (not the parameters). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of this.slots) {
      s.grad.destroy();
      this.runtime.destroyBuffer(s.s1);
      this.runtime.destroyBuffer(s.s2);
      this.runtime.destroyBuffer(s.uniform);
    }
  }
}

/** Stochastic gradient descent with momentum, as torch.optim.SGD. */
export class SGD extends Optimizer {
  /** Learning rate γ (may change between steps). */
  lr: number;
  /** Momentum factor μ. */
  readonly momentum: number;
  /** Dampening τ. */
  readonly dampening: number;
  /** L2 penalty λ. */
  readonly weightDecay: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;

  constructor(params: readonly Tensor[], options: SGDOptions) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { lr, momentum?, … }');
    const lr = checkNumber('options.lr', options.lr, 0);
    const momentum = checkNumber('options.momentum', options.momentum ?? 0, 0);
    const dampening = checkNumber('options.dampening', options.dampening ?? 0, 0, 1);
    const weightDecay = checkNumber('options.weightDecay', options.weightDecay ?? 0, 0);
    const nesterov = options.nesterov ?? false;
    if (typeof nesterov !== 'boolean') throw new ArgumentError('options.nesterov', nesterov, 'a boolean');
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new ArgumentError('options.nesterov', nesterov, 'false unless momentum > 0 and dampening = 0 (as PyTorch)');
    }
    super('sgd', params, momentum !== 0 ? 1 : 0);
    this.lr = lr;
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  get options(): SGDOptions {
    return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }

  protected uniformBytes(step: number, n: number): ArrayBuffer {
    checkNumber('lr', this.lr, 0);
    return SGD_PARAMS.pack({
      n,
      first: step === 1 ? 1 : 0,
      nesterov: this.nesterov ? 1 : 0,
      lr: this.lr,
      momentum: this.momentum,
      one_minus_dampening: 1 - this.dampening,
      weight_decay: this.weightDecay,
    });
  }
}

/** Adam with L2 weight decay and bias correction, as torch.optim.Adam. */
export class Adam extends Optimizer {
  /** Learning rate γ (may change between steps). */
  lr: number;
  /** β1, decay of the first moment. */
  readonly beta1: number;
  /** β2, decay of the second moment. */
  readonly beta2: number;
  /** ε added to the denominator. */
  readonly eps: number;
  /** L2 penalty λ. */
  readonly weightDecay: number;

  constructor(params: readonly Tensor[], options: AdamOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { lr?, betas?, … }');
    const lr = checkNumber('options.lr', options.lr ?? 1e-3, 0);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new ArgumentError('options.betas', betas, 'a pair [β1, β2]');
    const beta1 = checkNumber('options.betas[0]', betas[0], 0, 1, true);
    const beta2 = checkNumber('options.betas[1]', betas[1], 0, 1, true);
    const eps = checkNumber('options.eps', options.eps ?? 1e-8, 0);
    const weightDecay = checkNumber('options.weightDecay', options.weightDecay ?? 0, 0);
    super('adam', params, 2);
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  get options(): AdamOptions {
    return { lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, weightDecay: this.weightDecay };
  }

  protected uniformBytes(step: number, n: number): ArrayBuffer {
    checkNumber('lr', this.lr, 0);
    const bc1 = 1 - this.beta1 ** step;
    const bc2 = 1 - this.beta2 ** step;
    return ADAM_PARAMS.pack({
      n,
      beta2: this.beta2,
      one_minus_beta1: 1 - this.beta1,
      one_minus_beta2: 1 - this.beta2,
      eps: this.eps,
      weight_decay: this.weightDecay,
      step_size: this.lr / bc1,
      bc2_sqrt: Math.sqrt(bc2),
    });
  }
}
