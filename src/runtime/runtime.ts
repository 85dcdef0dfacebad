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
import { ArgumentError, DestroyedError, DeviceLostError, WebGPUUnavailableError } from '../errors';
import { type KernelDef, specKey } from '../wgsl/kernel';
import { Kernel } from './kernel';

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /** Use this device instead of requesting one (webode never destroys a device it did not create). */
  device?: GPUDevice;
  /**
   * The WebGPU entry point to request the adapter from. Default
   * `navigator.gpu`; in Node, Dawn's: `create([])` from the `webgpu` package
   * (after `Object.assign(globalThis, globals)` from the same package).
   */
  gpu?: GPU;
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

/** Where an adapter computes: on the CPU (SwiftShader, a fallback adapter) or on a GPU. */
export type AdapterKind = 'cpu' | 'gpu';

/**
 * The kind of an adapter from its description: 'cpu' for SwiftShader (the
 * CPU Vulkan that Chrome and Dawn fall back to) or an adapter that says it
 * is a fallback, 'gpu' otherwise, including when nothing is known.
 */
export function adapterKind(info: GPUAdapterInfo | null): AdapterKind {
  if (!info) return 'gpu';
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return fallback || info.architecture === 'swiftshader' || info.device === 'swiftshader' ? 'cpu' : 'gpu';
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

/**
 * How long a failed host wait waits for `device.lost` to resolve before
 * passing the map's own error on (see `Runtime.explainFailedWait`); the queue
 * draining ends the wait sooner in every case seen.
 */
const LOST_GRACE_MS = 10_000;

/** The features of WebGPU webode needs explained to a user who lacks it. */
const ENABLE_WEBGPU_HINT =
  'WebGPU is required: use a recent Chrome, Edge or Firefox over https or http://localhost; ' +
  'on Linux enable chrome://flags/#enable-unsafe-webgpu (and Vulkan), or start Chromium with ' +
  '--enable-unsafe-webgpu --enable-features=Vulkan';

/** The limits webode asks a device for: the adapter's own, where the defaults are smaller. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
] as const;

/** `requiredLimits` for a device that gets the adapter's values of REQUESTED_LIMITS. */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  return Object.fromEntries(REQUESTED_LIMITS.map((name) => [name, adapter.limits[name]]));
}

/**
 * Creates a runtime on a new device (from `options.gpu`, default `navigator.gpu`) or on a device the
 * caller already has. Rejects with `WebGPUUnavailableError` when WebGPU is
 * missing or no adapter can be found.
 */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('options', options, 'an object { device?, gpu?, powerPreference?, debugShaders?, onUncapturedError? }');
  }
  if (options.onUncapturedError !== undefined && typeof options.onUncapturedError !== 'function') {
    throw new ArgumentError('options.onUncapturedError', options.onUncapturedError, 'a function (error: GPUError) => void');
  }
  if (options.device !== undefined) {
    const isDevice = typeof GPUDevice !== 'undefined' ? options.device instanceof GPUDevice : typeof options.device === 'object';
    if (!isDevice) throw new ArgumentError('options.device', options.device, 'a GPUDevice');
    return new Runtime(options.device, null, false, options);
  }
  if (options.gpu !== undefined && typeof (options.gpu as Partial<GPU> | null)?.requestAdapter !== 'function') {
    throw new ArgumentError('options.gpu', options.gpu, "a WebGPU GPU object (navigator.gpu, or Dawn's create([]) in Node)");
  }
  const gpu: GPU | undefined = options.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu) {
    throw new WebGPUUnavailableError(
      `navigator.gpu is not available. ${ENABLE_WEBGPU_HINT}; in Node, pass createRuntime({ gpu }) with Dawn's GPU from the webgpu package`,
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
  } catch (e) {
    throw new WebGPUUnavailableError(`requesting a WebGPU adapter failed (${String(e)}). ${ENABLE_WEBGPU_HINT}`);
  }
  if (!adapter) {
    throw new WebGPUUnavailableError(
      `no WebGPU adapter was found (requestAdapter() returned null: WebGPU is disabled or the GPU is blocklisted). ${ENABLE_WEBGPU_HINT}`,
    );
  }
  // Ask for the adapter's own storage limits: batches and wide layers need them.
  const want = adapterLimits(adapter);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits: want, label: 'webode device' });
  } catch (e) {
    throw new WebGPUUnavailableError(`the WebGPU adapter refused a device: ${String(e)}. ${ENABLE_WEBGPU_HINT}`);
  }
  return new Runtime(device, adapter.info ?? null, true, options, gpu);
}

