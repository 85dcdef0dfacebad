/**
 * `Linear`: a trainable readout y = W x + b after the ODE block (PyTorch's
 * nn.Linear, same parameter layout and default initialisation). Its forward
 * reads rows of any tensor from an offset, so it reads the last output row
 * y(t_{T−1}) of a solution in place; its backward writes dL/dx straight into
 * the solve's cotangent buffer and dL/dθ into a gradient tensor, on the GPU.
 */
import {
  LINEAR_PARAMS,
  type LinearSpec,
  linearKernel,
  linearParameterCount,
  linearWorkgroups,
} from '../kernels/linear';
import { ArgumentError, DestroyedError } from '../errors';
import { defaultParameters } from '../field/mlp';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import { LayerBuffers, checkInt, checkWorkgroups, describeTensor, finiteFloat32, lengthOf } from './common';

/** Options of `new Linear(runtime, options)`. */
export interface LinearOptions {
  /** Input width (the state dimension D of the ODE block it reads). */
  inFeatures: number;
  /** Output width (for example the number of classes). */
  outFeatures: number;
  /** Seed of PyTorch's default initialisation U(±1/√inFeatures). Default 0. */
  seed?: number;
}

/** Where a Linear forward reads and writes. */
export interface LinearForwardArgs {
  /** Input rows [batch][inFeatures], read from element `xOffset` on. */
  x: Tensor;
  /** Element offset of the first input row. Default 0. */
  xOffset?: number;
  /** Rows B. */
  batch: number;
  /** Output [batch][outFeatures]. */
  y: Tensor;
}

/** Where a Linear backward reads and writes. */
export interface LinearBackwardArgs {
  /** The forward's input rows, read from element `xOffset` on. */
  x: Tensor;
  /** Element offset of the first input row. Default 0. */
  xOffset?: number;
  /** Rows B. */
  batch: number;
  /** dL/dy [batch][outFeatures]. */
  gy: Tensor;
  /** dL/dx [batch][inFeatures] is written here from element `gxOffset` on. */
  gx: Tensor;
  /** Element offset of the first row of dL/dx. Default 0. */
  gxOffset?: number;
  /** dL/dθ [parameterCount] is written here (overwritten, not accumulated). */
  gtheta: Tensor;
}

/** A Linear layer y = W x + b with its parameters on the GPU. */
export class Linear {
  /** The runtime the parameters live on. */
  readonly runtime: Runtime;
  /** @internal The sizes the kernels are generated from. */
  readonly spec: LinearSpec;
  /** Parameters: outFeatures × inFeatures weights + outFeatures biases. */
  readonly parameterCount: number;
  private paramTensor: Tensor | null;
  private readonly buffers: LayerBuffers;

