/**
 * Device faults: the GPU device lost in the middle of a solve, and WebGPU
 * missing altogether.
 *
 * Device loss is simulated with `device.destroy()` while a long solve (and a
 * long backward solve) is running: the pending promises must reject with a
 * `DeviceLostError` that says what to do, `runtime.lost` must be true when
 * they do, every further call must throw that same error, nothing the solves
 * allocated may stay counted as live, and a new runtime must then solve
 * correctly (checked against the exact solution of a linear field).
 *
 * Missing WebGPU is simulated in fresh pages prepared before any script runs
 * (`evaluateOnNewDocument`): navigator.gpu deleted (and, for the strictest
 * case, every GPU* global, as in a browser without WebGPU or a page that is
 * not a secure context), requestAdapter returning null or throwing, and
 * requestDevice rejecting. `createRuntime` must reject with a
 * `WebGPUUnavailableError` whose message says what to enable; importing
 * webode must not fail.
 *
 * Tolerance of the "new runtime works" check: rk4 with h = 0.01 on a rotation
 * has a global error ≈ h⁴/120·t ≈ 1e-10, far below float32 round-off over 100
 * steps (~1e-6, see solve-methods.test.ts), so FIXED_TOL = 1e-5 as in
 * solve-failures.test.ts.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { WebodeTestHandle } from './harness';
import { relError } from './problems';
import { linearExact, useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();
const FIXED_TOL = 1e-5;

/** z' = W z, a slowly decaying rotation; f as a [2, 2] identity MLP with weight W and zero bias. */
const W = [
  [-0.1, 1],
  [-1, -0.1],
];
const PARAMS = [W[0][0], W[0][1], W[1][0], W[1][1], 0, 0];
const Y0 = [1, 0, 0, 1, 0.5, -0.5, 2, 1];
const B = 4;

function exactAt(t: number[]): number[] {
  // [T][B][D] like the GPU outputs.
  const W32 = W.map((r) => r.map(Math.fround));
  const perSample = Array.from({ length: B }, (_, b) => linearExact(W32, [Y0[2 * b], Y0[2 * b + 1]], t));
  return t.flatMap((_, i) => perSample.flatMap((rows) => rows[i]));
}