/** A GPU device with webode's caches, counters and error handling. */
export class Runtime {
  /** The WebGPU device everything runs on. */
  readonly device: GPUDevice;
  /** The device's limits (what webode checks sizes against). */
  readonly limits: GPUSupportedLimits;
  /** Adapter description when the runtime requested the adapter itself. */
  readonly adapterInfo: GPUAdapterInfo | null;
  /**
   * Where the adapter computes (`adapterKind`): 'cpu' for SwiftShader or a
   * fallback adapter, 'gpu' otherwise (also when the adapter is unknown).
   * Defaults that depend on how many invocations fill the device follow it.
   */
  readonly adapterKind: AdapterKind;
  /** Uncaptured WebGPU errors seen on this device (also passed to `onUncapturedError`). */
  readonly errors: GPUError[] = [];
  /** Buffers, bytes, host waits, submits and dispatches so far. */
  readonly counters: RuntimeCounters = {
    hostWaits: 0,
    submits: 0,
    dispatches: 0,
    pipelinesCompiled: 0,
    liveBytes: 0,
    liveBuffers: 0,
  };
  /** Print every generated WGSL module (`RuntimeOptions.debugShaders`). */
  readonly debugShaders: boolean;
  private readonly ownsDevice: boolean;
  private readonly cache: DeviceCache;
  /** Kernels made on this runtime (their pipelines live in the per-device cache; their dispatches count here). */
  private readonly kernels = new Map<string, Kernel<string, string>>();
  private lostError: DeviceLostError | null = null;
  private destroyed = false;
  private readonly lostPromise: Promise<DeviceLostError>;
  private readonly buffers = new Map<GPUBuffer, number>();
  private readonly errorListener: (ev: GPUUncapturedErrorEvent) => void;

  /**
   * The GPU object the device came from, held for the runtime's lifetime: in
   * Node, Dawn's instance must outlive its devices (a `createRuntime({ gpu:
   * create([]) })` whose GPU object was collected crashed the process).
   */
  private readonly gpu: GPU | null;