  constructor(runtime: Runtime, options: LinearOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ArgumentError('options', options, 'an object { inFeatures, outFeatures, seed? }');
    }
    const inFeatures = checkInt('inFeatures', options.inFeatures, 1);
    const outFeatures = checkInt('outFeatures', options.outFeatures, 1);
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ArgumentError('seed', seed, 'a number');
    runtime.check();
    this.runtime = runtime;
    this.spec = { inFeatures, outFeatures };
    this.parameterCount = linearParameterCount(this.spec);
    this.paramTensor = Tensor.fromArray(runtime, defaultParameters([inFeatures, outFeatures], seed), [this.parameterCount], 'linear parameters');
    this.buffers = new LayerBuffers(runtime, 'linear');
  }

  /** Input width. */
  get inFeatures(): number {
    return this.spec.inFeatures;
  }
  /** Output width. */
  get outFeatures(): number {
    return this.spec.outFeatures;
  }

  /** The parameter tensor: weight [out][in] row-major, then bias [out] (PyTorch order). */
  get params(): Tensor {
    if (!this.paramTensor) throw new DestroyedError('Linear');
    return this.paramTensor;
  }

  /** Uploads new parameters (`parameterCount` finite values, PyTorch order). */
  setParameters(params: ArrayLike<number>): void {
    const tensor = this.params;
    tensor.write(finiteFloat32('params', params, this.parameterCount));
  }

  /** Reads the parameters back (one host wait). */
  readParameters(): Promise<Float32Array> {
    return this.params.read();
  }

  private checkRows(name: string, t: Tensor, offset: number, rows: number, width: number): void {
    if (!(t instanceof Tensor)) throw new ArgumentError(name, t, 'a Tensor');
    if (!Number.isInteger(offset) || offset < 0 || offset + rows * width > t.size) {
      throw new ArgumentError(
        name,
        describeTensor(t),
        `a tensor holding ${rows}×${width} values from element ${offset} on (it has ${t.size})`,
      );
    }
  }

  /** Records the forward y = W x + b for `batch` rows into `pass` (no submit). */
  recordForward(pass: GPUComputePassEncoder, args: LinearForwardArgs): void {
    const rt = this.runtime;
    const theta = this.params;
    const batch = checkInt('batch', args.batch, 1);
    const xOffset = args.xOffset ?? 0;
    this.checkRows('x', args.x, xOffset, batch, this.inFeatures);
    this.checkRows('y', args.y, 0, batch, this.outFeatures);
    const groups = linearWorkgroups(this.spec, 'forward', batch);
    checkWorkgroups(rt, 'batch', batch, groups, 'a batch whose outputs');
    const uniform = this.buffers.uniforms.get(LINEAR_PARAMS.pack({ batch, x_offset: xOffset, gx_offset: 0 }));
    const linear = rt.kernel(linearKernel, this.spec).bind(
      { P: uniform, theta: theta.buffer, x: args.x.buffer, y: args.y.buffer, gy: this.buffers.unused, gx: this.buffers.unusedWritable(), gtheta: this.buffers.unusedWritable(1) },
      'linear forward bind group',
    );
    linear.dispatch(pass, 'forward', groups);
  }

  /** Records dL/dx = Wᵀ dL/dy and dL/dθ into `pass` (no submit). */
  recordBackward(pass: GPUComputePassEncoder, args: LinearBackwardArgs): void {
    const rt = this.runtime;
    const theta = this.params;
    const batch = checkInt('batch', args.batch, 1);
    const xOffset = args.xOffset ?? 0;
    const gxOffset = args.gxOffset ?? 0;
    this.checkRows('x', args.x, xOffset, batch, this.inFeatures);
    this.checkRows('gy', args.gy, 0, batch, this.outFeatures);
    this.checkRows('gx', args.gx, gxOffset, batch, this.inFeatures);
    this.checkRows('gtheta', args.gtheta, 0, 1, this.parameterCount);
    const groups = linearWorkgroups(this.spec, 'backward_input', batch);
    checkWorkgroups(rt, 'batch', batch, groups, 'a batch whose inputs');
    const uniform = this.buffers.uniforms.get(LINEAR_PARAMS.pack({ batch, x_offset: xOffset, gx_offset: gxOffset }));
    const linear = rt.kernel(linearKernel, this.spec).bind(
      { P: uniform, theta: theta.buffer, x: args.x.buffer, y: this.buffers.unusedWritable(), gy: args.gy.buffer, gx: args.gx.buffer, gtheta: args.gtheta.buffer },
      'linear backward bind group',
    );
    linear.dispatch(pass, 'backward_input', groups);
    linear.dispatch(pass, 'backward_params', linearWorkgroups(this.spec, 'backward_params', batch));
  }


  /**
   * Evaluates the layer on `x` ([batch][inFeatures] values or a tensor) and
   * returns a new [batch, outFeatures] tensor (submits; no host wait).
   */
  forward(x: Tensor | ArrayLike<number>): Tensor {
    const rt = this.runtime;
    if (!this.paramTensor) throw new DestroyedError('Linear');
    const n = x instanceof Tensor ? x.size : lengthOf(x);
    if (n <= 0 || n % this.inFeatures !== 0) {
      throw new ArgumentError('x', x, `a non-empty array whose length is a multiple of ${this.inFeatures}`);
    }
    const batch = n / this.inFeatures;
    const input = x instanceof Tensor ? x : Tensor.fromArray(rt, finiteFloat32('x', x, n), [batch, this.inFeatures], 'linear input');
    const y = Tensor.zeros(rt, [batch, this.outFeatures], 'linear output');
    try {
      const encoder = rt.device.createCommandEncoder({ label: 'linear forward' });
      const pass = encoder.beginComputePass({ label: 'linear forward' });
      this.recordForward(pass, { x: input, batch, y });
      pass.end();
      rt.submit([encoder.finish()]);
    } catch (e) {
      y.destroy();
      throw e;
    } finally {
      if (input !== x) input.destroy();
    }
    return y;
  }

  /** Frees the parameters and the layer's small buffers. Idempotent. */
  destroy(): void {
    if (!this.paramTensor) return;
    this.paramTensor.destroy();
    this.paramTensor = null;
    this.buffers.destroy();
  }

  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return this.paramTensor === null;
  }
}