describe('device loss during a solve', () => {
  it('device.destroy() while a forward and a backward solve run: both reject with DeviceLostError, the runtime reports it, further calls throw it, a new runtime works', async () => {
    const r = await harness().page.evaluate(
      async (args) => {
        const { webode, report } = webodeTest;
        const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
        const uncaptured: string[] = [];
        const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
        const f = new webode.MLP(rt, { layers: [2, 2], activation: 'identity' });
        f.setParameters(args.params);
        const live0 = { ...rt.counters };
        // A short solve to differentiate, then two long solves at once: 100,000 rk4 steps forward,
        // and a backward solve with 100,000 reverse steps on the short solve.
        const short = await webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 0.01 });
        const liveShort = { ...rt.counters };
        const settled: string[] = [];
        const forward = webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 1e-5 });
        const backward = short.backward(new Float32Array(2 * args.y0.length).fill(1), { stepSize: 1e-5 });
        forward.then(() => settled.push('forward'), () => {});
        backward.then(() => settled.push('backward'), () => {});
        await sleep(50);
        const running = { submits: rt.counters.submits - liveShort.submits, settled: [...settled] };
        const tDestroy = performance.now();
        rt.device.destroy();
        const lostRightAfterDestroy = rt.lost;
        const outcome = async (p: Promise<unknown>) => {
          try {
            await p;
            return { error: null, ms: performance.now() - tDestroy, lostThen: rt.lost, isDeviceLost: false, e: null as unknown };
          } catch (e) {
            return { error: report(e), ms: performance.now() - tDestroy, lostThen: rt.lost, isDeviceLost: e instanceof webode.DeviceLostError, e };
          }
        };
        const [fw, bw] = await Promise.all([outcome(forward), outcome(backward)]);
        // Further calls on the lost runtime: every one throws (or rejects with) the same DeviceLostError.
        const further: Record<string, { error: ReturnType<typeof report> | null; same: boolean }> = {};
        const attempt = async (name: string, fn: () => unknown) => {
          try {
            await fn();
            further[name] = { error: null, same: false };
          } catch (e) {
            further[name] = { error: report(e), same: e === fw.e };
          }
        };
        await attempt('odeint', () => webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 0.1 }));
        await attempt('backward', () => short.backward(new Float32Array(2 * args.y0.length).fill(1)));
        await attempt('new MLP', () => new webode.MLP(rt, { layers: [2, 2] }));
        await attempt('setParameters', () => f.setParameters(args.params));
        await attempt('readParameters', () => f.readParameters());
        await attempt('y.read', () => short.y.read());
        await attempt('stats', () => short.stats());
        await attempt('forward', () => f.forward([1, 2]));
        // Nothing the failed solves allocated is still counted: only the MLP and the short solution.
        const liveAfter = { liveBuffers: rt.counters.liveBuffers, liveBytes: rt.counters.liveBytes };
        // destroy() still works, once or twice, on the lost runtime's objects.
        short.destroy();
        short.destroy();
        f.destroy();
        f.destroy();
        rt.destroy();
        rt.destroy();
        const liveAfterDestroy = { liveBuffers: rt.counters.liveBuffers, liveBytes: rt.counters.liveBytes };

        // A new runtime works.
        const rt2 = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
        const { value, gpuErrors } = await webodeTest.errorScopes(rt2.device, async () => {
          const f2 = new webode.MLP(rt2, { layers: [2, 2], activation: 'identity' });
          f2.setParameters(args.params);
          const sol = await webode.odeint(f2, args.y0, args.t, { method: 'rk4', stepSize: 0.01 });
          const y = Array.from(await sol.y.read());
          sol.destroy();
          f2.destroy();
          return { y, live: rt2.counters.liveBuffers };
        });
        rt2.destroy();
        return {
          live0: { liveBuffers: live0.liveBuffers, liveBytes: live0.liveBytes },
          liveShort: { liveBuffers: liveShort.liveBuffers, liveBytes: liveShort.liveBytes },
          running,
          lostRightAfterDestroy,
          forward: { ...fw, e: null },
          backward: { ...bw, e: null },
          further,
          liveAfter,
          liveAfterDestroy,
          fresh: value,
          freshGpuErrors: gpuErrors,
          uncaptured,
        };
      },
      { params: PARAMS, y0: Y0, t: [0, 0.5, 1] },
    );
    console.log(
      `[measure] device loss: rejected ${Math.round(r.forward.ms)} ms (forward) / ${Math.round(r.backward.ms)} ms (backward) after device.destroy(); ` +
        `messages: ${r.forward.error?.message} | ${r.backward.error?.message}`,
    );
    // The solves were running (work submitted, neither finished) when the device was destroyed.
    expect(r.running.submits).toBeGreaterThan(0);
    expect(r.running.settled).toEqual([]);
    // Both pending promises reject with DeviceLostError, with the runtime already reporting the loss.
    for (const o of [r.forward, r.backward]) {
      expect(o.error?.name).toBe('DeviceLostError');
      expect(o.isDeviceLost).toBe(true);
      expect(o.error!.webodeError).toBe(true);
      expect(o.error!.message).toMatch(/GPU device lost \(reason: destroyed/);
      expect(o.error!.message).toMatch(/create a new one with createRuntime\(\)/);
      expect(o.lostThen).toBe(true);
    }
    // Every further call throws the same error.
    for (const [name, x] of Object.entries(r.further)) {
      expect(x.error?.name, name).toBe('DeviceLostError');
      expect(x.same, name).toBe(true);
    }
    expect(Object.keys(r.further)).toHaveLength(8);
    // Nothing leaked: after the failures, only the MLP and the short solution are live; after destroy, nothing.
    expect(r.liveAfter).toEqual(r.liveShort);
    expect(r.liveAfterDestroy).toEqual({ liveBuffers: 0, liveBytes: 0 });
    // The new runtime solves correctly, without a WebGPU error, and frees everything.
    expect(r.freshGpuErrors).toEqual([]);
    expect(r.fresh.live).toBe(0);
    expect(relError(r.fresh.y, exactAt([0, 0.5, 1]))).toBeLessThan(FIXED_TOL);
    // A destroyed device raises no validation error either.
    expect(r.uncaptured).toEqual([]);
  });

  it('a device destroyed before the call (loss not yet reported): odeint rejects with DeviceLostError and frees its buffers', async () => {
    const r = await harness().page.evaluate(
      async (args) => {
        const { webode, report } = webodeTest;
        const adapter = await navigator.gpu.requestAdapter();
        const device = await adapter!.requestDevice();
        const uncaptured: string[] = [];
        const rt = await webode.createRuntime({ device, onUncapturedError: (e) => uncaptured.push(e.message) });
        const f = new webode.MLP(rt, { layers: [2, 2], activation: 'identity' });
        f.setParameters(args.params);
        const live0 = rt.counters.liveBuffers;
        device.destroy();
        const lostBefore = rt.lost;
        let error = null;
        try {
          await webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 0.1 });
        } catch (e) {
          error = report(e);
        }
        const out = { lostBefore, lostAfter: rt.lost, error, leaked: rt.counters.liveBuffers - live0, uncaptured };
        rt.destroy();
        return out;
      },
      { params: PARAMS, y0: Y0 },
    );
    expect(r.lostBefore).toBe(false);
    expect(r.error?.name).toBe('DeviceLostError');
    expect(r.lostAfter).toBe(true);
    expect(r.leaked).toBe(0);
    expect(r.uncaptured).toEqual([]);
  });

  it('runtime.destroy() while a solve runs: the solve rejects with DestroyedError, later calls too, nothing stays live', async () => {
    const r = await harness().page.evaluate(
      async (args) => {
        const { webode, report } = webodeTest;
        const uncaptured: string[] = [];
        const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
        const f = new webode.MLP(rt, { layers: [2, 2], activation: 'identity' });
        f.setParameters(args.params);
        const pending = webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 1e-5 });
        await new Promise((res) => setTimeout(res, 30));
        rt.destroy();
        let error = null;
        try {
          await pending;
        } catch (e) {
          error = report(e);
        }
        const later: (ReturnType<typeof report> | null)[] = [];
        for (const fn of [() => webode.odeint(f, args.y0, [0, 1], { method: 'rk4', stepSize: 0.1 }), () => f.readParameters(), () => new webode.MLP(rt, { layers: [2, 2] })]) {
          try {
            await fn();
            later.push(null);
          } catch (e) {
            later.push(report(e));
          }
        }
        return { error, later, lost: rt.lost, live: { buffers: rt.counters.liveBuffers, bytes: rt.counters.liveBytes }, uncaptured };
      },
      { params: PARAMS, y0: Y0 },
    );
    expect(r.error?.name).toBe('DestroyedError');
    expect(r.error!.message).toMatch(/Runtime has been destroyed/);
    expect(r.later.map((e) => e?.name)).toEqual(['DestroyedError', 'DestroyedError', 'DestroyedError']);
    expect(r.lost).toBe(false); // destroyed by its owner, not lost
    expect(r.live).toEqual({ buffers: 0, bytes: 0 });
    expect(r.uncaptured).toEqual([]);
  });
});

