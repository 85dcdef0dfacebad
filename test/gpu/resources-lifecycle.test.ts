/**
 * Resources: every object that owns GPU memory (Runtime, MLP, Tensor,
 * Solution, Gradients) has an idempotent `destroy()`, using it afterwards
 * throws a `DestroyedError` that names it (before any GPU work, leaving no
 * buffer behind), and a long training-like loop leaves GPU memory flat and
 * compiles every pipeline once.
 *
 * Memory is counted two ways: webode's own `runtime.counters` (liveBytes,
 * liveBuffers, pipelinesCompiled) and, independently of webode's
 * bookkeeping, by wrapping `GPUDevice.prototype.createBuffer`,
 * `GPUBuffer.prototype.destroy`, `createComputePipeline` and
 * `createShaderModule` for the loop's device.
 */
import { describe, expect, it } from 'vitest';
import type { WebodeTestHandle } from './harness';
import { makeProblem } from './problems';
import { useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;
declare global {
  interface Window {
    resourceLoop?: {
      step(iterations: number): Promise<unknown>;
      finish(): Promise<unknown>;
    };
  }
}

const harness = useHarness();

describe('destroy() and use after destroy', () => {
  it('every object: destroy() twice is harmless; every use afterwards throws DestroyedError naming it, with no GPU work and nothing left allocated', async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode, calls, report } = webodeTest;
      const uncaptured: string[] = [];
      const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
      const results: { name: string; error: ReturnType<typeof report> | null; submit: number; map: number; leaked: number }[] = [];
      /** Runs `fn` expecting a throw; records the error, the WebGPU calls it made, and buffers it left. */
      const use = async (name: string, fn: () => unknown) => {
        const c0 = { ...calls };
        const live0 = rt.counters.liveBuffers;
        let error = null;
        try {
          await fn();
        } catch (e) {
          error = report(e);
        }
        results.push({ name, error, submit: calls.submit - c0.submit, map: calls.mapAsync - c0.mapAsync, leaked: rt.counters.liveBuffers - live0 });
      };
      const y0 = [0.5, -0.5, 0.25, 1];
      const make = async () => {
        const f = new webode.MLP(rt, { layers: [2, 4, 2] });
        const sol = await webode.odeint(f, y0, [0, 0.5], { method: 'rk4', stepSize: 0.1 });
        const g = await sol.backward(new Float32Array(8).fill(1));
        const t = webode.Tensor.fromArray(rt, [1, 2, 3], [3], 'test tensor');
        return { f, sol, g, t };
      };
      const live0 = rt.counters.liveBuffers;
      {
        const { f, sol, g, t } = await make();
        // Tensor
        t.destroy();
        t.destroy();
        await use('Tensor.read', () => t.read());
        await use('Tensor.write', () => t.write([1, 2, 3]));
        await use('Tensor.buffer', () => t.buffer);
        // Gradients
        g.destroy();
        g.destroy();
        await use('Gradients.y0.read', () => g.y0.read());
        await use('Gradients.params.read', () => g.params.read());
        // Solution
        sol.destroy();
        sol.destroy();
        await use('Solution.y.read', () => sol.y.read());
        await use('Solution.stats', () => sol.stats());
        await use('Solution.backward', () => sol.backward(new Float32Array(8).fill(1)));
        // MLP
        f.destroy();
        f.destroy();
        await use('MLP.params', () => f.params);
        await use('MLP.setParameters', () => f.setParameters(new Float32Array(f.parameterCount)));
        await use('MLP.readParameters', () => f.readParameters());
        await use('MLP.forward', () => f.forward([1, 2]));
        await use('odeint(destroyed MLP)', () => webode.odeint(f, y0, [0, 1], { method: 'rk4', stepSize: 0.5 }));
      }
      const liveAfterObjects = rt.counters.liveBuffers - live0;
      // A solution whose MLP was destroyed.
      {
        const { f, sol, g, t } = await make();
        g.destroy();
        t.destroy();
        f.destroy();
        await use('Solution.backward after its MLP was destroyed', () => sol.backward(new Float32Array(8).fill(1)));
        sol.destroy();
      }
      // Runtime: its objects report destroyed too.
      const { f, sol, g, t } = await make();
      rt.destroy();
      rt.destroy();
      await use('new MLP(destroyed Runtime)', () => new webode.MLP(rt, { layers: [2, 4, 2] }));
      await use('Tensor.zeros(destroyed Runtime)', () => webode.Tensor.zeros(rt, [4]));
      await use('odeint after Runtime.destroy', () => webode.odeint(f, y0, [0, 1], { method: 'rk4', stepSize: 0.5 }));
      await use('MLP.readParameters after Runtime.destroy', () => f.readParameters());
      await use('Tensor.read after Runtime.destroy', () => t.read());
      await use('Solution.stats after Runtime.destroy', () => sol.stats());
      await use('Gradients.params.read after Runtime.destroy', () => g.params.read());
      const isDestroyed = { tensor: t.isDestroyed, mlp: f.isDestroyed, runtime: rt.isDestroyed };
      // destroy() of objects after their runtime: harmless.
      for (const o of [g, sol, f, t]) {
        o.destroy();
        o.destroy();
      }
      return { results, liveAfterObjects, liveEnd: { buffers: rt.counters.liveBuffers, bytes: rt.counters.liveBytes }, isDestroyed, uncaptured };
    });
    const failures: string[] = [];
    for (const x of r.results) {
      // odeint after Runtime.destroy fails on the runtime, not the MLP.
      if (x.error?.name !== 'DestroyedError') failures.push(`${x.name}: ${x.error ? `${x.error.name}: ${x.error.message}` : 'no error'}`);
      else if (!/has been destroyed/.test(x.error.message)) failures.push(`${x.name}: unclear message ${x.error.message}`);
      if (x.submit !== 0 || x.map !== 0) failures.push(`${x.name}: GPU work (${x.submit} submits, ${x.map} maps)`);
      if (x.leaked !== 0) failures.push(`${x.name}: ${x.leaked} buffers left allocated`);
    }
    console.log(`[measure] use after destroy:\n${r.results.map((x) => `  ${x.name}: ${x.error?.name}: ${x.error?.message}; leaked ${x.leaked}`).join('\n')}`);
    expect(failures).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.liveAfterObjects).toBe(0);
    expect(r.liveEnd).toEqual({ buffers: 0, bytes: 0 });
    expect(r.isDestroyed).toEqual({ tensor: true, mlp: true, runtime: true });
  });
});

