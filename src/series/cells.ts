/**
 * Recurrent cells on the GPU: `GRUCell` and `RNNCell` (tanh), with PyTorch's
 * formulas and parameter layout (torch.nn.GRUCell / torch.nn.RNNCell). A cell
 * owns its parameters θ; `forward` runs it over a whole sequence [T][B][I]
 * (optionally from h0 and with a per-step, per-sample mask) and returns every
 * hidden state [T][B][H]; `backward` is backpropagation through time from
 * dL/dh, giving dL/dθ, dL/dx and dL/dh0. Both are recorded into one command
 * buffer and submitted without any host wait.
 *
 * Why one dispatch per sequence (the time loop inside the kernel) rather than
 * one dispatch per step: a step of a small cell is a few hundred
 * multiply-adds per sample, far less than the cost of a dispatch, and a
 * sample's steps depend only on that sample; with one workgroup per sample
 * and one invocation per hidden unit, the step-to-step dependency is a
 * workgroup barrier instead of a dispatch boundary, and no per-step bind
 * group or uniform is needed.
 */
import {
  type CellKind,
  MAX_HIDDEN_SIZE,
  MAX_INPUT_SIZE,
  RECURRENT_FLAGS,
  RECURRENT_PARAMS,
  type RecurrentSpec,
  gateColumns,
  recurrentKernel,
  recurrentParamsKernel,
  recurrentParamsWorkgroups,
  recurrentParameterCount,
} from '../kernels/recurrent';
import { ArgumentError, DestroyedError } from '../errors';
import { mulberry32 } from '../field/mlp';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import { LayerBuffers, checkInt, checkWorkgroups, describeTensor, finiteFloat32, lengthOf } from '../train/common';

/** Options of `new GRUCell(runtime, options)` and `new RNNCell(runtime, options)`. */
export interface RecurrentCellOptions {
  /** Input width I (1 … 1024). */
  inputSize: number;
  /** Hidden width H (1 … 256: one workgroup of H invocations per sample). */
  hiddenSize: number;
  /** Seed of PyTorch's default initialisation U(±1/√H) of every parameter. Default 0. */
  seed?: number;
}

/** A sequence to run a cell over. Arrays are uploaded; tensors are used in place. */
export interface SequenceArgs {
  /** Inputs [steps][batch][inputSize]. */
  x: Tensor | ArrayLike<number>;
  /** Steps T. */
  steps: number;
  /** Samples B. */
  batch: number;
  /** Initial state [batch][hiddenSize]; zeros when omitted. */
  h0?: Tensor | ArrayLike<number>;
  /**
   * Mask [steps][batch]: h_t = h_{t−1}(1 − m) + cell(x_t, h_{t−1}) m, so a
   * step with m = 0 leaves the sample's state unchanged (an irregular series'
   * missing step) and m = 1 is the plain update. Values in [0, 1].
   */
  mask?: Tensor | ArrayLike<number>;
}

/** The cotangents `backward` starts from: at least one of the two. */
export interface SequenceCotangents {
  /** dL/dh_t for every step, [steps][batch][hiddenSize]. */
  gradHidden?: Tensor | ArrayLike<number>;
  /** dL/dh_{T−1}, [batch][hiddenSize] (added to the last row of `gradHidden` when both are given). */
  gradLast?: Tensor | ArrayLike<number>;
}

/** What `backward` returns (new tensors; free them with `destroy()`). */
export interface SequenceGradients {
  /** dL/dθ [parameterCount], PyTorch order. */
  readonly params: Tensor;
  /** dL/dx [steps][batch][inputSize]. */
  readonly inputs: Tensor;
  /** dL/dh0 [batch][hiddenSize]. */
  readonly h0: Tensor;
  /** Frees the three tensors. */
  destroy(): void;
}

/**
 * A cell's run over a sequence: the hidden states, and the inputs BPTT needs
 * (held until `destroy()`; arrays given to `forward` were uploaded and are
 * owned here, tensors given to it are only referenced and must stay alive).
 */
export class RecurrentSequence {
  /** Every hidden state h_0 … h_{T−1} after its step, [steps][batch][hiddenSize]. */
  readonly hidden: Tensor;
  /** Steps T of the sequence. */
  readonly steps: number;
  /** Samples B of the sequence. */
  readonly batch: number;
  /** The parameters' version when it was run (a backward after setParameters is refused). */
  readonly version: number;
  /** @internal */
  readonly x: Tensor;
  /** @internal */
  readonly h0: Tensor | null;
  /** @internal */
  readonly mask: Tensor | null;
  private readonly owned: Tensor[];
  private alive = true;