describe('no WebGPU', () => {
  let browser: Browser | undefined;
  const pages: Page[] = [];
  afterAll(async () => {
    for (const p of pages) await p.close();
    await browser?.disconnect();
  });

  /**
   * A fresh page of the test server with `prepare` run before any script, in
   * which webode is imported (from source, as the harness does) and
   * `createRuntime()` called. Returns the error and whether the import worked.
   */
  async function createRuntimeIn(prepare: string) {
    browser ??= await puppeteer.connect({ browserWSEndpoint: inject('wsEndpoint'), protocolTimeout: 600_000 });
    const page = await browser.newPage();
    pages.push(page);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.evaluateOnNewDocument(prepare);
    // Any document of the server's origin will do; no harness, which itself needs WebGPU.
    await page.goto(`${inject('baseUrl')}/test/gpu/harness.html?no-webgpu`, { waitUntil: 'domcontentloaded' });
    const r = await page.evaluate(async () => {
      // Built at run time so vitest does not rewrite this import for Node.
      const load = new Function('return import("/src/index.ts")') as () => Promise<typeof import('../../src/index')>;
      let webode: typeof import('../../src/index');
      try {
        webode = await load();
      } catch (e) {
        return { imported: false, importError: String(e), error: null, hasGpu: 'gpu' in navigator };
      }
      try {
        await webode.createRuntime();
        return { imported: true, importError: null, error: null, hasGpu: 'gpu' in navigator };
      } catch (e) {
        const err = e as Error;
        return {
          imported: true,
          importError: null,
          hasGpu: 'gpu' in navigator,
          error: { name: err.name, message: err.message, isClass: e instanceof webode.WebGPUUnavailableError, isWebode: e instanceof webode.WebodeError },
        };
      }
    });
    return { ...r, pageErrors };
  }

  /** The harness page fails to start without WebGPU (it wraps GPUBuffer); its error is expected here. */
  const ignoreHarness = (errors: string[]) => errors.filter((m) => !/GPUBuffer|GPUQueue|navigator\.gpu/.test(m));

  const HINT = /enable-unsafe-webgpu/;
  const CASES = [
    {
      name: 'navigator.gpu deleted',
      prepare: 'delete Navigator.prototype.gpu;',
      message: /navigator\.gpu is not available/,
      hasGpu: false,
    },
    {
      name: 'no WebGPU at all (navigator.gpu and every GPU* global deleted, as in a browser without WebGPU)',
      prepare:
        'delete Navigator.prototype.gpu; for (const k of Object.getOwnPropertyNames(globalThis)) if (/^GPU/.test(k)) delete globalThis[k];',
      message: /navigator\.gpu is not available/,
      hasGpu: false,
    },
    {
      name: 'requestAdapter() returns null',
      prepare: 'GPU.prototype.requestAdapter = async function () { return null; };',
      message: /no WebGPU adapter was found/,
      hasGpu: true,
    },
    {
      name: 'requestAdapter() throws',
      prepare: "GPU.prototype.requestAdapter = async function () { throw new Error('blocked by policy'); };",
      message: /requesting a WebGPU adapter failed \(Error: blocked by policy\)/,
      hasGpu: true,
    },
    {
      name: 'requestDevice() rejects',
      prepare: "GPUAdapter.prototype.requestDevice = async function () { throw new TypeError('no device for you'); };",
      message: /the WebGPU adapter refused a device: TypeError: no device for you/,
      hasGpu: true,
    },
  ];
  for (const c of CASES) {
    it(`${c.name}: createRuntime rejects with WebGPUUnavailableError saying what to enable`, async () => {
      const r = await createRuntimeIn(c.prepare);
      expect(r.importError).toBeNull();
      expect(r.imported).toBe(true);
      expect(r.hasGpu).toBe(c.hasGpu);
      expect(r.error?.name).toBe('WebGPUUnavailableError');
      expect(r.error!.isClass).toBe(true);
      expect(r.error!.isWebode).toBe(true);
      expect(r.error!.message).toMatch(c.message);
      expect(r.error!.message).toMatch(HINT);
      expect(ignoreHarness(r.pageErrors)).toEqual([]);
    });
  }
});
