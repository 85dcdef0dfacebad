/**
 * Requests beyond the device's limits are rejected with the limit named, or
 * split, never left to surface as a WebGPU validation error from deep inside
 * a solve (which would also return silently wrong results: a submit that
 * fails validation does nothing, and the zeros it leaves look like a
 * finished solve).
 *
 * Every test runs on a runtime over a device requested with WebGPU's
 * default limits (`adapter.requestDevice()` without requiredLimits:
 * maxStorageBufferBindingSize 128 MiB, maxStorageBuffersPerShaderStage 8),
 * as a user's own device may well be, via `createRuntime({ device })`.
 *
 * Chunking tolerance (memoryBudget): each sample's backward solve does not
 * depend on the chunk it runs in, so dL/dy0 must be bit-identical to the
 * unsplit run; dL/dθ sums the same float32 rows in another grouping, which
 * changes the rounding only: CHUNK_TOL = 1e-5 relative (the bound argued in
 * adjoint-shapes.test.ts). Against finite differences of the float64
 * reference, GRAD_TOL = 1e-3 (adjoint-shapes.test.ts: the criterion).
 */
import { describe, expect, it } from 'vitest';
import { batchLoss, cotangents, dot, fdDirectional, fdGradY0, layerDirections } from './adjoint-helpers';
import type { WebodeTestHandle } from './harness';
import { makeProblem, relError } from './problems';
import { allSamples, useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();
const CHUNK_TOL = 1e-5;
const GRAD_TOL = 1e-3;
const MiB128 = 128 * 1024 * 1024;
/** Bytes of one sample's solver state (kernels/rk.ts SAMPLE: 12 words). */
const SAMPLE_BYTES = 48;

/**
 * Runs `odeint` on a default-limits device with y0 = `B`·`D` values of 0.1
 * (built in the page) and `T` output times in [0, 1]. Returns the error, the
 * WebGPU calls made, the change in live buffers, and the WebGPU errors seen.
 */
async function solveAtDefaultLimits(a: { B: number; T: number; layers: number[]; stepControl?: 'batch' | 'per-sample'; kernel?: 'lanes' | 'invocation' }) {
  return harness().page.evaluate(async (args) => {
    const { webode, calls, report } = webodeTest;
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter!.requestDevice({ label: 'default limits' });
    const uncaptured: string[] = [];
    const rt = await webode.createRuntime({ device, onUncapturedError: (e) => uncaptured.push(e.message) });
    try {
      const { value, gpuErrors } = await webodeTest.errorScopes(device, async () => {
        const f = new webode.MLP(rt, { layers: args.layers, activation: 'identity' });
        const D = args.layers[args.layers.length - 1];
        const y0 = new Float32Array(args.B * D).fill(0.1);
        const t = Float64Array.from({ length: args.T }, (_, i) => (args.T === 1 ? 0 : i / (args.T - 1)));
        const c0 = { ...calls };
        const live0 = { ...rt.counters };
        let error = null;
        try {
          const sol = await webode.odeint(f, y0, t, { method: 'dopri5', stepControl: args.stepControl ?? 'per-sample', ...(args.kernel ? { kernel: args.kernel } : {}) });
          sol.destroy();
        } catch (e) {
          error = report(e);
        }
        const out = {
          error,
          submit: calls.submit - c0.submit,
          mapAsync: calls.mapAsync - c0.mapAsync,
          dispatches: rt.counters.dispatches - live0.dispatches,
          pipelinesCompiled: rt.counters.pipelinesCompiled - live0.pipelinesCompiled,
          liveBuffers: rt.counters.liveBuffers - live0.liveBuffers,
          liveBytes: rt.counters.liveBytes - live0.liveBytes,
          limit: device.limits.maxStorageBufferBindingSize,
        };
        f.destroy();
        return out;
      });
      return { ...value, gpuErrors, uncaptured };
    } finally {
      rt.destroy();
      device.destroy();
    }
  }, a);
}

describe('storage buffer size (maxStorageBufferBindingSize)', () => {
  it('outputs T·B·D·4 one output time beyond 128 MiB: ArgumentError on y0 naming the limit, before any GPU work', async () => {
    const B = 64;
    const D = 2;
    const T = MiB128 / (B * D * 4) + 1; // 262,145 output times: 134,218,240 bytes of outputs
    const r = await solveAtDefaultLimits({ B, T, layers: [2, 2] });
    expect(r.limit).toBe(MiB128);
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.argument).toBe('y0');
    expect(r.error!.message).toContain('maxStorageBufferBindingSize');
    expect(r.error!.message).toContain(String(MiB128));
    expect(r.error!.message).toContain(String(T * B * D * 4));
    expect({ submit: r.submit, mapAsync: r.mapAsync, dispatches: r.dispatches, pipelines: r.pipelinesCompiled, live: r.liveBuffers }).toEqual({
      submit: 0,
      mapAsync: 0,
      dispatches: 0,
      pipelines: 0,
      live: 0,
    });
  });

  it('the same batch with fewer output times solves on that device (the check is not vacuous)', async () => {
    const r = await solveAtDefaultLimits({ B: 64, T: 3, layers: [2, 2] });
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.error).toBeNull();
    expect(r.submit).toBeGreaterThan(0);
    expect(r.liveBuffers).toBe(0);
  });

  /*
   * The per-sample solver state (48 bytes a sample) outgrows the binding
   * limit before the outputs do when T·D < 12: here B = 2,796,203 samples of
   * D = 2 with T = 2 have 44.7 MB of outputs but 134,217,744 bytes of state.
   */
  const B = Math.floor(MiB128 / SAMPLE_BYTES) + 1;
  it(`per-sample state beyond 128 MiB (B = ${B}, T = 2, D = 2): ArgumentError naming the limit, no submit, no WebGPU error`, async () => {
    const r = await solveAtDefaultLimits({ B, T: 2, layers: [2, 2] });
    console.log(`[measure] per-sample state beyond the limit: ${r.error?.name} (${r.error?.argument}): ${r.error?.message}; live buffers left ${r.liveBuffers}`);
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.message).toContain('maxStorageBufferBindingSize');
    expect(r.submit).toBe(0);
    expect(r.mapAsync).toBe(0);
  });

  it(`… and leaves no buffer allocated, the argument named being y0`, async () => {
    const r = await solveAtDefaultLimits({ B, T: 2, layers: [2, 2] });
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.argument).toBe('y0');
    expect(r.liveBuffers).toBe(0);
  });
});

