/**
 * Experiment page: exposes `window.exp.run(section, options)` to
 * bench/experiments/run.mjs. Not part of the library or of `npm run bench`.
 */
import { type ForwardOptions, type Table, VARIANTS, forwardSection, initTheta } from './forward';
import { type Gpu, openGpu } from './gpu';
import { type IntegrateOptions, integrateSection } from './integrate';
import { type ProxyOptions, proxySection } from './proxy';
import { tanhSection } from './tanh';
import { type VjpOptions, vjpSection } from './vjp';

let gpu: Gpu | null = null;

/** The WGSL of some forward variants (for reading, not timing). */
function dump(o: { layers: number[]; ids: string[] }): { tables: Table[]; data: unknown } {
  const spec = { layers: o.layers, activation: 'tanh' as const, timeInput: false };
  const theta = initTheta(o.layers, 1);
  const data = VARIANTS.filter(([id]) => o.ids.includes(id)).map(([id, make]) => ({ id, code: make(spec, theta).code }));
  return { tables: [], data };
}
const log = (m: string) => console.info(`exp: ${m}`);

declare global {
  interface Window {
    exp: {
      info(): Promise<unknown>;
      run(name: string, options: unknown): Promise<{ tables: Table[]; data: unknown; error: string | null; gpuErrors: string[]; ms: number }>;
    };
    expReady: boolean;
  }
}

window.exp = {
  async info() {
    gpu ??= await openGpu();
    const a = gpu.adapterInfo;
    const l = gpu.device.limits;
    return {
      adapter: a ? { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description } : null,
      limits: { wgStorage: l.maxComputeWorkgroupStorageSize, uniform: l.maxUniformBufferBindingSize },
      userAgent: navigator.userAgent,
    };
  },
  async run(name, options) {
    gpu ??= await openGpu();
    const g = gpu;
    const before = g.errors.length;
    g.device.pushErrorScope('validation');
    const t0 = performance.now();
    let tables: Table[] = [];
    let data: unknown = null;
    let error: string | null = null;
    try {
      const r =
        name === 'forward'
          ? await forwardSection(g, options as ForwardOptions, log)
          : name === 'tanh'
            ? await tanhSection(g, log)
            : name === 'integrate'
              ? await integrateSection(g, options as IntegrateOptions, log)
              : name === 'proxy'
                ? await proxySection(g, options as ProxyOptions, log)
                : name === 'vjp'
                  ? await vjpSection(g, options as VjpOptions, log)
                  : name === 'dump'
                    ? dump(options as { layers: number[]; ids: string[] })
                    : null;
      if (!r) throw new Error(`unknown section ${name}`);
      tables = r.tables;
      data = r.data;
    } catch (e) {
      error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
    }
    const gpuErrors: string[] = [];
    const e = await g.device.popErrorScope();
    if (e) gpuErrors.push(e.message);
    gpuErrors.push(...g.errors.slice(before));
    return { tables, data, error, gpuErrors, ms: performance.now() - t0 };
  },
};
window.expReady = true;
