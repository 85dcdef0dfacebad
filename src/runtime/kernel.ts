/**
 * A kernel definition (src/wgsl/kernel.ts) made real on a device: its
 * pipelines, one per entry point and compiled on first use through the
 * runtime's per-device cache under a key derived from the definition's name
 * and the spec; its bind-group layout, shared by every entry point; named
 * binds; and the one place dispatches are recorded and counted.
 */
import { type Binding, type KernelDef, bindingNames, bufferBindingType, kernelWgsl } from '../wgsl/kernel';

/** What a compiled kernel needs of its runtime (the Runtime class implements it). */
export interface KernelHost {
  readonly device: GPUDevice;
  readonly counters: { dispatches: number };
  pipeline(key: string, label: string, build: () => { code: string; entryPoint: string; layout?: GPUPipelineLayout }): GPUComputePipeline;
}

/** A buffer to bind: a whole buffer, or a range of one. */
export type BufferResource = GPUBuffer | GPUBufferBinding;

const layouts = new WeakMap<GPUDevice, Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>>();

function layoutFor(device: GPUDevice, name: string, bindings: readonly Binding[]): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
  let perDevice = layouts.get(device);
  if (!perDevice) layouts.set(device, (perDevice = new Map()));
  const types = bindings.map((b) => bufferBindingType(b.access));
  const key = `${name}|${types.join(',')}`;
  let hit = perDevice.get(key);
  if (!hit) {
    const group = device.createBindGroupLayout({
      label: `${name} bind group layout`,
      entries: types.map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
    });
    hit = { group, pipeline: device.createPipelineLayout({ label: `${name} layout`, bindGroupLayouts: [group] }) };
    perDevice.set(key, hit);
  }
  return hit;
}

function isBuffer(r: BufferResource): r is GPUBuffer {
  return typeof (r as GPUBuffer).mapAsync === 'function';
}

/** A kernel for one spec on one device. Get it from `Runtime.kernel(def, spec)`. */
export class Kernel<B extends string, E extends string> {
  /** The bind-group layout every entry point shares. */
  readonly layout: GPUBindGroupLayout;
  private readonly pipelineLayout: GPUPipelineLayout;
  private readonly names: readonly B[];
  private readonly pipelines = new Map<E, GPUComputePipeline>();

  constructor(
    private readonly host: KernelHost,
    private readonly def: KernelDef<unknown, B, E>,
    private readonly spec: unknown,
    /** The cache key of the module: the definition's name and the spec's canonical text. */
    readonly key: string,
  ) {
    const bindings = def.bindings(spec);
    this.names = bindingNames(bindings);
    const made = layoutFor(host.device, def.name, this.names.map((n) => bindings[n]));
    this.layout = made.group;
    this.pipelineLayout = made.pipeline;
  }

  /** The pipeline of an entry point (compiled on first use, then cached per device). */
  pipeline(entry: E): GPUComputePipeline {
    let p = this.pipelines.get(entry);
    if (!p) {
      if (!this.def.entryPoints.includes(entry)) throw new Error(`kernel ${this.def.name} has no entry point ${entry}`);
      p = this.host.pipeline(`${this.key}|${entry}`, `${this.def.name} ${entry}`, () => ({
        code: kernelWgsl(this.def, this.spec),
        entryPoint: entry,
        layout: this.pipelineLayout,
      }));
      this.pipelines.set(entry, p);
    }
    return p;
  }

  /** A bind group of these buffers, each under its binding's name. */
  bind(buffers: Readonly<Record<B, BufferResource>>, label = `${this.def.name} bind group`): BoundKernel<E> {
    const entries = this.names.map((name, binding) => {
      const r = buffers[name];
      if (r === undefined) throw new Error(`kernel ${this.def.name}: no buffer for binding ${name}`);
      return { binding, resource: isBuffer(r) ? { buffer: r } : r };
    });
    const extra = Object.keys(buffers).filter((k) => !this.names.includes(k as B));
    if (extra.length) throw new Error(`kernel ${this.def.name} has no binding ${extra.join(', ')}`);
    return new BoundKernel(this, this.host.device.createBindGroup({ label, layout: this.layout, entries }), this.host.counters);
  }
}

/** A kernel with its buffers bound: records counted dispatches of any entry point. */
export class BoundKernel<E extends string> {
  constructor(
    private readonly kernel: Kernel<string, E>,
    /** The bind group (binding order from the definition). */
    readonly group: GPUBindGroup,
    private readonly counters: { dispatches: number },
  ) {}

  /** Records `entry` over x × y × z workgroups. */
  dispatch(pass: GPUComputePassEncoder, entry: E, x: number, y = 1, z = 1): void {
    pass.setPipeline(this.kernel.pipeline(entry));
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
  }

  /** Records `entry` over the workgroup counts at `offset` bytes of `indirect`. */
  dispatchIndirect(pass: GPUComputePassEncoder, entry: E, indirect: GPUBuffer, offset = 0): void {
    pass.setPipeline(this.kernel.pipeline(entry));
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroupsIndirect(indirect, offset);
    this.counters.dispatches++;
  }
}
