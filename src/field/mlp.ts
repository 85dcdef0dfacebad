/**
 * The dynamics module: an MLP f(t, z; θ) whose parameters live on the GPU.
 *
 * `layers` lists the widths of the Linear layers exactly as a PyTorch
 * `nn.Sequential` of `nn.Linear` would: [input, hidden…, output]. The output
 * width is the state dimension D; the input width is D, or D + 1 when
 * `timeInput` is true (the time is appended as the last input column).
 * Parameters are one flat float32 vector in `nn.Linear` order, layer by layer:
 * weight [out, in] row-major, then bias [out], so a PyTorch `state_dict`
 * flattened in order loads unchanged.
 */
import { EVAL_PARAMS, forwardWorkgroups, mlpForwardKernel, mlpForwardSpec } from '../kernels/mlp-forward';
import { type Activation, ACTIVATIONS, type MlpSpec, mlpOffsets } from '../mlp/mlp';
import { WGSL_FUNCTION_FLOATS, mlpPlan, vjpFloats } from '../mlp/plan';
import { ArgumentError, DestroyedError } from '../errors';
import { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';

/** Options of `new MLP(runtime, options)`. */
export interface MLPOptions {
  /** Linear layer widths [input, hidden…, output]; input = output (+1 with `timeInput`). */
  layers: readonly number[];
  /** Activation between layers (none after the last). Default `'tanh'`. */
  activation?: Activation;
  /** Append t as the last input column. Default false. */
  timeInput?: boolean;
  /** Seed of the default initialisation. Default 0. */
  seed?: number;
}

/** A small seeded generator (mulberry32): uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * PyTorch's default `nn.Linear` initialisation: weights and biases uniform in
 * ±1/sqrt(fan_in), drawn from a seeded generator.
 */
export function defaultParameters(layers: readonly number[], seed = 0): Float32Array {
  const { layers: offs, count } = mlpOffsets(layers);
  const rng = mulberry32(seed);
  const p = new Float32Array(count);
  for (const L of offs) {
    const bound = 1 / Math.sqrt(L.inWidth);
    for (let i = 0; i < L.inWidth * L.outWidth + L.outWidth; i++) p[L.weight + i] = (2 * rng() - 1) * bound;
  }
  return p;
}

/**
 * WGSL limits the variables of one function to 8,192 bytes
 * (WGSL_FUNCTION_FLOATS). The largest function webode generates for an MLP
 * is its vector–Jacobian product, which keeps each hidden layer's
 * pre-activations, outputs and cotangents (3 floats per hidden unit) plus
 * the input and output vectors.
 */
export const MAX_FUNCTION_FLOATS = WGSL_FUNCTION_FLOATS;

/** Floats of function-scope memory the VJP of an MLP with these Linear widths uses. */
export function vjpFunctionFloats(layers: readonly number[]): number {
  // The one-sample VJP keeps the pre-activations whatever the activation, so the count needs the widths alone.
  return vjpFloats(mlpPlan({ layers, activation: 'identity', timeInput: false }), 'scalar');
}

/** Checks an MLP description and returns its spec; throws `ArgumentError` naming the bad field. */
export function validateMlpOptions(options: MLPOptions): MlpSpec {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('options', options, 'an object { layers, activation?, timeInput? }');
  }
  const layers = options.layers;
  if (!Array.isArray(layers) || layers.length < 2) {
    throw new ArgumentError('layers', layers, 'an array of at least two widths [input, …, output]');
  }
  layers.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 1) {
      throw new ArgumentError(`layers[${i}]`, w, 'a positive integer width');
    }
  });
  const activation = options.activation ?? 'tanh';
  if (!ACTIVATIONS.includes(activation)) {
    throw new ArgumentError('activation', activation, `one of ${ACTIVATIONS.join(', ')}`);
  }
  const timeInput = options.timeInput ?? false;
  if (typeof timeInput !== 'boolean') throw new ArgumentError('timeInput', timeInput, 'a boolean');
  const D = layers[layers.length - 1];
  const wantIn = D + (timeInput ? 1 : 0);
  if (layers[0] !== wantIn) {
    throw new ArgumentError(
      'layers[0]',
      layers[0],
      `${wantIn}: the input width must equal the state dimension (output width ${D})${timeInput ? ' + 1 for the time input' : ''}`,
    );
  }
  const floats = vjpFunctionFloats(layers);
  if (floats > MAX_FUNCTION_FLOATS) {
    throw new ArgumentError(
      'layers',
      layers,
      `hidden widths whose gradient kernel fits WGSL's ${MAX_FUNCTION_FLOATS * 4}-byte limit on one function's variables ` +
        `(input + 3·Σ hidden + output ≤ ${MAX_FUNCTION_FLOATS} floats; these layers need ${floats})`,
    );
  }
  return { layers: [...layers], activation, timeInput };
}