  /** @internal Made by `RecurrentCell.forward`. */
  constructor(
    /** The cell that ran it. */
    readonly cell: RecurrentCell,
    parts: { hidden: Tensor; steps: number; batch: number; version: number; x: Tensor; h0: Tensor | null; mask: Tensor | null; owned: Tensor[] },
  ) {
    this.hidden = parts.hidden;
    this.steps = parts.steps;
    this.batch = parts.batch;
    this.version = parts.version;
    this.x = parts.x;
    this.h0 = parts.h0;
    this.mask = parts.mask;
    this.owned = parts.owned;
  }

  /** The last hidden state h_{T−1} as a new [batch][hiddenSize] tensor (a GPU copy; no host wait). */
  last(): Tensor {
    this.check();
    const rt = this.hidden.runtime;
    const n = this.batch * this.cell.hiddenSize;
    const out = Tensor.zeros(rt, [this.batch, this.cell.hiddenSize], 'recurrent last hidden');
    const encoder = rt.device.createCommandEncoder({ label: 'recurrent last hidden' });
    encoder.copyBufferToBuffer(this.hidden.buffer, (this.steps - 1) * n * 4, out.buffer, 0, n * 4);
    rt.submit([encoder.finish()]);
    return out;
  }

  /** @internal Throws if destroyed. */
  check(): void {
    if (!this.alive) throw new DestroyedError('RecurrentSequence');
  }

  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return !this.alive;
  }

  /** Frees the hidden states and the inputs uploaded by `forward`. Idempotent. */
  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    this.hidden.destroy();
    for (const t of this.owned) t.destroy();
  }
}

/** The shared body of GRUCell and RNNCell. */
export abstract class RecurrentCell {
  /** The runtime whose device holds the parameters. */
  readonly runtime: Runtime;
  /** The cell kind and widths (the kernels' compile-time spec). */
  readonly spec: RecurrentSpec;
  /** G·H·(I + H + 2): 3H·(I + H + 2) for the GRU, H·(I + H + 2) for the RNN. */
  readonly parameterCount: number;
  private paramTensor: Tensor | null;
  private readonly buffers: LayerBuffers;
  private version = 0;

  protected constructor(runtime: Runtime, cell: CellKind, options: RecurrentCellOptions) {
    const name = cell === 'gru' ? 'GRUCell' : 'RNNCell';
    if (typeof options !== 'object' || options === null) {
      throw new ArgumentError('options', options, 'an object { inputSize, hiddenSize, seed? }');
    }
    const inputSize = checkInt('inputSize', options.inputSize, 1);
    if (inputSize > MAX_INPUT_SIZE) throw new ArgumentError('inputSize', inputSize, `an integer in [1, ${MAX_INPUT_SIZE}]`);
    const hiddenSize = checkInt('hiddenSize', options.hiddenSize, 1);
    runtime.check();
    const maxH = Math.min(MAX_HIDDEN_SIZE, runtime.limits.maxComputeInvocationsPerWorkgroup, runtime.limits.maxComputeWorkgroupSizeX);
    if (hiddenSize > maxH) {
      throw new ArgumentError('hiddenSize', hiddenSize, `an integer in [1, ${maxH}] (one workgroup of hiddenSize invocations per sample)`);
    }
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ArgumentError('seed', seed, 'a number');
    this.runtime = runtime;
    this.spec = { cell, inputSize, hiddenSize };
    this.parameterCount = recurrentParameterCount(this.spec);
    // PyTorch's RNNCellBase.reset_parameters: every parameter U(−1/√H, 1/√H).
    const rng = mulberry32(seed);
    const bound = 1 / Math.sqrt(hiddenSize);
    const init = new Float32Array(this.parameterCount);
    for (let i = 0; i < init.length; i++) init[i] = (2 * rng() - 1) * bound;
    this.paramTensor = Tensor.fromArray(runtime, init, [this.parameterCount], `${name} parameters`);
    this.buffers = new LayerBuffers(runtime, name);
  }

  /** Input width I. */
  get inputSize(): number {
    return this.spec.inputSize;
  }
  /** Hidden width H. */
  get hiddenSize(): number {
    return this.spec.hiddenSize;
  }

  /** The parameter tensor: weight_ih, weight_hh, bias_ih, bias_hh (PyTorch order, row-major). */
  get params(): Tensor {
    if (!this.paramTensor) throw new DestroyedError(this.spec.cell === 'gru' ? 'GRUCell' : 'RNNCell');
    return this.paramTensor;
  }

  /** Uploads new parameters (`parameterCount` finite values, PyTorch order). */
  setParameters(params: ArrayLike<number>): void {
    const tensor = this.params;
    tensor.write(finiteFloat32('params', params, this.parameterCount));
    this.version++;
  }

  /** Reads the parameters back (one host wait). */
  getParameters(): Promise<Float32Array> {
    return this.params.read();
  }

