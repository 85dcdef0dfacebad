/**
 * GPU-resident float32 arrays. A `Tensor` owns one storage buffer and knows
 * its shape; data moves to the host only when `read()` is called, so the
 * output of one solve can feed the next without a round trip.
 */
import { ArgumentError, DestroyedError } from './errors';
import type { Runtime } from './runtime';

/** Usage flags of every tensor buffer: readable and writable by kernels, copyable both ways. */
export const TENSOR_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A float32 array on the GPU, row-major with the given shape. */
export class Tensor {
  readonly runtime: Runtime;
  readonly shape: readonly number[];
  /** Number of elements. */
  readonly size: number;
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
    for (const n of shape) {
      if (!Number.isInteger(n) || n < 0) throw new ArgumentError('shape', shape, 'non-negative integer sizes');
    }
    const buffer = runtime.createBuffer(label, product(shape) * 4, TENSOR_USAGE);
    return new Tensor(runtime, buffer, shape, label);
  }

  /** Uploads `data` (length must equal the product of `shape`). */
  static fromArray(runtime: Runtime, data: ArrayLike<number>, shape: readonly number[], label = 'tensor'): Tensor {
    const n = product(shape);
    if (data.length !== n) {
      throw new ArgumentError('data', data, `${n} values for shape [${shape.join(', ')}]`);
    }
    const t = Tensor.zeros(runtime, shape, label);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    runtime.device.queue.writeBuffer(t.buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
    return t;
  }

  /** The underlying buffer (its size is rounded up to 16 bytes). Throws after `destroy()`. */
  get buffer(): GPUBuffer {
    if (!this.gpuBuffer) throw new DestroyedError(`Tensor "${this.label}"`);
    return this.gpuBuffer;
  }

  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return this.gpuBuffer === null;
  }

  /** Copies the tensor to the host (one host wait). */
  async read(): Promise<Float32Array> {
    const bytes = await this.runtime.readBuffer(this.buffer, 0, this.size * 4);
    return new Float32Array(bytes);
  }

  /** Overwrites the tensor with `data` (same number of elements). */
  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) {
      throw new ArgumentError('data', data, `${this.size} values for shape [${this.shape.join(', ')}]`);
    }
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    this.runtime.check();
    this.runtime.device.queue.writeBuffer(this.buffer, 0, f32.buffer, f32.byteOffset, f32.byteLength);
  }

  /** Frees the GPU memory. Idempotent. */
  destroy(): void {
    if (!this.gpuBuffer) return;
    this.runtime.destroyBuffer(this.gpuBuffer);
    this.gpuBuffer = null;
  }
}