/** An MLP vector field with its parameters on the GPU. */
export class MLP {
  /** The runtime the parameters live on. */
  readonly runtime: Runtime;
  /** @internal The validated architecture the kernels are generated from. */
  readonly spec: MlpSpec;
  /** State dimension D (the output width). */
  readonly stateDim: number;
  /** Number of parameters P. */
  readonly parameterCount: number;
  private paramTensor: Tensor | null;
  private evalUniform: GPUBuffer | null = null;

  constructor(runtime: Runtime, options: MLPOptions) {
    if (!(runtime instanceof Runtime)) throw new ArgumentError('runtime', runtime, 'a Runtime (from createRuntime)');
    this.spec = validateMlpOptions(options);
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ArgumentError('seed', seed, 'a finite number');
    runtime.check();
    this.runtime = runtime;
    this.stateDim = this.spec.layers[this.spec.layers.length - 1];
    this.parameterCount = mlpOffsets(this.spec.layers).count;
    const init = defaultParameters(this.spec.layers, seed);
    this.paramTensor = Tensor.fromArray(runtime, init, [this.parameterCount], 'mlp parameters');
  }

  /** Widths of the Linear layers, [input, hidden…, output]. */
  get layers(): readonly number[] {
    return this.spec.layers;
  }
  /** The activation between layers. */
  get activation(): Activation {
    return this.spec.activation;
  }
  /** Whether t is appended to the input (x = [z, t]). */
  get timeInput(): boolean {
    return this.spec.timeInput;
  }

  /** The parameter tensor θ (flat, PyTorch Linear order). Throws `DestroyedError` after `destroy()` or the runtime's. */
  get params(): Tensor {
    if (!this.paramTensor) throw new DestroyedError('MLP');
    if (this.runtime.isDestroyed) throw new DestroyedError('MLP', 'its Runtime was destroyed');
    return this.paramTensor;
  }

  /** Uploads new parameters (length `parameterCount`). Non-finite values are not rejected here: a solve that meets them fails with `OdeSolveError` (kind `nonfinite`). */
  setParameters(params: ArrayLike<number>): void {
    const tensor = this.params;
    if (!params || typeof params.length !== 'number' || params.length !== this.parameterCount) {
      throw new ArgumentError('params', params, `${this.parameterCount} values for layers [${this.spec.layers.join(', ')}]`);
    }
    tensor.write(params);
  }

  /** Reads the parameters back (one host wait). */
  async readParameters(): Promise<Float32Array> {
    return this.params.read();
  }

  /**
   * Evaluates f(t, z) for every row of `z` (B×D values) on the GPU and returns
   * the result as a new [B, D] tensor (no host wait; read it when needed).
   */
  forward(z: Tensor | ArrayLike<number>, t = 0): Tensor {
    const theta = this.params;
    const rt = this.runtime;
    const D = this.stateDim;
    const n = z instanceof Tensor ? z.size : z && typeof z.length === 'number' ? z.length : -1;
    if (n <= 0 || n % D !== 0) throw new ArgumentError('z', z, `a non-empty array whose length is a multiple of ${D}`);
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new ArgumentError('t', t, 'a finite time');
    if (z instanceof Tensor) z.checkUsableOn(rt, 'z');
    rt.check();
    const B = n / D;
    const input = z instanceof Tensor ? z : Tensor.fromArray(rt, z, [B, D], 'forward input');
    let out: Tensor;
    try {
      out = Tensor.zeros(rt, [B, D], 'forward output');
    } catch (e) {
      if (input !== z) input.destroy();
      throw e;
    }
    if (!this.evalUniform) {
      this.evalUniform = rt.createBuffer('mlp forward params', EVAL_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    }
    rt.device.queue.writeBuffer(this.evalUniform, 0, EVAL_PARAMS.pack({ batch: B, t }));
    const spec = mlpForwardSpec(this.spec);
    const kernel = rt.kernel(mlpForwardKernel, spec).bind(
      { P: this.evalUniform, theta: theta.buffer, z: input.buffer, out: out.buffer },
      'mlp forward bind group',
    );
    const encoder = rt.device.createCommandEncoder({ label: 'mlp forward' });
    const pass = encoder.beginComputePass({ label: 'mlp forward' });
    kernel.dispatch(pass, 'forward', forwardWorkgroups(spec, B));
    pass.end();
    rt.submit([encoder.finish()]);
    if (input !== z) input.destroy();
    return out;
  }

  /** Frees the parameter buffer (and the forward kernel's uniforms). Idempotent. */
  destroy(): void {
    this.paramTensor?.destroy();
    this.paramTensor = null;
    if (this.evalUniform) this.runtime.destroyBuffer(this.evalUniform);
    this.evalUniform = null;
  }

  /** True after `destroy()`, or after its runtime's `destroy()`. */
  get isDestroyed(): boolean {
    return this.paramTensor === null || this.runtime.isDestroyed;
  }
}