  constructor(device: GPUDevice, adapterInfo: GPUAdapterInfo | null, ownsDevice: boolean, options: RuntimeOptions, gpu: GPU | null = null) {
    this.gpu = gpu;
    this.device = device;
    this.limits = device.limits;
    this.adapterInfo = adapterInfo;
    this.adapterKind = adapterKind(adapterInfo ?? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo ?? null);
    this.ownsDevice = ownsDevice;
    this.debugShaders = options.debugShaders ?? false;
    this.cache = cacheFor(device);
    this.lostPromise = device.lost.then((info) => {
      const error = new DeviceLostError(info.reason, info.message);
      // Our own destroy() ends the device too; that is not a loss (check() reports DestroyedError).
      if (!this.destroyed) this.lostError = error;
      return error;
    });
    const onError = options.onUncapturedError;
    this.errorListener = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error);
      if (onError) onError(ev.error);
      else console.error(`webode: uncaptured WebGPU error: ${ev.error.message}`);
    };
    device.addEventListener('uncapturederror', this.errorListener);
  }

  /**
   * True once the device has been lost (not by this runtime's own `destroy()`):
   * every pending and further call rejects with the same `DeviceLostError`.
   */
  get lost(): boolean {
    return this.lostError !== null;
  }

  /** Throws if the runtime cannot be used (destroyed or device lost). */
  check(): void {
    if (this.destroyed) throw new DestroyedError('Runtime');
    if (this.lostError) throw this.lostError;
  }

  /**
   * The kernel `def` specialised to `spec` on this device (cached by the
   * definition's name and the spec's canonical text): its pipelines compile
   * on first use; `bind` names the buffers; dispatches are counted.
   *
   * @internal
   */
  kernel<S, B extends string, E extends string>(def: KernelDef<S, B, E>, spec: S): Kernel<B, E> {
    const key = `${def.name}|${specKey(spec)}`;
    let hit = this.kernels.get(key) as Kernel<B, E> | undefined;
    if (!hit) {
      hit = new Kernel<B, E>(this, def as KernelDef<unknown, B, E>, spec, key);
      this.kernels.set(key, hit as unknown as Kernel<string, string>);
    }
    return hit;
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

  /**
   * Creates a labelled, counted buffer. Destroy it with `destroyBuffer`.
   *
   * The last line of defence against requests beyond the device's limits:
   * webode always binds whole buffers, so a storage buffer larger than
   * `maxStorageBufferBindingSize` (or any buffer larger than `maxBufferSize`)
   * could only produce a WebGPU validation error deep inside a solve and
   * silently wrong results. It is refused here with an `ArgumentError` that
   * names the buffer and the limit, before the buffer exists. (Callers should
   * check the sizes the user controls first, naming the user's argument.)
   */
  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.check();
    // WebGPU requires sizes that are multiples of 4; zero-size bindings are invalid.
    const bytes = Math.max(16, Math.ceil(size / 16) * 16);
    const bindingLimited =
      (usage & GPUBufferUsage.STORAGE) !== 0 && this.limits.maxStorageBufferBindingSize < this.limits.maxBufferSize;
    const limitName = bindingLimited ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
    const limit = this.limits[limitName];
    if (!(bytes <= limit)) {
      throw new ArgumentError(
        `size of the GPU buffer "${label}"`,
        size,
        `at most ${limit} bytes, the device's ${limitName}; use a smaller batch, fewer output times or a smaller model, or a device with a larger ${limitName}`,
      );
    }
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
   * the `DeviceLostError` if the device is lost first (or `DestroyedError` if
   * the runtime is destroyed meanwhile).
   */
  async wait<T>(promise: Promise<T>): Promise<T> {
    this.check();
    this.counters.hostWaits++;
    const lost: Promise<never> = this.lostPromise.then((e) => Promise.reject(e));
    let result: T;
    try {
      result = await Promise.race([promise, lost]);
    } catch (e) {
      throw await this.explainFailedWait(e);
    }
    this.check();
    return result;
  }

  /**
   * The error a failed host wait should raise. When a device is lost (or
   * `device.destroy()` is called) its pending maps abort at once with a bare
   * `AbortError`, but `device.lost` resolves only once the device has
   * finished the work already submitted (measured: seconds later on
   * SwiftShader). So on a failed map, wait for the queue to drain (or the
   * loss), and report the loss if there was one; any other failure is
   * passed on unchanged.
   */
  private async explainFailedWait(error: unknown): Promise<unknown> {
    if (this.destroyed) return new DestroyedError('Runtime');
    if (this.lostError) return this.lostError;
    const drained = this.device.queue
      .onSubmittedWorkDone()
      .then(
        () => undefined,
        () => undefined,
      )
      // One more task, so a loss reported together with the drain is seen first.
      .then(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LOST_GRACE_MS)));
    await Promise.race([this.lostPromise, drained, timeout]);
    clearTimeout(timer);
    if (this.destroyed) return new DestroyedError('Runtime');
    return this.lostError ?? error;
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