describe('tensors passed to odeint', () => {
  /** odeint(f, y0 Tensor) where the tensor is destroyed, or lives on another runtime's device. */
  async function odeintWithTensor(which: 'destroyed' | 'other device') {
    return harness().page.evaluate(async (kind) => {
      const { webode, calls, report } = webodeTest;
      const uncaptured: string[] = [];
      const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
      const other = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
      try {
        const f = new webode.MLP(rt, { layers: [2, 4, 2] });
        const yt = webode.Tensor.fromArray(kind === 'destroyed' ? rt : other, [0.5, -0.5, 0.25, 1], [2, 2], 'test y0');
        if (kind === 'destroyed') yt.destroy();
        const live0 = rt.counters.liveBuffers;
        const c0 = { ...calls };
        const { value: error, gpuErrors } = await webodeTest.errorScopes(rt.device, async () => {
          try {
            const sol = await webode.odeint(f, yt, [0, 1], { method: 'rk4', stepSize: 0.5 });
            sol.destroy();
            return null;
          } catch (e) {
            return report(e);
          }
        });
        return { error, gpuErrors, uncaptured, leaked: rt.counters.liveBuffers - live0, submit: calls.submit - c0.submit };
      } finally {
        rt.destroy();
        other.destroy();
      }
    }, which);
  }

  it('a destroyed y0 tensor: DestroyedError before any allocation', async () => {
    const r = await odeintWithTensor('destroyed');
    expect(r.error?.name).toBe('DestroyedError');
    expect(r.gpuErrors).toEqual([]);
    expect(r.leaked).toBe(0);
  });

  it("a y0 tensor of another runtime's device: ArgumentError on y0, no WebGPU error", async () => {
    const r = await odeintWithTensor('other device');
    console.log(`[measure] y0 tensor of another device: ${JSON.stringify(r).slice(0, 300)}`);
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.argument).toBe('y0');
    expect(r.submit).toBe(0);
  });
});

