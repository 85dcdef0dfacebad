/**
 * The page side of the GPU tests: runs webode operations in the browser on
 * arguments sent from Node and returns plain data (float arrays as base64).
 *
 * Every operation runs inside WebGPU error scopes and also collects the
 * runtime's uncaptured errors, and returns them, so a test fails on any
 * validation error. Host waits and submits are counted by wrapping the WebGPU
 * prototypes themselves, independently of webode's own counters.
 */
import * as webode from '../../src/index';
import type { MLPOptions, OdeintOptions, Runtime } from '../../src/index';
import { type WireArray, decode, encodeF32 } from './wire';
import { trainOps } from './train-ops';
import { odeRnnOps, seriesOps } from './series-ops';
import { latentOps } from './latent-ops';
import { flowOps } from './flows-ops';

const calls = { mapAsync: 0, submit: 0, onSubmittedWorkDone: 0 };
const origMap = GPUBuffer.prototype.mapAsync;
GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
  calls.mapAsync++;
  return origMap.apply(this, args);
};
const origSubmit = GPUQueue.prototype.submit;
GPUQueue.prototype.submit = function (this: GPUQueue, ...args: Parameters<GPUQueue['submit']>) {
  calls.submit++;
  return origSubmit.apply(this, args);
};
const origDone = GPUQueue.prototype.onSubmittedWorkDone;
GPUQueue.prototype.onSubmittedWorkDone = function (this: GPUQueue) {
  calls.onSubmittedWorkDone++;
  return origDone.apply(this);
};

let runtime: Runtime | null = null;
async function rt(): Promise<Runtime> {
  if (!runtime || runtime.lost || runtime.isDestroyed) runtime = await webode.createRuntime({ onUncapturedError: () => {} });
  return runtime;
}

export interface ErrorReport {
  name: string;
  message: string;
  failures?: readonly webode.SampleFailure[];
  argument?: string;
}

function report(e: unknown): ErrorReport {
  if (e instanceof webode.OdeSolveError) return { name: 'OdeSolveError', message: e.message, failures: e.failures };
  if (e instanceof webode.ArgumentError) return { name: 'ArgumentError', message: e.message, argument: e.argument };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'unknown', message: String(e) };
}

/** Runs `body` in validation / out-of-memory / internal error scopes and returns the errors seen. */
/** g.t read back, or the error reading it throws (a solve with timeGradient: false). */
async function readT(g: webode.Gradients): Promise<{ gt: WireArray | null; gtError: ErrorReport | null }> {
  let t: webode.Tensor;
  try {
    t = g.t;
  } catch (e) {
    return { gt: null, gtError: report(e) };
  }
  return { gt: encodeF32(await t.read()), gtError: null };
}

async function scoped<T>(body: (r: Runtime) => Promise<T>): Promise<T & { gpuErrors: string[] }> {
  const r = await rt();
  const before = r.errors.length;
  r.device.pushErrorScope('validation');
  r.device.pushErrorScope('out-of-memory');
  r.device.pushErrorScope('internal');
  let result: T;
  try {
    result = await body(r);
  } finally {
    const errs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = await r.device.popErrorScope();
      if (e) errs.push(e.message);
    }
    for (const e of r.errors.slice(before)) errs.push(e.message);
    (globalThis as unknown as { lastGpuErrors: string[] }).lastGpuErrors = errs;
  }
  // Any WebGPU error fails the operation (and so its test), whether or not the test looks
  // at gpuErrors: the guarantee must not depend on every call site remembering the check.
  const seen = (globalThis as unknown as { lastGpuErrors: string[] }).lastGpuErrors;
  if (seen.length > 0) throw new Error(`WebGPU error(s) during a harness operation: ${seen.join(' | ')}`);
  return { ...result, gpuErrors: (globalThis as unknown as { lastGpuErrors: string[] }).lastGpuErrors };
}

/** Outputs, gradients and summaries of a solve and its gradients, as plain data; frees both. */
async function readPair(sol: webode.Solution, g: webode.Gradients) {
  const out = {
    y: encodeF32(await sol.y.read()),
    gy0: encodeF32(await g.y0.read()),
    gth: encodeF32(await g.params.read()),
    gt: encodeF32(await g.t.read()),
    forward: sol.summary,
    backward: g.summary,
  };
  g.destroy();
  sol.destroy();
  return out;
}