describe('workgroups per dispatch (maxComputeWorkgroupsPerDimension)', () => {
  it('a batch of 65,535·64 + 1 samples, one per invocation: ArgumentError on y0 naming the limit, before any GPU work', async () => {
    // The one-sample kernel's workgroups hold 64 samples (the lane kernel's 256 at this batch, so its
    // dispatch fits and the per-sample state's binding size is the limit it meets first).
    const B = 65535 * 64 + 1;
    const r = await solveAtDefaultLimits({ B, T: 1, layers: [2, 2], kernel: 'invocation' });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.argument).toBe('y0');
    expect(r.error!.message).toContain('maxComputeWorkgroupsPerDimension = 65535');
    expect(r.error!.message).toContain(`at most ${65535 * 64} samples`);
    expect({ submit: r.submit, mapAsync: r.mapAsync, live: r.liveBuffers }).toEqual({ submit: 0, mapAsync: 0, live: 0 });
  });
});

describe('storage buffers per shader stage (maxStorageBuffersPerShaderStage)', () => {
  it("mode 'backprop' on a device allowing 8 storage buffers: ArgumentError naming the limit, no WebGPU error", async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode, report } = webodeTest;
      const adapter = await navigator.gpu.requestAdapter();
      const device = await adapter!.requestDevice();
      const uncaptured: string[] = [];
      const rt = await webode.createRuntime({ device, onUncapturedError: (e) => uncaptured.push(e.message) });
      try {
        const f = new webode.MLP(rt, { layers: [2, 4, 2] });
        const sol = await webode.odeint(f, [0.5, -0.5], [0, 0.5], { method: 'rk4', stepSize: 0.1 });
        const { value, gpuErrors } = await webodeTest.errorScopes(device, async () => {
          try {
            const g = await sol.backward(new Float32Array(4).fill(1), { mode: 'backprop' });
            return { error: null, gth: Array.from(await g.params.read()) };
          } catch (e) {
            return { error: report(e), gth: null };
          }
        });
        return { ...value, gpuErrors, uncaptured, limit: device.limits.maxStorageBuffersPerShaderStage };
      } finally {
        rt.destroy();
        device.destroy();
      }
    });
    console.log(`[measure] backprop at 8 storage buffers: ${JSON.stringify({ ...r, gth: r.gth?.slice(0, 4) }).slice(0, 400)}`);
    expect(r.limit).toBe(8);
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.message).toContain('maxStorageBuffersPerShaderStage');
  });
});

