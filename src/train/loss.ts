/**
 * `Loss`: mean squared error, mean absolute error (L1), softmax
 * cross-entropy, the negative mean log-likelihood, or a masked loss of irregularly observed series (masked
 * MSE, Gaussian negative log-likelihood with a fixed std) on the GPU. Recording it writes dL/dprediction straight into
 * a gradient tensor — the cotangent [T][B][D] that `sol.backward` takes, or a
 * readout's dL/dlogits — and leaves the loss value in `loss.value` on the
 * GPU; `read()` brings it to the host (one host wait) only when asked.
 */
import {
  LOSS_KINDS,
  LOSS_PARAMS,
  LOSS_WORKGROUP,
  MASKED_LOSS_KINDS,
  MASKED_LOSS_PARAMS,
  type LossKind,
  type MaskedLossKind,
  isMaskedLoss,
  lossKernel,
  lossWorkgroups,
  maskedLossKernel,
} from '../kernels/loss';
import { ArgumentError, DestroyedError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { TENSOR_USAGE, Tensor } from '../runtime/tensor';
import { UniformCache, checkInt, checkNumber, checkWorkgroups, describeTensor, finiteFloat32 } from './common';

/** Options of `new Loss(runtime, kind, options)`. */
export interface LossOptions {
  /** Observation std σ of 'gaussian-nll' (fixed, > 0). Default 0.01 (Rubanova et al.'s latent ODE). */
  std?: number;
}

/** What a recorded loss reads and writes. */
export interface LossArgs {
  /** Predictions, read from element `predOffset` on: `count` values (MSE, L1) or `count` rows of `classes` logits. */
  pred: Tensor;
  /** Element offset of the first prediction. Default 0. */
  predOffset?: number;
  /** Targets: `count` values (MSE, L1) or `count` class indices 0 … classes−1 (cross-entropy); none for 'nll'. */
  target?: Tensor;
  /** dL/dpred is written here from element `gradOffset` on (same layout as the predictions). */
  grad: Tensor;
  /** Element offset of the first gradient value. Default 0. */
  gradOffset?: number;
  /** Items the mean runs over: elements (MSE, L1) or rows (cross-entropy). */
  count: number;
  /** Classes C (cross-entropy only). */
  classes?: number;
  /**
   * The mask of a masked loss ('masked-mse', 'gaussian-nll'): `count`
   * weights from element 0, aligned with the targets (1 observed, 0 missing).
   */
  mask?: Tensor;
  /**
   * Masked losses: the value is scale · Σ m·term. Default 1/count (a mean
   * over all values, missing ones counting as 0); pass 1/(observed values)
   * for a mean over the observed ones, or 1/B for a per-series sum averaged
   * over B series (the ELBO's convention). Other kinds: always 1/count.
   */
  scale?: number;
}

/** A loss function whose gradient and value are computed on the GPU. */
export class Loss {
  /** The runtime the loss runs on. */
  readonly runtime: Runtime;
  /** Which loss. */
  readonly kind: LossKind;
  /** Observation std of 'gaussian-nll' (NaN for the other kinds). */
  readonly std: number;
  private valueTensor: Tensor | null;
  private partials: GPUBuffer;
  private partialCount: number;
  private readonly retired: GPUBuffer[] = [];
  private readonly uniforms: UniformCache;

  constructor(runtime: Runtime, kind: LossKind, options: LossOptions = {}) {
    if (!LOSS_KINDS.includes(kind)) throw new ArgumentError('kind', kind, `one of ${LOSS_KINDS.join(', ')}`);
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { std? }');
    if (options.std !== undefined && kind !== 'gaussian-nll') {
      throw new ArgumentError('options.std', options.std, `undefined: only the gaussian-nll loss has an observation std`);
    }
    const std = kind === 'gaussian-nll' ? checkNumber('options.std', options.std ?? 0.01, Number.MIN_VALUE) : Number.NaN;
    runtime.check();
    this.runtime = runtime;
    this.kind = kind;
    this.std = std;
    this.valueTensor = Tensor.zeros(runtime, [1], `${kind} loss value`);
    this.partialCount = 1;
    this.partials = runtime.createBuffer(`${kind} loss partial sums`, 4, GPUBufferUsage.STORAGE);
    this.uniforms = new UniformCache(runtime, `${kind} loss`);
  }

  /** The latest loss value (mean over the items), [1], on the GPU. */
  get value(): Tensor {
    if (!this.valueTensor) throw new DestroyedError('Loss');
    return this.valueTensor;
  }

  /** Reads the latest loss value (one host wait). */
  async read(): Promise<number> {
    const v = await this.value.read();
    return v[0];
  }

  /** Elements per item: the classes of cross-entropy, 1 otherwise. */
  private width(args: LossArgs): number {
    if (this.kind !== 'cross-entropy') {
      if (args.classes !== undefined && args.classes !== 1) {
        throw new ArgumentError('classes', args.classes, `undefined: the ${this.kind} loss works on single values`);
      }
      return 1;
    }
    return checkInt('classes', args.classes, 1);
  }

  /** Records both passes into `pass` (no submit). Validates every size first. */
  record(pass: GPUComputePassEncoder, args: LossArgs): void {
    const rt = this.runtime;
    const value = this.value;
    if (typeof args !== 'object' || args === null) throw new ArgumentError('args', args, 'an object { pred, target, grad, count }');
    const count = checkInt('count', args.count, 1);
    const width = this.width(args);
    const predOffset = checkInt('predOffset', args.predOffset ?? 0, 0);
    const gradOffset = checkInt('gradOffset', args.gradOffset ?? 0, 0);
    const span = count * width;
    // 'nll' reads no target: the predictions stand in for the binding (two read-only bindings of one buffer are valid).
    const nll = this.kind === 'nll';
    if (nll && args.target !== undefined) throw new ArgumentError('target', describeTensor(args.target), 'undefined: the nll loss has no target');
    const target = nll ? args.pred : args.target;
    for (const [name, t, offset, need] of [
      ['pred', args.pred, predOffset, span],
      ['target', target, 0, this.kind === 'cross-entropy' ? count : nll ? 0 : span],
      ['grad', args.grad, gradOffset, span],
    ] as const) {
      if (!(t instanceof Tensor)) throw new ArgumentError(name, t, 'a Tensor');
      if (t.isDestroyed) throw new DestroyedError(`Tensor "${t.label}"`);
      if (offset + need > t.size) {
        throw new ArgumentError(name, describeTensor(t), `a tensor holding ${need} values from element ${offset} on (it has ${t.size})`);
      }
    }
    if (args.grad === args.pred || args.grad === target) {
      throw new ArgumentError('grad', describeTensor(args.grad), 'a tensor other than pred and target');
    }
    const masked = isMaskedLoss(this.kind);
    if (masked) {
      const mask = args.mask;
      if (!(mask instanceof Tensor)) throw new ArgumentError('mask', mask, `a Tensor of ${count} mask values (the ${this.kind} loss is masked)`);
      if (mask.isDestroyed) throw new DestroyedError(`Tensor "${mask.label}"`);
      if (mask.size < count) throw new ArgumentError('mask', describeTensor(mask), `a tensor holding ${count} mask values (it has ${mask.size})`);
      if (mask === args.grad) throw new ArgumentError('grad', describeTensor(args.grad), 'a tensor other than the mask');
    } else {
      if (args.mask !== undefined) throw new ArgumentError('mask', describeTensor(args.mask), `undefined: the ${this.kind} loss is not masked`);
      if (args.scale !== undefined) throw new ArgumentError('scale', args.scale, `undefined: the ${this.kind} loss is a mean over count items`);
    }
    const scale = masked ? checkNumber('scale', args.scale ?? 1 / count, 0) : 1 / count;
    const parts = lossWorkgroups(count);
    checkWorkgroups(rt, 'count', count, parts, 'items');
    if (parts > this.partialCount) {
      // An encoder not yet submitted may still use the old buffer: retire it until destroy().
      this.retired.push(this.partials);
      this.partials = rt.createBuffer(`${this.kind} loss partial sums`, parts * 4, GPUBufferUsage.STORAGE);
      this.partialCount = parts;
    }
    if (masked) {
      const gaussian = this.kind === 'gaussian-nll';
      const uniform = this.uniforms.get(
        MASKED_LOSS_PARAMS.pack({
          n: count,
          pred_offset: predOffset,
          grad_offset: gradOffset,
          parts,
          scale,
          inv_var: gaussian ? 1 / (this.std * this.std) : 1,
          log_norm: gaussian ? Math.log(this.std) + 0.5 * Math.log(2 * Math.PI) : 0,
        }),
      );
      const loss = rt.kernel(maskedLossKernel, this.kind as MaskedLossKind).bind(
        {
          L: uniform,
          pred: args.pred.buffer,
          targets: (target as Tensor).buffer,
          mask: (args.mask as Tensor).buffer,
          grad: args.grad.buffer,
          part: this.partials,
          value: value.buffer,
        },
        `${this.kind} loss bind group`,
      );
      loss.dispatch(pass, 'items', parts);
      loss.dispatch(pass, 'total', 1);
      return;
    }
    const uniform = this.uniforms.get(
      LOSS_PARAMS.pack({ n: count, width, pred_offset: predOffset, grad_offset: gradOffset, parts, scale: 1 / count }),
    );
    const loss = rt.kernel(lossKernel, this.kind as Exclude<LossKind, MaskedLossKind>).bind(
      { L: uniform, pred: args.pred.buffer, targets: (target as Tensor).buffer, grad: args.grad.buffer, part: this.partials, value: value.buffer },
      `${this.kind} loss bind group`,
    );
    loss.dispatch(pass, 'items', parts);
    loss.dispatch(pass, 'total', 1);
  }

  /**
   * Computes the loss of `pred` against `target` and returns dL/dpred as a new
   * tensor shaped like `pred` (submits; no host wait: read the value with
   * `read()`). For cross-entropy, `pred` is [N][classes] and `target` [N];
   * 'nll' takes no target. Masked losses take `mask` (a tensor or numbers,
   * one per value) and `scale`; with a mask given as numbers, `scale`
   * defaults to 1/(observed values), the mean over the observed ones.
   */
  compute(pred: Tensor, target?: Tensor, options: { classes?: number; mask?: Tensor | ArrayLike<number>; scale?: number } = {}): Tensor {
    const rt = this.runtime;
    if (!(pred instanceof Tensor)) throw new ArgumentError('pred', pred, 'a Tensor');
    const width = this.kind === 'cross-entropy' ? checkInt('classes', options.classes, 1) : 1;
    if (pred.size % width !== 0) throw new ArgumentError('pred', pred, `a multiple of ${width} values`);
    let mask: Tensor | undefined;
    let scale = options.scale;
    if (options.mask !== undefined && !(options.mask instanceof Tensor)) {
      if (!isMaskedLoss(this.kind)) throw new ArgumentError('mask', options.mask, `undefined: the ${this.kind} loss is not masked`);
      const m = finiteFloat32('mask', options.mask, pred.size);
      const observed = m.reduce((a, v) => a + v, 0);
      scale ??= observed > 0 ? 1 / observed : 0;
      mask = Tensor.fromArray(rt, m, [m.length], `${this.kind} loss mask`);
    } else {
      mask = options.mask;
    }
    const grad = new Tensor(rt, rt.createBuffer(`${this.kind} loss gradient`, pred.size * 4, TENSOR_USAGE), pred.shape, `${this.kind} loss gradient`);
    try {
      const encoder = rt.device.createCommandEncoder({ label: `${this.kind} loss` });
      const pass = encoder.beginComputePass({ label: `${this.kind} loss` });
      this.record(pass, { pred, target, grad, count: pred.size / width, classes: options.classes, mask, scale });
      pass.end();
      rt.submit([encoder.finish()]);
    } catch (e) {
      grad.destroy();
      throw e;
    } finally {
      if (mask && mask !== options.mask) mask.destroy();
    }
    return grad;
  }

  /** Frees the value and the loss's small buffers. Idempotent. */
  destroy(): void {
    if (!this.valueTensor) return;
    this.valueTensor.destroy();
    this.valueTensor = null;
    this.runtime.destroyBuffer(this.partials);
    for (const b of this.retired) this.runtime.destroyBuffer(b);
    this.retired.length = 0;
    this.uniforms.destroy();
  }
}

export { LOSS_KINDS, LOSS_WORKGROUP, MASKED_LOSS_KINDS };
export type { LossKind, MaskedLossKind };