export interface SolveArgs {
  mlp: MLPOptions;
  params: WireArray;
  y0: WireArray;
  /** Shared output times, or one row per sample. */
  t: number[] | number[][];
  /** solve: pass per-sample times as a GPU Tensor [B, T] (made before the solve is counted). */
  tAsTensor?: boolean;
  options: OdeintOptions;
  stats?: boolean;
}

export interface FlowArgs {
  mlp: MLPOptions;
  params: number[];
  cnf: webode.CNFOptions;
  /** Data points [B][D] (logProb), or base points (sample, `mode: 'sample'`). */
  x: number[] | { count: number; seed?: number };
  options: webode.LogProbOptions;
  /** 'logProb' (default); 'sample': sample(x) then logProb of the samples; 'roundTrip': logProb(x) then sample(z). */
  mode?: 'logProb' | 'sample' | 'roundTrip';
  /** Then `backward(dLdlogp, options)` of the logProb result. */
  backward?: { dLdlogp: number[]; options?: webode.FlowBackwardOptions };
}

/** A flow's outputs as plain arrays. */
async function readFlow(r: webode.FlowDensity | webode.FlowSamples) {
  return {
    logp: Array.from(await r.logp.read()),
    z: Array.from(await (r instanceof webode.FlowDensity ? r.z : r.x).read()),
    kinetic: r.reg.kinetic ? Array.from(await r.reg.kinetic.read()) : null,
    jacobian: r.reg.jacobian ? Array.from(await r.reg.jacobian.read()) : null,
    noise: r.noise ? Array.from(await r.noise.read()) : null,
    summary: r.summary,
  };
}

