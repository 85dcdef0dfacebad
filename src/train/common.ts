/**
 * Small pieces the training modules share: argument checks that throw
 * `ArgumentError` naming the argument, a cache of immutable uniform buffers
 * (one per distinct configuration, so recording the same kernel again costs
 * no upload).
 */
import { ArgumentError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';

/** A short description of a tensor for error messages (what `received` shows). */
export function describeTensor(t: unknown): string {
  if (t instanceof Tensor) return `Tensor '${t.label}' of shape [${t.shape.join(', ')}]`;
  return typeof t === 'object' && t !== null ? (t.constructor?.name ?? 'an object') : String(t);
}

/** Throws unless `v` is an integer ≥ `min`. */
export function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(name, v, `an integer ≥ ${min}`);
  return v;
}

/** Throws unless `v` is a finite number in [min, max] (max exclusive when `openMax`). */
export function checkNumber(name: string, v: unknown, min: number, max = Infinity, openMax = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= min && (openMax ? v < max : v <= max);
  if (!ok) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}${openMax ? ')' : ']'}`;
    throw new ArgumentError(name, v, `a finite number ${range}`);
  }
  return v as number;
}

/** Length of an array-like argument, or -1 when it is not one. */
export function lengthOf(v: unknown): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'object' && 'length' in v && typeof v.length === 'number') return v.length;
  return -1;
}

/** Copies an array-like of finite numbers into a Float32Array; throws naming the first bad element. */
export function finiteFloat32(name: string, v: ArrayLike<number>, n: number): Float32Array {
  if (lengthOf(v) !== n) throw new ArgumentError(name, v, `${n} numbers`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new ArgumentError(`${name}[${i}]`, x, 'a finite number');
    out[i] = x;
  }
  return out;
}

/** Throws unless `workgroups` fits one dimension of a dispatch on this device. */
export function checkWorkgroups(rt: Runtime, name: string, received: unknown, workgroups: number, what: string): void {
  const max = rt.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups > max) {
    throw new ArgumentError(name, received, `${what} that fit ${max} workgroups per dispatch (needs ${workgroups})`);
  }
}

/**
 * Uniform buffers holding immutable values, one per distinct packed content:
 * a kernel recorded again with the same sizes and offsets reuses its buffer,
 * and two recordings with different values in one command buffer never
 * overwrite each other.
 */
export class UniformCache {
  private readonly rt: Runtime;
  private readonly label: string;
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(rt: Runtime, label: string) {
    this.rt = rt;
    this.label = label;
  }

  /** The buffer holding `bytes` (created and written on the first request). */
  get(bytes: ArrayBuffer): GPUBuffer {
    const key = Array.from(new Uint32Array(bytes)).join(',');
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = this.rt.createBuffer(`${this.label} params`, bytes.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      this.rt.device.queue.writeBuffer(buffer, 0, bytes);
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  destroy(): void {
    for (const b of this.buffers.values()) this.rt.destroyBuffer(b);
    this.buffers.clear();
  }
}

/**
 * The small buffers a layer's kernels bind besides its data: uniforms by
 * content (`uniforms`), a 16-byte read-only stand-in for the bindings an
 * entry point does not use (`unused`), and distinct writable stand-ins,
 * made on first use (two writable bindings of one dispatch may not share a
 * buffer). `destroy()` frees them all.
 */
export class LayerBuffers {
  readonly uniforms: UniformCache;
  readonly unused: GPUBuffer;
  private readonly spare: GPUBuffer[] = [];

  constructor(
    private readonly rt: Runtime,
    private readonly label: string,
  ) {
    this.uniforms = new UniformCache(rt, label);
    this.unused = rt.createBuffer(`${label} unused binding`, 16, GPUBufferUsage.STORAGE);
  }

  /** The i-th writable stand-in. */
  unusedWritable(i = 0): GPUBuffer {
    while (this.spare.length <= i) {
      this.spare.push(this.rt.createBuffer(`${this.label} unused writable binding`, 16, GPUBufferUsage.STORAGE));
    }
    return this.spare[i];
  }

  destroy(): void {
    this.uniforms.destroy();
    this.rt.destroyBuffer(this.unused);
    for (const b of this.spare) this.rt.destroyBuffer(b);
    this.spare.length = 0;
  }
}
