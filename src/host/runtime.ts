/**
 * The runtime: one GPU device, its limits, the per-device pipeline cache, and
 * the handling of device loss and uncaptured WebGPU errors.
 *
 * Every GPU buffer webode allocates goes through `Runtime.createBuffer`, so the
 * runtime knows the live bytes it owns (tests use this to prove memory stays
 * flat) and every buffer carries a label. Every host wait (mapAsync) goes
 * through `Runtime.wait`, so it is counted and it rejects with a
 * `DeviceLostError` if the device is lost while waiting.
 */
import { DestroyedError, DeviceLostError, WebGPUUnavailableError } from './errors';

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /** Use this device instead of requesting one (webode never destroys a device it did not create). */
  device?: GPUDevice;
  /** Adapter preference when webode requests the adapter itself. */
  powerPreference?: GPUPowerPreference;
  /** Print every generated WGSL module to the console when it is compiled. */
  debugShaders?: boolean;
  /**
   * Called for every uncaptured WebGPU error (validation, out-of-memory,
   * internal). By default such errors are logged with `console.error` and
   * kept in `runtime.errors`.
   */
  onUncapturedError?: (error: GPUError) => void;
}

/** Counters a runtime keeps; read them to check how a solve used the GPU. */
export interface RuntimeCounters {
  /** Host waits on the GPU (buffer maps) issued by webode. */
  hostWaits: number;
  /** Queue submissions issued by webode. */
  submits: number;
  /** Compute dispatches recorded by webode. */
  dispatches: number;
  /** Compute pipelines compiled (cache misses). */
  pipelinesCompiled: number;
  /** Bytes of GPU buffers currently alive that webode allocated on this runtime. */
  liveBytes: number;
  /** Number of GPU buffers currently alive that webode allocated on this runtime. */
  liveBuffers: number;
}

interface DeviceCache {
  pipelines: Map<string, GPUComputePipeline>;
  modules: Map<string, GPUShaderModule>;
}

/** Per-device caches, shared by every runtime that wraps the same device. */
const deviceCaches = new WeakMap<GPUDevice, DeviceCache>();

function cacheFor(device: GPUDevice): DeviceCache {
  let cache = deviceCaches.get(device);
  if (!cache) {
    cache = { pipelines: new Map(), modules: new Map() };
    deviceCaches.set(device, cache);
  }
  return cache;
}

/** The features of WebGPU webode needs explained to a user who lacks it. */
const ENABLE_WEBGPU_HINT =
  'WebGPU is required: use a recent Chrome, Edge or Firefox over https or http://localhost; ' +
  'on Linux enable chrome://flags/#enable-unsafe-webgpu (and Vulkan), or start Chromium with ' +
  '--enable-unsafe-webgpu --enable-features=Vulkan';

/**
 * Creates a runtime on a new device (from `navigator.gpu`) or on a device the
 * caller already has. Rejects with `WebGPUUnavailableError` when WebGPU is
 * missing or no adapter can be found.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  if (options.device) return new Runtime(options.device, null, false, options);
  const gpu: GPU | undefined = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  if (!gpu) throw new WebGPUUnavailableError(`navigator.gpu is not available. ${ENABLE_WEBGPU_HINT}`);
  const adapter = await gpu.requestAdapter(
    options.powerPreference ? { powerPreference: options.powerPreference } : undefined,
  );
  if (!adapter) throw new WebGPUUnavailableError(`no WebGPU adapter was found. ${ENABLE_WEBGPU_HINT}`);
  // Ask for the adapter's own storage limits: batches and wide layers need them.
  const want: Record<string, number> = {};
  for (const name of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
  ] as const) {
    want[name] = adapter.limits[name];
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits: want, label: 'webode device' });
  } catch (e) {
    throw new WebGPUUnavailableError(`the WebGPU adapter refused a device: ${String(e)}`);
  }
  return new Runtime(device, adapter.info ?? null, true, options);
}

/** A GPU device with webode's caches, counters and error handling. */
export class Runtime {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  /** Adapter description when the runtime requested the adapter itself. */
  readonly adapterInfo: GPUAdapterInfo | null;
  /** Uncaptured WebGPU errors seen on this device (also passed to `onUncapturedError`). */
  readonly errors: GPUError[] = [];
  readonly counters: RuntimeCounters = {
    hostWaits: 0,
    submits: 0,
    dispatches: 0,
    pipelinesCompiled: 0,
    liveBytes: 0,
    liveBuffers: 0,
  };
  readonly debugShaders: boolean;
  private readonly ownsDevice: boolean;
  private readonly cache: DeviceCache;
  private lostError: DeviceLostError | null = null;
  private destroyed = false;
  private readonly lostPromise: Promise<DeviceLostError>;
  private readonly buffers = new Map<GPUBuffer, number>();
  private readonly errorListener: (ev: GPUUncapturedErrorEvent) => void;