const ops = {
  ...trainOps({ calls, scoped }),
  ...seriesOps({ calls, scoped }),
  ...latentOps({ calls, scoped }),
  ...flowOps({ calls, scoped }),
  /** A flow's logProb (and sample) with host waits counted by webode before any read, and buffers left alive after. */
  async flow(args: FlowArgs) {
    return scoped(async (r) => {
      const live0 = r.counters.liveBuffers;
      const f = new webode.MLP(r, args.mlp);
      f.setParameters(args.params);
      let error: ErrorReport | null = null;
      let first = null;
      let second = null;
      let waits = NaN;
      let checkWaits = NaN;
      let grad = null;
      let dispatches0 = r.counters.dispatches;
      try {
        const flow = new webode.CNF(f, args.cnf);
        const w0 = r.counters.hostWaits;
        dispatches0 = r.counters.dispatches;
        const res = args.mode === 'sample' ? await flow.sample(args.x, args.options) : await flow.logProb(args.x as number[], args.options);
        waits = r.counters.hostWaits - w0;
        try {
          if (res.deferred) {
            const w1 = r.counters.hostWaits;
            await res.check();
            checkWaits = r.counters.hostWaits - w1;
          }
          if (args.backward && res instanceof webode.FlowDensity) {
            const w2 = r.counters.hostWaits;
            const g = await res.backward(args.backward.dLdlogp, args.backward.options);
            const bwWaits = r.counters.hostWaits - w2;
            if (args.backward.options?.deferred) await g.check();
            grad = { params: Array.from(await g.params.read()), x: Array.from(await g.x.read()), waits: bwWaits, summary: g.summary };
            g.destroy();
          }
          first = await readFlow(res);
          if (args.mode === 'sample' || args.mode === 'roundTrip') {
            const back = args.mode === 'sample' ? await flow.logProb((res as webode.FlowSamples).x, args.options) : await flow.sample((res as webode.FlowDensity).z, args.options);
            second = await readFlow(back);
            back.destroy();
          }
        } finally {
          res.destroy();
        }
      } catch (e) {
        error = report(e);
      }
      const dispatches = r.counters.dispatches - dispatches0;
      f.destroy();
      return { error, first, second, grad, waits, checkWaits, dispatches, live: r.counters.liveBuffers - live0 };
    });
  },
  ...odeRnnOps({ calls, scoped }),
  async info() {
    const r = await rt();
    const info = r.adapterInfo;
    return {
      adapter: info ? { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description } : null,
      limits: {
        maxStorageBufferBindingSize: r.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: r.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: r.limits.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: r.limits.maxStorageBuffersPerShaderStage,
      },
      userAgent: navigator.userAgent,
    };
  },

  async solve(args: SolveArgs) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      try {
        f.setParameters(decode(args.params));
        const rowsT = args.t as number[][];
        const tensorT = args.tAsTensor ? webode.Tensor.fromArray(r, rowsT.flat(), [rowsT.length, rowsT[0].length], 'test times') : null;
        const counted0 = { ...calls };
        const dispatches0 = r.counters.dispatches;
        let sol: webode.Solution | null = null;
        let error: ErrorReport | null = null;
        const t0 = performance.now();
        try {
          sol = await webode.odeint(f, decode(args.y0), tensorT ?? args.t, args.options);
        } catch (e) {
          error = report(e);
          if (e instanceof webode.OdeSolveError) sol = e.solution as webode.Solution;
        }
        tensorT?.destroy();
        const ms = performance.now() - t0;
        const counted = {
          mapAsync: calls.mapAsync - counted0.mapAsync,
          submit: calls.submit - counted0.submit,
          onSubmittedWorkDone: calls.onSubmittedWorkDone - counted0.onSubmittedWorkDone,
          dispatches: r.counters.dispatches - dispatches0,
        };
        if (!sol) return { error, counted, ms, y: null, summary: null, stats: null };
        const y = encodeF32(await sol.y.read());
        const s = args.stats || error ? await sol.stats() : null;
        const stats = s
          ? {
              nfe: Array.from(s.nfe),
              accepted: Array.from(s.accepted),
              rejected: Array.from(s.rejected),
              status: [...s.status],
              tReached: Array.from(s.tReached),
              outputsWritten: Array.from(s.outputsWritten),
              total: s.total,
            }
          : null;
        const summary = sol.summary;
        sol.destroy();
        return { error, counted, ms, y, summary, stats };
      } finally {
        f.destroy();
      }
    });
  },

  /** f(t, z) by the MLP forward kernel. */
  async forward(args: { mlp: MLPOptions; params: WireArray; z: WireArray; t: number }) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      try {
        f.setParameters(decode(args.params));
        const out = f.forward(decode(args.z), args.t);
        const y = encodeF32(await out.read());
        out.destroy();
        return { y };
      } finally {
        f.destroy();
      }
    });
  },

  /**
   * `odeint` with y0 and t sent as float64 wire arrays, so NaN and ±Infinity
   * survive the trip (JSON turns them into null): for the argument checks.
   * Returns the error, the WebGPU calls counted during the `odeint` call, and
   * the change in webode's dispatch, pipeline and live-buffer counters.
   */
  async odeintArgs(args: { mlp: MLPOptions; y0: WireArray; t: WireArray; options: OdeintOptions }) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      try {
        const y0 = Array.from(decode(args.y0));
        const t = Array.from(decode(args.t));
        const counted0 = { ...calls };
        const c0 = { ...r.counters };
        let error: ErrorReport | null = null;
        try {
          const sol = await webode.odeint(f, y0, t, args.options);
          sol.destroy();
        } catch (e) {
          error = report(e);
        }
        const counted = { mapAsync: calls.mapAsync - counted0.mapAsync, submit: calls.submit - counted0.submit };
        const counters = {
          dispatches: r.counters.dispatches - c0.dispatches,
          pipelinesCompiled: r.counters.pipelinesCompiled - c0.pipelinesCompiled,
          liveBuffers: r.counters.liveBuffers - c0.liveBuffers,
        };
        return { error, counted, counters };
      } finally {
        f.destroy();
      }
    });
  },

  /**
   * The same forward solve and adjoint gradient solve twice: waiting (the
   * default), then deferred (`deferred: true` on both, or `deferredBackward`
   * only). Returns both results, the WebGPU calls counted while the deferred
   * pair was recorded (before any check), the summaries before and after
   * `check()`, and the errors the checks threw.
   */
  async deferred(
    args: SolveArgs & {
      dLdy: WireArray;
      backward?: webode.BackwardOptions;
      deferredForward?: Partial<webode.OdeintOptions>;
      deferredBackward?: Partial<webode.BackwardOptions>;
      skipWaiting?: boolean;
    },
  ) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      const y0 = decode(args.y0);
      const dLdy = decode(args.dLdy);
      try {
        f.setParameters(decode(args.params));
        let waiting = null;
        if (!args.skipWaiting) {
          const sol = await webode.odeint(f, y0, args.t, args.options);
          const g = await sol.backward(dLdy, args.backward ?? {});
          waiting = await readPair(sol, g);
        }
        // The cotangents go up before counting, as a GPU tensor (what a trainer's loss writes).
        const cot = webode.Tensor.fromArray(r, dLdy, [dLdy.length], 'deferred test cotangents');
        const counted0 = { ...calls };
        const c0 = { ...r.counters };
        const sol = await webode.odeint(f, y0, args.t, { ...args.options, deferred: true, ...args.deferredForward });
        const g = await sol.backward(cot, { ...args.backward, deferred: true, ...args.deferredBackward });
        const counted = { mapAsync: calls.mapAsync - counted0.mapAsync, submit: calls.submit - counted0.submit };
        const hostWaits = r.counters.hostWaits - c0.hostWaits;
        const before = { forward: sol.summary, backward: g.summary, deferred: [sol.deferred, g.deferred] };
        const checks: { forward: ErrorReport | null; backward: ErrorReport | null; failing: number[] } = {
          forward: null,
          backward: null,
          failing: [],
        };
        await sol.check().catch((e: unknown) => {
          checks.forward = report(e);
          if (e instanceof webode.OdeSolveError) checks.failing.push(e.failing);
        });
        await g.check().catch((e: unknown) => {
          checks.backward = report(e);
          if (e instanceof webode.OdeSolveError) checks.failing.push(e.failing);
        });
        const deferred = await readPair(sol, g);
        cot.destroy();
        return { waiting, deferred, counted, hostWaits, before, checks };
      } finally {
        f.destroy();
      }
    });
  },

  /** A forward solve, then `backward` with the given cotangents (`gtError`: what reading g.t threw, if it did). */
  async gradient(args: SolveArgs & { dLdy: WireArray; backward?: webode.BackwardOptions }) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      try {
        f.setParameters(decode(args.params));
        const sol = await webode.odeint(f, decode(args.y0), args.t, args.options);
        const live0 = r.counters.liveBytes;
        const counted0 = { ...calls };
        let error: ErrorReport | null = null;
        let g: webode.Gradients | null = null;
        const t0 = performance.now();
        try {
          g = await sol.backward(decode(args.dLdy), args.backward ?? {});
        } catch (e) {
          error = report(e);
        }
        const ms = performance.now() - t0;
        const counted = { mapAsync: calls.mapAsync - counted0.mapAsync, submit: calls.submit - counted0.submit };
        const peakBytes = r.counters.liveBytes - live0;
        const out = g
          ? { gy0: encodeF32(await g.y0.read()), gth: encodeF32(await g.params.read()), ...(await readT(g)), summary: g.summary }
          : { gy0: null, gth: null, gt: null, gtError: null, summary: null };
        g?.destroy();
        const forward = sol.summary;
        sol.destroy();
        return { ...out, error, counted, ms, forward, liveBytesAfterBackward: peakBytes };
      } finally {
        f.destroy();
      }
    });
  },

  /**
   * One forward solve, then `backward` once per entry of `runs` on that same
   * solution and cotangents. For each run: the gradients, the summary, the
   * WebGPU calls counted, and the peak GPU memory while it ran, measured two
   * ways: `peakBytes`, the WebGPU buffers created during the call and not yet
   * destroyed (GPUDevice.createBuffer and GPUBuffer.destroy wrapped, so it is
   * independent of webode's bookkeeping), and `peakLiveBytes`, the peak of
   * webode's `counters.liveBytes` above its value before the call (sampled
   * after every `runtime.createBuffer`).
   */
  async backwardRuns(args: SolveArgs & { dLdy: WireArray; runs: webode.BackwardOptions[] }) {
    return scoped(async (r) => {
      const f = new webode.MLP(r, args.mlp);
      try {
        f.setParameters(decode(args.params));
        const sol = await webode.odeint(f, decode(args.y0), args.t, args.options);
        const dLdy = decode(args.dLdy);
        const runs = [];
        for (const options of args.runs) {
          const sizes = new Map<GPUBuffer, number>();
          let live = 0;
          let peakBytes = 0;
          const live0 = r.counters.liveBytes;
          let peakLiveBytes = 0;
          const origCreate = GPUDevice.prototype.createBuffer;
          const origDestroy = GPUBuffer.prototype.destroy;
          const ownCreate = r.createBuffer;
          GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
            const b = origCreate.call(this, desc);
            sizes.set(b, desc.size);
            live += desc.size;
            peakBytes = Math.max(peakBytes, live);
            return b;
          };
          GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
            const s = sizes.get(this);
            if (s !== undefined) {
              sizes.delete(this);
              live -= s;
            }
            return origDestroy.call(this);
          };
          r.createBuffer = (label, size, usage) => {
            const b = ownCreate.call(r, label, size, usage);
            peakLiveBytes = Math.max(peakLiveBytes, r.counters.liveBytes - live0);
            return b;
          };
          const counted0 = { ...calls };
          let error: ErrorReport | null = null;
          let g: webode.Gradients | null = null;
          const t0 = performance.now();
          try {
            g = await sol.backward(dLdy, options);
          } catch (e) {
            error = report(e);
          } finally {
            GPUDevice.prototype.createBuffer = origCreate;
            GPUBuffer.prototype.destroy = origDestroy;
            r.createBuffer = ownCreate;
          }
          const ms = performance.now() - t0;
          const counted = { mapAsync: calls.mapAsync - counted0.mapAsync, submit: calls.submit - counted0.submit };
          const memory = { peakBytes, bytesLeft: live, peakLiveBytes, liveBytesLeft: r.counters.liveBytes - live0 };
          const out = g
            ? { gy0: encodeF32(await g.y0.read()), gth: encodeF32(await g.params.read()), summary: g.summary }
            : { gy0: null, gth: null, summary: null };
          g?.destroy();
          runs.push({ ...out, error, counted, ms, memory });
        }
        const forward = sol.summary;
        sol.destroy();
        return { runs, forward };
      } finally {
        f.destroy();
      }
    });
  },
};