describe('a long training-like loop', () => {
  /*
   * Each iteration: a forward solve (rk4, 10 steps), the adjoint backward of
   * L = Σ c·y, a read of dL/dθ, and a gradient step θ ← θ − lr·dL/dθ written
   * with setParameters — the loop a user writes by hand. Live memory is
   * compared after every iteration, so a leak of any size shows at the first;
   * 400 iterations take about 6 s on SwiftShader.
   */
  const ITERATIONS = 400;
  const BATCH = 200; // iterations per page call (keeps each call short and shows progress)
  it(`${ITERATIONS} solve + backward + update iterations: live GPU memory back to the same value after each, pipelines compiled once`, async () => {
    const p = makeProblem({ layers: [2, 8, 2], B: 4, seed: 71 });
    const page = harness().page;
    await page.evaluate(
      async (args) => {
        const { webode } = webodeTest;
        const uncaptured: string[] = [];
        const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
        const device = rt.device;
        // Independent counts on this device: buffers created and not yet destroyed, pipelines, modules.
        const sizes = new Map<GPUBuffer, number>();
        const gpu = { liveBuffers: 0, liveBytes: 0, pipelines: 0, modules: 0, bindGroups: 0 };
        const orig = {
          createBuffer: GPUDevice.prototype.createBuffer,
          destroy: GPUBuffer.prototype.destroy,
          createComputePipeline: GPUDevice.prototype.createComputePipeline,
          createShaderModule: GPUDevice.prototype.createShaderModule,
          createBindGroup: GPUDevice.prototype.createBindGroup,
        };
        GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
          const b = orig.createBuffer.call(this, desc);
          if (this === device) {
            sizes.set(b, desc.size);
            gpu.liveBuffers++;
            gpu.liveBytes += desc.size;
          }
          return b;
        };
        GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
          const s = sizes.get(this);
          if (s !== undefined) {
            sizes.delete(this);
            gpu.liveBuffers--;
            gpu.liveBytes -= s;
          }
          return orig.destroy.call(this);
        };
        GPUDevice.prototype.createComputePipeline = function (this: GPUDevice, desc: GPUComputePipelineDescriptor) {
          if (this === device) gpu.pipelines++;
          return orig.createComputePipeline.call(this, desc);
        };
        GPUDevice.prototype.createShaderModule = function (this: GPUDevice, desc: GPUShaderModuleDescriptor) {
          if (this === device) gpu.modules++;
          return orig.createShaderModule.call(this, desc);
        };
        GPUDevice.prototype.createBindGroup = function (this: GPUDevice, desc: GPUBindGroupDescriptor) {
          if (this === device) gpu.bindGroups++;
          return orig.createBindGroup.call(this, desc);
        };
        device.pushErrorScope('validation');
        device.pushErrorScope('out-of-memory');
        const f = new webode.MLP(rt, args.mlp);
        f.setParameters(args.params);
        const theta = Float32Array.from(args.params);
        const c = Float32Array.from(args.c);
        const snap = () => ({
          liveBytes: rt.counters.liveBytes,
          liveBuffers: rt.counters.liveBuffers,
          pipelinesCompiled: rt.counters.pipelinesCompiled,
          gpuLiveBuffers: gpu.liveBuffers,
          gpuLiveBytes: gpu.liveBytes,
          gpuPipelines: gpu.pipelines,
          gpuModules: gpu.modules,
        });
        const baseline = snap();
        let done = 0;
        let first: ReturnType<typeof snap> | null = null;
        const mismatches: string[] = [];
        const perIteration = { bindGroups: [] as number[], hostWaits: [] as number[] };
        let ms = 0;
        window.resourceLoop = {
          async step(iterations: number) {
            const t0 = performance.now();
            for (let k = 0; k < iterations; k++, done++) {
              const bg0 = gpu.bindGroups;
              const w0 = rt.counters.hostWaits;
              const sol = await webode.odeint(f, args.y0, args.t, { method: 'rk4', stepSize: 0.1 });
              const g = await sol.backward(c);
              const grad = await g.params.read();
              for (let i = 0; i < theta.length; i++) theta[i] -= args.lr * grad[i];
              f.setParameters(theta);
              g.destroy();
              sol.destroy();
              if (done < 3) {
                perIteration.bindGroups.push(gpu.bindGroups - bg0);
                perIteration.hostWaits.push(rt.counters.hostWaits - w0);
              }
              const s = snap();
              if (done === 0) first = s;
              const want = { ...baseline, pipelinesCompiled: first!.pipelinesCompiled, gpuPipelines: first!.gpuPipelines, gpuModules: first!.gpuModules };
              for (const key of Object.keys(want) as (keyof typeof want)[]) {
                if (s[key] !== want[key] && mismatches.length < 20) mismatches.push(`iteration ${done}: ${key} ${s[key]} (expected ${want[key]})`);
              }
            }
            ms += performance.now() - t0;
            return { done, mismatches: mismatches.length };
          },
          async finish() {
            const read = await f.readParameters();
            const paramsMatch = read.every((x, i) => x === theta[i]);
            const moved = Math.max(...Array.from(theta, (x, i) => Math.abs(x - args.params[i])));
            f.destroy();
            const afterMlp = snap();
            const errors: string[] = [];
            for (let i = 0; i < 2; i++) {
              const e = await device.popErrorScope();
              if (e) errors.push(e.message);
            }
            rt.destroy();
            Object.assign(GPUDevice.prototype, { createBuffer: orig.createBuffer, createComputePipeline: orig.createComputePipeline, createShaderModule: orig.createShaderModule, createBindGroup: orig.createBindGroup });
            GPUBuffer.prototype.destroy = orig.destroy;
            delete window.resourceLoop;
            return { done, ms, baseline, first, mismatches, perIteration, paramsMatch, moved, afterMlp, afterRuntime: { liveBuffers: gpu.liveBuffers, liveBytes: gpu.liveBytes }, errors, uncaptured };
          },
        };
      },
      { mlp: p.mlp, params: Array.from(p.params), y0: Array.from(p.y0), t: [0, 0.5, 1], c: Array.from({ length: 3 * p.B * p.D }, (_, i) => ((i * 7) % 5) / 5 - 0.4), lr: 1e-3 },
    );
    let r;
    try {
      for (let done = 0; done < ITERATIONS; done += BATCH) {
        const s = (await page.evaluate((n) => window.resourceLoop!.step(n), Math.min(BATCH, ITERATIONS - done))) as { done: number; mismatches: number };
        console.log(`[measure] resource loop: ${s.done} iterations, ${s.mismatches} mismatches`);
        if (s.mismatches > 0) break;
      }
    } finally {
      r = (await page.evaluate(() => window.resourceLoop!.finish())) as {
        done: number;
        ms: number;
        baseline: Record<string, number>;
        first: Record<string, number>;
        mismatches: string[];
        perIteration: { bindGroups: number[]; hostWaits: number[] };
        paramsMatch: boolean;
        moved: number;
        afterMlp: Record<string, number>;
        afterRuntime: { liveBuffers: number; liveBytes: number };
        errors: string[];
        uncaptured: string[];
      };
    }
    console.log(
      `[measure] resource loop: ${r.done} iterations in ${(r.ms / 1000).toFixed(1)} s (${(r.ms / r.done).toFixed(1)} ms each); ` +
        `baseline ${JSON.stringify(r.baseline)}; after the first iteration ${JSON.stringify(r.first)}; ` +
        `bind groups per iteration ${r.perIteration.bindGroups.join(', ')}; host waits per iteration ${r.perIteration.hostWaits.join(', ')}`,
    );
    expect(r.errors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.mismatches).toEqual([]);
    expect(r.done).toBe(ITERATIONS);
    // Compiled once: the first iteration compiled the forward, adjoint, summary and reduce pipelines.
    expect(r.first.pipelinesCompiled).toBeGreaterThan(r.baseline.pipelinesCompiled);
    expect(r.first.gpuPipelines).toBe(r.first.pipelinesCompiled - r.baseline.pipelinesCompiled + r.baseline.gpuPipelines);
    // The updates happened and reached the GPU.
    expect(r.paramsMatch).toBe(true);
    expect(r.moved).toBeGreaterThan(0);
    // After the MLP's destroy nothing of webode's is left, after the runtime's nothing on the device.
    expect(r.afterMlp.liveBuffers).toBe(0);
    expect(r.afterMlp.liveBytes).toBe(0);
    expect(r.afterRuntime).toEqual({ liveBuffers: 0, liveBytes: 0 });
  });
});
