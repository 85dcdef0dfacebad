/**
 * GPU-resident float32 arrays. A `Tensor` owns one storage buffer and knows
 * its shape; data moves to the host only when `read()` is called, so the
 * output of one solve can feed the next without a round trip.
 */
import { ArgumentError, DestroyedError } from '../errors';
import type { Runtime } from './runtime';

/**
 * Usage flags of every tensor buffer: readable and writable by kernels,
 * copyable both ways (GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST). Written
 * as the numbers the WebGPU spec fixes, because the `GPUBufferUsage`
 * namespace does not exist in a browser without WebGPU (or on a page that is
 * not a secure context), and importing webode there must still work so that
 * `createRuntime` can reject with a `WebGPUUnavailableError` saying what to
 * enable, instead of the import failing with a ReferenceError.
 */
export const TENSOR_USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkShape(shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new ArgumentError('shape', shape, 'an array of non-negative integer sizes');
  }
}

/** A float32 array on the GPU, row-major with the given shape. */
export class Tensor {
  /** The runtime the buffer belongs to. */
  readonly runtime: Runtime;
  /** The shape, row-major. */
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
  /** The label of the GPU buffer (shown in WebGPU errors). */
  readonly label: string;
  private gpuBuffer: GPUBuffer | null;

  /** Wraps a buffer made by `runtime.createBuffer`; the tensor takes ownership of it. */
  constructor(runtime: Runtime, buffer: GPUBuffer, shape: readonly number[], label: string) {
    this.runtime = runtime;
    this.shape = Object.freeze([...shape]);
    this.size = product(shape);
    this.label = label;
    this.gpuBuffer = buffer;
  }

  /** Allocates a zero-filled tensor. */
  static zeros(runtime: Runtime, shape: readonly number[], label = 'tensor'): Tensor {
    checkShape(shape);
    const buffer = runtime.createBuffer(label, product(shape) * 4, TENSOR_USAGE);
    return new Tensor(runtime, buffer, shape, label);
  }

  /** Uploads `data` (length must equal the product of `shape`). */
  static fromArray(runtime: Runtime, data: ArrayLike<number>, shape: readonly number[], label = 'tensor'): Tensor {
    checkShape(shape);
    const n = product(shape);
    if (!data || typeof data.length !== 'number' || data.length !== n) {
      throw new ArgumentError('data', data, `${n} values for shape [${shape.join(', ')}]`);
    }
    const t = Tensor.zeros(runtime, shape, label);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    runtime.device.queue.writeBuffer(t.buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    return t;
  }

  /**
   * The underlying buffer (its size is rounded up to 16 bytes). Throws
   * `DestroyedError` after `destroy()` or after its runtime's `destroy()`
   * (which frees every buffer of the runtime).
   */
  get buffer(): GPUBuffer {
    if (!this.gpuBuffer) throw new DestroyedError(`Tensor "${this.label}"`);
    if (this.runtime.isDestroyed) throw new DestroyedError(`Tensor "${this.label}"`, 'its Runtime was destroyed');
    return this.gpuBuffer;
  }

  /** True after `destroy()`, or after its runtime's `destroy()`. */
  get isDestroyed(): boolean {
    return this.gpuBuffer === null || this.runtime.isDestroyed;
  }

  /** Copies the tensor to the host (one host wait). */
  async read(): Promise<Float32Array> {
    const buffer = this.buffer;
    this.runtime.check();
    const bytes = await this.runtime.readBuffer(buffer, 0, this.size * 4);
    return new Float32Array(bytes);
  }

  /** Overwrites the tensor with `data` (same number of elements). */
  write(data: ArrayLike<number>): void {
    const buffer = this.buffer;
    this.runtime.check();
    if (!data || typeof data.length !== 'number' || data.length !== this.size) {
      throw new ArgumentError('data', data, `${this.size} values for shape [${this.shape.join(', ')}]`);
    }
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    this.runtime.device.queue.writeBuffer(buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
  }

  /**
   * Throws unless this tensor can be used by a kernel on `runtime`'s device:
   * not destroyed (`DestroyedError`) and on the same device (`ArgumentError`
   * naming `argument`; WebGPU would raise a validation error deep inside).
   */
  checkUsableOn(runtime: Runtime, argument: string): void {
    void this.buffer;
    if (this.runtime.device !== runtime.device) {
      throw new ArgumentError(argument, this, `a Tensor on the same GPU device as the MLP (this one belongs to another runtime's device)`);
    }
  }

  /** Frees the GPU memory. Idempotent. */
  destroy(): void {
    if (!this.gpuBuffer) return;
    this.runtime.destroyBuffer(this.gpuBuffer);
    this.gpuBuffer = null;
  }
}

/**
 * Checks an argument given as a `Tensor` or as an array of exactly `n`
 * values: a tensor of `n` elements usable on `runtime`, or an array of `n`
 * finite numbers. Throws `ArgumentError` naming the argument (`expected`
 * says what it should hold) or its first bad element.
 */
export function checkGivenValues(runtime: Runtime, argument: string, value: unknown, n: number, expected: string): void {
  const len =
    value instanceof Tensor ? value.size : value && typeof (value as ArrayLike<number>).length === 'number' ? (value as ArrayLike<number>).length : -1;
  if (len !== n) throw new ArgumentError(argument, value, expected);
  if (value instanceof Tensor) {
    value.checkUsableOn(runtime, argument);
    return;
  }
  const values = value as ArrayLike<unknown>;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${argument}[${i}]`, v, 'a finite number');
  }
}