export type Ops = typeof ops;

declare global {
  interface Window {
    harness: { call: (op: string, args: unknown) => Promise<unknown> };
    harnessReady: boolean;
  }
}

window.harness = {
  async call(op: string, args: unknown) {
    const fn = (ops as Record<string, (a: unknown) => Promise<unknown>>)[op];
    if (!fn) throw new Error(`unknown harness op ${op}`);
    return fn(args);
  },
};
/**
 * The library itself and the WebGPU call counts, for tests whose page-side
 * code runs in `page.evaluate` (fault-*.test.ts, resources-*.test.ts: device
 * loss, missing WebGPU, devices at default limits, long loops) rather than
 * in one of the operations above.
 */
export interface WebodeTestHandle {
  readonly webode: typeof webode;
  readonly calls: typeof calls;
  /** An error as plain data: class name, message, and the argument of an ArgumentError. */
  report(e: unknown): ErrorReport & { webodeError: boolean };
  /** Runs `body` in validation / out-of-memory / internal error scopes of `device`; returns the errors seen. */
  errorScopes<T>(device: GPUDevice, body: () => Promise<T>): Promise<{ value: T; gpuErrors: string[] }>;
}
(window as unknown as { webodeTest: WebodeTestHandle }).webodeTest = {
  webode,
  calls,
  report: (e) => ({ ...report(e), webodeError: e instanceof webode.WebodeError }),
  async errorScopes(device, body) {
    for (const filter of ['validation', 'out-of-memory', 'internal'] as const) device.pushErrorScope(filter);
    const gpuErrors: string[] = [];
    let value;
    try {
      value = await body();
    } finally {
      for (let i = 0; i < 3; i++) {
        const e = await device.popErrorScope().catch((x: unknown) => ({ message: `popErrorScope failed: ${String(x)}` }));
        if (e) gpuErrors.push(e.message);
      }
    }
    return { value, gpuErrors };
  },
};
window.harnessReady = true;