  /** A tensor argument or an uploaded copy of an array argument (checked: n values). */
  private input(name: string, v: Tensor | ArrayLike<number>, shape: number[], owned: Tensor[], check?: (x: number) => boolean, range?: string): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (v instanceof Tensor) {
      v.checkUsableOn(this.runtime, name);
      if (v.size !== n) throw new ArgumentError(name, describeTensor(v), `a tensor of ${n} values [${shape.join(', ')}]`);
      return v;
    }
    if (lengthOf(v) !== n) throw new ArgumentError(name, v, `${n} numbers [${shape.join(', ')}] or a Tensor`);
    const data = finiteFloat32(name, v, n);
    if (check) {
      const bad = data.findIndex((x) => !check(x));
      if (bad >= 0) throw new ArgumentError(`${name}[${bad}]`, data[bad], range ?? '');
    }
    const t = Tensor.fromArray(this.runtime, data, shape, `recurrent ${name}`);
    owned.push(t);
    return t;
  }

  /** Throws unless `bytes` fits one storage binding (naming the user's argument). */
  private checkBinding(name: string, received: unknown, bytes: number, what: string): void {
    const max = this.runtime.limits.maxStorageBufferBindingSize;
    if (bytes > max) throw new ArgumentError(name, received, `${what} within maxStorageBufferBindingSize (${max} bytes; needs ${bytes}); split the batch`);
  }

  /**
   * Runs the cell over a sequence and returns its hidden states (one
   * dispatch, one submit, no host wait). Shapes are checked, and arrays
   * uploaded, before any GPU work.
   */
  forward(args: SequenceArgs): RecurrentSequence {
    const rt = this.runtime;
    const theta = this.params;
    rt.check();
    if (typeof args !== 'object' || args === null) throw new ArgumentError('args', args, 'an object { x, steps, batch, h0?, mask? }');
    const T = checkInt('steps', args.steps, 1);
    const B = checkInt('batch', args.batch, 1);
    const { inputSize: I, hiddenSize: H } = this.spec;
    checkWorkgroups(rt, 'batch', B, B, 'a batch (one workgroup per sample)');
    this.checkBinding('x', args.x, T * B * I * 4, 'inputs');
    this.checkBinding('steps', T, T * B * H * 4, 'hidden states');
    this.checkBinding('steps', T, (T * B * gateColumns(this.spec) + B * H) * 4, 'the backward workspace');
    const owned: Tensor[] = [];
    try {
      const x = this.input('x', args.x, [T, B, I], owned);
      const h0 = args.h0 === undefined ? null : this.input('h0', args.h0, [B, H], owned);
      const mask = args.mask === undefined ? null : this.input('mask', args.mask, [T, B], owned, (m) => m >= 0 && m <= 1, 'a number in [0, 1]');
      const hidden = Tensor.zeros(rt, [T, B, H], 'recurrent hidden states');
      owned.push(hidden);
      const flags = (h0 ? RECURRENT_FLAGS.h0 : 0) | (mask ? RECURRENT_FLAGS.mask : 0);
      const encoder = rt.device.createCommandEncoder({ label: 'recurrent forward' });
      const pass = encoder.beginComputePass({ label: 'recurrent forward' });
      rt.kernel(recurrentKernel, this.spec)
        .bind(
          {
            P: this.buffers.uniforms.get(RECURRENT_PARAMS.pack({ batch: B, steps: T, flags, last_offset: 0 })),
            theta: theta.buffer,
            x: x.buffer,
            h0: h0?.buffer ?? this.buffers.unused,
            mask: mask?.buffer ?? this.buffers.unused,
            hs: hidden.buffer,
            gin: this.buffers.unused,
            work: this.buffers.unusedWritable(0),
            gx: this.buffers.unusedWritable(1),
          },
          'recurrent forward bind group',
        )
        .dispatch(pass, 'forward', B);
      pass.end();
      rt.submit([encoder.finish()]);
      owned.pop();
      return new RecurrentSequence(this, { hidden, steps: T, batch: B, version: this.version, x, h0, mask, owned });
    } catch (e) {
      for (const t of owned) t.destroy();
      throw e;
    }
  }

  /**
   * Backpropagation through time from dL/dh (every step and/or the last):
   * returns dL/dθ, dL/dx and dL/dh0 as new tensors (three dispatches and a
   * copy in one submit, no host wait). The sequence must come from this cell
   * with its current parameters.
   */
  backward(seq: RecurrentSequence, cotangents: SequenceCotangents): SequenceGradients {
    const rt = this.runtime;
    const theta = this.params;
    rt.check();
    if (!(seq instanceof RecurrentSequence) || seq.cell !== this) {
      throw new ArgumentError('seq', describeTensor(seq), 'a RecurrentSequence returned by this cell\'s forward');
    }
    seq.check();
    if (seq.version !== this.version) {
      throw new ArgumentError('seq', 'a sequence run before setParameters', 'a sequence run with the current parameters');
    }
    if (typeof cotangents !== 'object' || cotangents === null || (cotangents.gradHidden === undefined && cotangents.gradLast === undefined)) {
      throw new ArgumentError('cotangents', cotangents, 'an object with gradHidden [steps][batch][hiddenSize] and/or gradLast [batch][hiddenSize]');
    }
    const { steps: T, batch: B } = seq;
    const { inputSize: I, hiddenSize: H } = this.spec;
    const DA = gateColumns(this.spec);
    const owned: Tensor[] = [];
    const made: Tensor[] = [];
    try {
      const all = cotangents.gradHidden === undefined ? null : this.input('gradHidden', cotangents.gradHidden, [T, B, H], owned);
      const last = cotangents.gradLast === undefined ? null : this.input('gradLast', cotangents.gradLast, [B, H], owned);
      let gin: Tensor;
      let flags = (seq.h0 ? RECURRENT_FLAGS.h0 : 0) | (seq.mask ? RECURRENT_FLAGS.mask : 0);
      const encoder = rt.device.createCommandEncoder({ label: 'recurrent backward' });
      let lastOffset = 0;
      if (all && last) {
        // Both in one buffer: every step's rows, then the last step's extra cotangent (the kernel adds both).
        gin = Tensor.zeros(rt, [T * B * H + B * H], 'recurrent cotangents');
        owned.push(gin);
        encoder.copyBufferToBuffer(all.buffer, 0, gin.buffer, 0, T * B * H * 4);
        encoder.copyBufferToBuffer(last.buffer, 0, gin.buffer, T * B * H * 4, B * H * 4);
        flags |= RECURRENT_FLAGS.gradAll | RECURRENT_FLAGS.gradLast;
        lastOffset = T * B * H;
      } else if (all) {
        gin = all;
        flags |= RECURRENT_FLAGS.gradAll;
      } else {
        gin = last as Tensor;
        flags |= RECURRENT_FLAGS.gradLast;
      }
      const work = Tensor.zeros(rt, [T * B * DA + B * H], 'recurrent backward workspace');
      owned.push(work);
      const gParams = Tensor.zeros(rt, [this.parameterCount], 'recurrent dL/dθ');
      made.push(gParams);
      const gInputs = Tensor.zeros(rt, [T, B, I], 'recurrent dL/dx');
      made.push(gInputs);
      const gH0 = Tensor.zeros(rt, [B, H], 'recurrent dL/dh0');
      made.push(gH0);
      const uniform = this.buffers.uniforms.get(RECURRENT_PARAMS.pack({ batch: B, steps: T, flags, last_offset: lastOffset }));
      const pass = encoder.beginComputePass({ label: 'recurrent backward' });
      rt.kernel(recurrentKernel, this.spec)
        .bind(
          {
            P: uniform,
            theta: theta.buffer,
            x: seq.x.buffer,
            h0: seq.h0?.buffer ?? this.buffers.unused,
            mask: seq.mask?.buffer ?? this.buffers.unused,
            hs: seq.hidden.buffer,
            gin: gin.buffer,
            work: work.buffer,
            gx: gInputs.buffer,
          },
          'recurrent backward bind group',
        )
        .dispatch(pass, 'backward', B);
      rt.kernel(recurrentParamsKernel, this.spec)
        .bind(
          { P: uniform, x: seq.x.buffer, h0: seq.h0?.buffer ?? this.buffers.unused, hs: seq.hidden.buffer, work: work.buffer, gtheta: gParams.buffer },
          'recurrent params bind group',
        )
        .dispatch(pass, 'params', recurrentParamsWorkgroups(this.spec));
      pass.end();
      encoder.copyBufferToBuffer(work.buffer, T * B * DA * 4, gH0.buffer, 0, B * H * 4);
      rt.submit([encoder.finish()]);
      return {
        params: gParams,
        inputs: gInputs,
        h0: gH0,
        destroy() {
          gParams.destroy();
          gInputs.destroy();
          gH0.destroy();
        },
      };
    } catch (e) {
      for (const t of made) t.destroy();
      throw e;
    } finally {
      for (const t of owned) t.destroy();
    }
  }

  /** Frees the parameters and the cell's small buffers. Idempotent. */
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

/**
 * torch.nn.GRUCell on the GPU: r = σ(W_ir x + b_ir + W_hr h + b_hr),
 * z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
 * h' = (1 − z) n + z h. Parameters 3H·(I + H + 2).
 */
export class GRUCell extends RecurrentCell {
  constructor(runtime: Runtime, options: RecurrentCellOptions) {
    super(runtime, 'gru', options);
  }
}

/** torch.nn.RNNCell (tanh) on the GPU: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). Parameters H·(I + H + 2). */
export class RNNCell extends RecurrentCell {
  constructor(runtime: Runtime, options: RecurrentCellOptions) {
    super(runtime, 'rnn', options);
  }
}