  constructor(device: GPUDevice, adapterInfo: GPUAdapterInfo | null, ownsDevice: boolean, options: RuntimeOptions) {
    this.device = device;
    this.limits = device.limits;
    this.adapterInfo = adapterInfo;
    this.ownsDevice = ownsDevice;
    this.debugShaders = options.debugShaders ?? false;
    this.cache = cacheFor(device);
    this.lostPromise = device.lost.then((info) => {
      this.lostError = new DeviceLostError(info.reason, info.message || 'no message');
      return this.lostError;
    });
    const onError = options.onUncapturedError;
    this.errorListener = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error);
      if (onError) onError(ev.error);
      else console.error(`webode: uncaptured WebGPU error: ${ev.error.message}`);
    };
    device.addEventListener('uncapturederror', this.errorListener);
  }

  /** True once the device has been lost; every further GPU call rejects. */
  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Throws if the runtime cannot be used (destroyed or device lost). */
  check(): void {
    if (this.destroyed) throw new DestroyedError('Runtime');
    if (this.lostError) throw this.lostError;
  }

  /**
   * Returns the cached compute pipeline for `key`, compiling it on a miss.
   * `build` gives the WGSL, its entry point and optionally an explicit layout
   * (otherwise 'auto'); modules are cached by their source text, so entry
   * points of one module compile it once.
   */
  pipeline(
    key: string,
    label: string,
    build: () => { code: string; entryPoint: string; layout?: GPUPipelineLayout },
  ): GPUComputePipeline {
    const hit = this.cache.pipelines.get(key);
    if (hit) return hit;
    const { code, entryPoint, layout } = build();
    let module = this.cache.modules.get(code);
    if (!module) {
      if (this.debugShaders) console.log(`webode: WGSL for ${label} (${key})\n${code}`);
      module = this.device.createShaderModule({ code, label: `${label} module` });
      this.cache.modules.set(code, module);
    }
    const pipeline = this.device.createComputePipeline({
      label,
      layout: layout ?? 'auto',
      compute: { module, entryPoint },
    });
    this.cache.pipelines.set(key, pipeline);
    this.counters.pipelinesCompiled++;
    return pipeline;
  }

  /** Creates a labelled, counted buffer. Destroy it with `destroyBuffer`. */
  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.check();
    // WebGPU requires sizes that are multiples of 4; zero-size bindings are invalid.
    const bytes = Math.max(16, Math.ceil(size / 16) * 16);
    const buffer = this.device.createBuffer({ label, size: bytes, usage });
    this.buffers.set(buffer, bytes);
    this.counters.liveBytes += bytes;
    this.counters.liveBuffers++;
    return buffer;
  }

  /** Destroys a buffer made by `createBuffer` (idempotent). */
  destroyBuffer(buffer: GPUBuffer): void {
    const bytes = this.buffers.get(buffer);
    if (bytes === undefined) return;
    this.buffers.delete(buffer);
    this.counters.liveBytes -= bytes;
    this.counters.liveBuffers--;
    buffer.destroy();
  }

  /** Submits command buffers, counting the submission. */
  submit(commands: GPUCommandBuffer[]): void {
    this.check();
    this.device.queue.submit(commands);
    this.counters.submits++;
  }

  /**
   * Waits for a GPU promise (a map), counting the host wait, and rejects with
   * the `DeviceLostError` if the device is lost first.
   */
  async wait<T>(promise: Promise<T>): Promise<T> {
    this.check();
    this.counters.hostWaits++;
    const lost: Promise<never> = this.lostPromise.then((e) => Promise.reject(e));
    const result: T = await Promise.race([promise, lost]);
    this.check();
    return result;
  }

  /** Copies `size` bytes of `buffer` from `offset` to the host (one host wait). */
  async readBuffer(buffer: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    this.check();
    const aligned = Math.ceil(size / 4) * 4;
    const staging = this.createBuffer('webode readback', aligned, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const encoder = this.device.createCommandEncoder({ label: 'webode readback' });
      encoder.copyBufferToBuffer(buffer, offset, staging, 0, aligned);
      this.submit([encoder.finish()]);
      await this.wait(staging.mapAsync(GPUMapMode.READ, 0, aligned));
      const copy = staging.getMappedRange(0, aligned).slice(0, size);
      staging.unmap();
      return copy;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  /**
   * Destroys every buffer this runtime still owns and, if the runtime created
   * its device, the device. Idempotent.
   */
  destroy(): void {
    if (this.destroyed) return;
    for (const buffer of [...this.buffers.keys()]) this.destroyBuffer(buffer);
    this.device.removeEventListener('uncapturederror', this.errorListener);
    this.destroyed = true;
    if (this.ownsDevice) this.device.destroy();
  }

  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }
}