describe('backward memory', () => {
  it("mode 'backprop' whose one-sample checkpoint tape exceeds memoryBudget: ArgumentError on options.memoryBudget saying how much is needed, nothing left allocated", async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode, report } = webodeTest;
      const rt = await webode.createRuntime({ onUncapturedError: (e) => console.error(`uncaptured WebGPU error: ${e.message}`) });
      try {
        const { value, gpuErrors } = await webodeTest.errorScopes(rt.device, async () => {
          const f = new webode.MLP(rt, { layers: [2, 4, 2] });
          const sol = await webode.odeint(f, [0.5, -0.5], [0, 1], { method: 'rk4', stepSize: 0.01 });
          const live0 = rt.counters.liveBuffers;
          let error = null;
          try {
            (await sol.backward([1, 1, 1, 1], { mode: 'backprop', memoryBudget: 1000 })).destroy();
          } catch (e) {
            error = report(e);
          }
          const leaked = rt.counters.liveBuffers - live0;
          sol.destroy();
          f.destroy();
          return { error, leaked };
        });
        return { ...value, gpuErrors };
      } finally {
        rt.destroy();
      }
    });
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('ArgumentError');
    expect(r.error!.argument).toBe('options.memoryBudget');
    expect(r.error!.message).toMatch(/expected at least \d+ bytes: one sample's checkpoint tape for 100 steps/);
    expect(r.leaked).toBe(0);
  });
});

describe('backward chunking under a small memoryBudget', () => {
  it('B = 24, [2, 8, 2], on a default-limits device: budgets of 5 samples and of less than one give the unsplit gradients, and finite differences', async () => {
    const p = makeProblem({ layers: [2, 8, 2], B: 24, seed: 61 });
    const P = p.params.length;
    const t = [0, 0.5, 1];
    const c = cotangents(t.length, p.B, p.D, 62);
    // A sample takes at least its Sample (48 B), [z, a] (16 B) and its share of a parameter row:
    // P B with the four-lane adjoint kernel (one 4·P-byte row per four samples).
    const runs = [{}, { memoryBudget: 5 * (P + 64) }, { memoryBudget: P - 1 }];
    const r = await harness().page.evaluate(
      async (args) => {
        const { webode, report } = webodeTest;
        const adapter = await navigator.gpu.requestAdapter();
        const device = await adapter!.requestDevice();
        const uncaptured: string[] = [];
        const rt = await webode.createRuntime({ device, onUncapturedError: (e) => uncaptured.push(e.message) });
        try {
          const { value, gpuErrors } = await webodeTest.errorScopes(device, async () => {
            const f = new webode.MLP(rt, args.mlp);
            f.setParameters(args.params);
            const sol = await webode.odeint(f, args.y0, args.t, { method: 'dopri5' });
            const live0 = rt.counters.liveBuffers;
            const out = [];
            for (const options of args.runs) {
              try {
                const g = await sol.backward(args.c, options);
                out.push({ error: null, gy0: Array.from(await g.y0.read()), gth: Array.from(await g.params.read()), chunks: g.summary.chunks, nfe: g.summary.nfe });
                g.destroy();
              } catch (e) {
                out.push({ error: report(e), gy0: [], gth: [], chunks: 0, nfe: 0 });
              }
            }
            const leaked = rt.counters.liveBuffers - live0;
            sol.destroy();
            f.destroy();
            return { out, leaked };
          });
          return { ...value, gpuErrors, uncaptured };
        } finally {
          rt.destroy();
          device.destroy();
        }
      },
      { mlp: p.mlp, params: Array.from(p.params), y0: Array.from(p.y0), t, c: Array.from(c), runs },
    );
    expect(r.gpuErrors).toEqual([]);
    expect(r.uncaptured).toEqual([]);
    expect(r.leaked).toBe(0);
    const [whole, five, one] = r.out;
    for (const x of r.out) expect(x.error).toBeNull();
    // The budget covers all per-sample memory (state, scratch and the share of a parameter row), so a
    // budget of five samples' least memory holds at most five samples; below one row share, one sample per chunk.
    console.log(`[measure] chunks: unsplit ${whole.chunks}, budget of 5 samples ${five.chunks}, budget below one row ${one.chunks}`);
    expect(whole.chunks).toBe(1);
    expect(five.chunks).toBeGreaterThanOrEqual(Math.ceil(p.B / 5));
    expect(five.chunks).toBeLessThan(p.B);
    expect(one.chunks).toBe(p.B);
    for (const x of [five, one]) {
      expect(x.gy0).toEqual(whole.gy0);
      expect(relError(x.gth, whole.gth)).toBeLessThan(CHUNK_TOL);
      expect(x.nfe).toBe(whole.nfe);
    }
    // And the gradients are right: dL/dy0 entry by entry, dL/dθ along one direction per layer.
    const dirs = layerDirections(p.mlp.layers, 63);
    const fdDirs = dirs.map(({ v }) => fdDirectional((q) => batchLoss(p, q, p.y0, t, c), p.params, v));
    const e = { gy0: relError(five.gy0, fdGradY0(p, p.y0, t, c, allSamples(p.B))), gth: relError(dirs.map(({ v }) => dot(five.gth, v)), fdDirs) };
    console.log(`[measure] chunked backward on a default-limits device: rel error vs finite differences ${JSON.stringify(e)}`);
    expect(e.gy0).toBeLessThan(GRAD_TOL);
    expect(e.gth).toBeLessThan(GRAD_TOL);
  });
});
