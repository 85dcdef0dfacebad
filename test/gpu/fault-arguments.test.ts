/**
 * Bad input on the real entry points (`new MLP`, `setParameters`,
 * `forward`, `odeint`, `solution.backward`, `createRuntime`,
 * `Tensor.fromArray`): each gets a typed error naming the argument, before
 * any GPU work — no submit, no map, no pipeline compiled, no buffer left
 * allocated, no WebGPU error. This file holds the cases that
 * solve-failures.test.ts ("bad arguments") does not; the pure validators
 * behind them are unit-tested in test/unit/errors-validation.test.ts.
 * Together they cover the rows of README's "Errors and faults" table.
 *
 * All cases run in one page call on one runtime (with a solution to call
 * `backward` on); the page returns, per case, the error and the work done.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WebodeTestHandle } from './harness';
import { useHarness } from './solve-helpers';
import { encodeF32 } from './wire';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();

/** What the page does for a case (data only: the page interprets it). */
interface Case {
  name: string;
  /** The error class expected (UnknownMethodError, for methods, is an ArgumentError), and the argument it names. */
  error: 'ArgumentError';
  argument: string;
  call:
    | { target: 'MLP'; runtime?: 'not-a-runtime'; options: unknown }
    | { target: 'setParameters'; params: unknown }
    | { target: 'forward'; z: unknown; t?: unknown }
    | { target: 'odeint'; f?: 'not-an-mlp'; y0?: unknown; t?: unknown; options?: unknown }
    | { target: 'backward'; forward?: unknown; dLdy?: unknown; dLdyTensor?: number; options?: unknown }
    | { target: 'createRuntime'; options: unknown }
    | { target: 'Tensor.fromArray'; data: unknown; shape: unknown };
}

/** The MLP of every case: layers [2, 8, 2], P = 2·8 + 8 + 8·2 + 2 = 42; y0 of 2 samples; 3 output times. */
const P = 42;
const NT = 3 * 2 * 2; // T·B·D values of a cotangent

const CASES: Case[] = [
  // new MLP
  { name: 'new MLP: layers with one entry', error: 'ArgumentError', argument: 'layers', call: { target: 'MLP', options: { layers: [2] } } },
  { name: 'new MLP: a zero width', error: 'ArgumentError', argument: 'layers[1]', call: { target: 'MLP', options: { layers: [2, 0, 2] } } },
  { name: 'new MLP: a non-integer width', error: 'ArgumentError', argument: 'layers[1]', call: { target: 'MLP', options: { layers: [2, 1.5, 2] } } },
  { name: 'new MLP: output width ≠ input width (state dimension)', error: 'ArgumentError', argument: 'layers[0]', call: { target: 'MLP', options: { layers: [2, 8, 3] } } },
  { name: 'new MLP: timeInput without the extra input column', error: 'ArgumentError', argument: 'layers[0]', call: { target: 'MLP', options: { layers: [2, 8, 2], timeInput: true } } },
  { name: 'new MLP: unknown activation', error: 'ArgumentError', argument: 'activation', call: { target: 'MLP', options: { layers: [2, 8, 2], activation: 'gelu' } } },
  { name: 'new MLP: seed NaN', error: 'ArgumentError', argument: 'seed', call: { target: 'MLP', options: { layers: [2, 8, 2], seed: NaN } } },
  { name: 'new MLP: not a runtime', error: 'ArgumentError', argument: 'runtime', call: { target: 'MLP', runtime: 'not-a-runtime', options: { layers: [2, 8, 2] } } },
  // parameters and forward
  { name: 'setParameters: wrong length', error: 'ArgumentError', argument: 'params', call: { target: 'setParameters', params: new Array(P - 1).fill(0) } },
  { name: 'forward: z not a multiple of D', error: 'ArgumentError', argument: 'z', call: { target: 'forward', z: [1, 2, 3] } },
  { name: 'forward: t NaN', error: 'ArgumentError', argument: 't', call: { target: 'forward', z: [1, 2], t: NaN } },
  // odeint: what solve-failures.test.ts does not cover
  { name: 'odeint: f not an MLP', error: 'ArgumentError', argument: 'f', call: { target: 'odeint', f: 'not-an-mlp' } },
  { name: 'odeint: y0 entry not a number', error: 'ArgumentError', argument: 'y0[1]', call: { target: 'odeint', y0: [0.1, '0.2', 0.3, 0.4] } },
  { name: 'odeint: t not an array', error: 'ArgumentError', argument: 't', call: { target: 'odeint', t: 1 } },
  { name: 'odeint: t −Infinity', error: 'ArgumentError', argument: 't[0]', call: { target: 'odeint', t: [-Infinity, 1] } },
  { name: 'odeint: options not an object', error: 'ArgumentError', argument: 'options', call: { target: 'odeint', options: 'dopri5' } },
  { name: 'odeint: rtol NaN', error: 'ArgumentError', argument: 'options.rtol', call: { target: 'odeint', options: { rtol: NaN } } },
  { name: 'odeint: atol NaN', error: 'ArgumentError', argument: 'options.atol', call: { target: 'odeint', options: { atol: NaN } } },
  { name: 'odeint: atol < 0', error: 'ArgumentError', argument: 'options.atol', call: { target: 'odeint', options: { atol: -1e-7 } } },
  { name: 'odeint: stepSize NaN', error: 'ArgumentError', argument: 'options.stepSize', call: { target: 'odeint', options: { method: 'rk4', stepSize: NaN } } },
  { name: 'odeint: firstStep 0', error: 'ArgumentError', argument: 'options.firstStep', call: { target: 'odeint', options: { firstStep: 0 } } },
  { name: 'odeint: maxSteps -5', error: 'ArgumentError', argument: 'options.maxSteps', call: { target: 'odeint', options: { maxSteps: -5 } } },
  { name: 'odeint: stepsPerDispatch 2.5', error: 'ArgumentError', argument: 'options.stepsPerDispatch', call: { target: 'odeint', options: { stepsPerDispatch: 2.5 } } },
  { name: 'odeint: stepControl unknown', error: 'ArgumentError', argument: 'options.stepControl', call: { target: 'odeint', options: { stepControl: 'global' } } },
  { name: 'odeint: deferred not a boolean', error: 'ArgumentError', argument: 'options.deferred', call: { target: 'odeint', options: { deferred: 'yes' } } },
  { name: 'odeint: dispatchBudget without deferred', error: 'ArgumentError', argument: 'options.dispatchBudget', call: { target: 'odeint', options: { dispatchBudget: 8 } } },
  { name: 'odeint: dispatchBudget 0', error: 'ArgumentError', argument: 'options.dispatchBudget', call: { target: 'odeint', options: { deferred: true, dispatchBudget: 0 } } },
  // backward
  { name: 'backward: cotangent of the wrong length', error: 'ArgumentError', argument: 'dLdy', call: { target: 'backward', dLdy: new Array(NT - 2).fill(1) } },
  { name: 'backward: cotangent tensor of the wrong size', error: 'ArgumentError', argument: 'dLdy', call: { target: 'backward', dLdyTensor: NT + 4 } },
  { name: 'backward: cotangent with a NaN', error: 'ArgumentError', argument: 'dLdy[5]', call: { target: 'backward', dLdy: Array.from({ length: NT }, (_, i) => (i === 5 ? NaN : 1)) } },
  { name: 'backward: options not an object', error: 'ArgumentError', argument: 'options', call: { target: 'backward', options: 7 } },
  { name: 'backward: unknown mode', error: 'ArgumentError', argument: 'options.mode', call: { target: 'backward', options: { mode: 'reverse' } } },
  { name: 'backward: memoryBudget 0', error: 'ArgumentError', argument: 'options.memoryBudget', call: { target: 'backward', options: { memoryBudget: 0 } } },
  { name: 'backward: memoryBudget NaN', error: 'ArgumentError', argument: 'options.memoryBudget', call: { target: 'backward', options: { memoryBudget: NaN } } },
  { name: 'backward: unknown method', error: 'ArgumentError', argument: 'options.method', call: { target: 'backward', options: { method: 'rk45' } } },
  { name: 'backward: rtol 0', error: 'ArgumentError', argument: 'options.rtol', call: { target: 'backward', options: { rtol: 0 } } },
  { name: 'backward: stepsPerDispatch 0', error: 'ArgumentError', argument: 'options.stepsPerDispatch', call: { target: 'backward', options: { stepsPerDispatch: 0 } } },
  { name: 'backward: fixed-step method without a step size', error: 'ArgumentError', argument: 'options.stepSize', call: { target: 'backward', options: { method: 'rk4' } } },
  { name: 'backward: step size for an adaptive reverse method', error: 'ArgumentError', argument: 'options.stepSize', call: { target: 'backward', options: { stepSize: 0.1 } } },
  { name: "backward: mode 'backprop' with method set", error: 'ArgumentError', argument: 'options.method', call: { target: 'backward', options: { mode: 'backprop', method: 'dopri5' } } },
  { name: "backward: mode 'backprop' with rtol set", error: 'ArgumentError', argument: 'options.rtol', call: { target: 'backward', options: { mode: 'backprop', rtol: 1e-5 } } },
  { name: "backward: mode 'backprop' with stepSize set", error: 'ArgumentError', argument: 'options.stepSize', call: { target: 'backward', options: { mode: 'backprop', stepSize: 0.1 } } },
  { name: "backward: mode 'backprop' after a batch-controlled solve", error: 'ArgumentError', argument: 'options.mode', call: { target: 'backward', forward: { stepControl: 'batch' }, options: { mode: 'backprop' } } },
  { name: "backward: mode 'backprop' with stepsPerDispatch 0", error: 'ArgumentError', argument: 'options.stepsPerDispatch', call: { target: 'backward', options: { mode: 'backprop', stepsPerDispatch: 0 } } },
  { name: "backward: mode 'backprop' deferred", error: 'ArgumentError', argument: 'options.deferred', call: { target: 'backward', options: { mode: 'backprop', deferred: true } } },
  { name: "backward: kernel 'warp'", error: 'ArgumentError', argument: 'options.kernel', call: { target: 'backward', options: { kernel: 'warp' } } },
  { name: "backward: mode 'backprop' with a kernel", error: 'ArgumentError', argument: 'options.kernel', call: { target: 'backward', options: { mode: 'backprop', kernel: 'invocation' } } },
  { name: 'backward: dispatchBudget 2.5', error: 'ArgumentError', argument: 'options.dispatchBudget', call: { target: 'backward', options: { deferred: true, dispatchBudget: 2.5 } } },
  // runtime and tensors
  { name: 'createRuntime: options.device not a GPUDevice', error: 'ArgumentError', argument: 'options.device', call: { target: 'createRuntime', options: { device: { limits: {} } } } },
  { name: 'createRuntime: options not an object', error: 'ArgumentError', argument: 'options', call: { target: 'createRuntime', options: 'gpu' } },
  { name: 'createRuntime: onUncapturedError not a function', error: 'ArgumentError', argument: 'options.onUncapturedError', call: { target: 'createRuntime', options: { onUncapturedError: 'log' } } },
  { name: 'Tensor.fromArray: data of the wrong length', error: 'ArgumentError', argument: 'data', call: { target: 'Tensor.fromArray', data: [1, 2, 3], shape: [2, 2] } },
  { name: 'Tensor.fromArray: a non-integer size', error: 'ArgumentError', argument: 'shape', call: { target: 'Tensor.fromArray', data: [1, 2, 3], shape: [1.5, 2] } },
];

/** JSON with NaN, ±Infinity kept (puppeteer would turn nested ones into null). */
const encode = (x: unknown) =>
  JSON.stringify(x, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? { __number: String(v) } : v));

interface CaseResult {
  name: string;
  error: { name: string; message: string; argument?: string; webodeError: boolean } | null;
  submit: number;
  mapAsync: number;
  pipelines: number;
  liveBuffers: number;
  gpuErrors: string[];
}

let results: Map<string, CaseResult>;
const warnings: string[] = [];
let rtolFloor: { rtol: number; error: string | null; gpuErrors: string[] };

beforeAll(async () => {
  const page = harness().page;
  page.on('console', (m) => {
    if (m.type() === 'warn') warnings.push(m.text());
  });
  const r = await page.evaluate(async (json: string) => {
    const { webode, calls, report } = webodeTest;
    const cases = JSON.parse(json, (_, v) => (v && typeof v === 'object' && '__number' in v ? Number(v.__number) : v)) as Case[];
    const uncaptured: string[] = [];
    const rt = await webode.createRuntime({ onUncapturedError: (e) => uncaptured.push(e.message) });
    const f = new webode.MLP(rt, { layers: [2, 8, 2] });
    const y0 = [0.1, 0.2, 0.3, 0.4];
    const t = [0, 0.5, 1];
    const solutions = new Map<string, InstanceType<typeof webode.Solution>>();
    const solutionFor = async (forward: unknown) => {
      const key = JSON.stringify(forward ?? {});
      let s = solutions.get(key);
      if (!s) {
        s = await webode.odeint(f, y0, t, (forward ?? {}) as never);
        solutions.set(key, s);
      }
      return s;
    };
    // Solve once (compiling the pipelines) so that a case compiling one would show.
    await solutionFor(undefined);
    await solutionFor({ stepControl: 'batch' });
    const out: CaseResult[] = [];
    for (const c of cases) {
      const call = c.call;
      const sol = call.target === 'backward' ? await solutionFor(call.forward) : null;
      const tensor = call.target === 'backward' && call.dLdyTensor ? webode.Tensor.zeros(rt, [call.dLdyTensor], 'test cotangent') : null;
      const c0 = { ...calls };
      const r0 = { ...rt.counters };
      const { value: error, gpuErrors } = await webodeTest.errorScopes(rt.device, async () => {
        try {
          switch (call.target) {
            case 'MLP':
              new webode.MLP(call.runtime ? (call.runtime as never) : rt, call.options as never).destroy();
              break;
            case 'setParameters':
              f.setParameters(call.params as never);
              break;
            case 'forward':
              f.forward(call.z as never, call.t as never).destroy();
              break;
            case 'odeint':
              (await webode.odeint(call.f ? (call.f as never) : f, (call.y0 ?? y0) as never, (call.t ?? t) as never, call.options as never)).destroy();
              break;
            case 'backward':
              (await sol!.backward((tensor ?? call.dLdy ?? new Array(12).fill(1)) as never, call.options as never)).destroy();
              break;
            case 'createRuntime':
              (await webode.createRuntime(call.options as never)).destroy();
              break;
            case 'Tensor.fromArray':
              webode.Tensor.fromArray(rt, call.data as never, call.shape as never).destroy();
              break;
          }
          return null;
        } catch (e) {
          return report(e);
        }
      });
      out.push({
        name: c.name,
        error,
        submit: calls.submit - c0.submit,
        mapAsync: calls.mapAsync - c0.mapAsync,
        pipelines: rt.counters.pipelinesCompiled - r0.pipelinesCompiled,
        liveBuffers: rt.counters.liveBuffers - r0.liveBuffers,
        gpuErrors,
      });
      tensor?.destroy();
    }
    // rtol below the float32 floor: warned and raised to MIN_RTOL, and the solve runs.
    const floor = await webodeTest.errorScopes(rt.device, async () => {
      try {
        const s = await webode.odeint(f, y0, t, { rtol: 1e-10 });
        const rtol = s.options.rtol;
        s.destroy();
        return { rtol, error: null };
      } catch (e) {
        return { rtol: NaN, error: String(e) };
      }
    });
    for (const s of solutions.values()) s.destroy();
    f.destroy();
    const leftover = rt.counters.liveBuffers;
    rt.destroy();
    return { out, leftover, uncaptured, floor: { ...floor.value, gpuErrors: floor.gpuErrors } };
  }, encode(CASES));
  results = new Map(r.out.map((x) => [x.name, x]));
  rtolFloor = r.floor;
  expect(r.leftover).toBe(0);
  expect(r.uncaptured).toEqual([]);
});

describe('bad arguments on every entry point: typed error naming the argument, no GPU work', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const r = results.get(c.name)!;
      expect(r.error, 'no error was thrown').not.toBeNull();
      expect(r.error!.name).toBe(c.error);
      expect(r.error!.webodeError).toBe(true);
      expect(r.error!.argument).toBe(c.argument);
      expect(r.error!.message.startsWith(`${c.argument}: expected `)).toBe(true);
      expect(r.error!.message).toContain('received');
      expect(r.gpuErrors).toEqual([]);
      expect({ submit: r.submit, mapAsync: r.mapAsync, pipelines: r.pipelines, liveBuffers: r.liveBuffers }).toEqual({
        submit: 0,
        mapAsync: 0,
        pipelines: 0,
        liveBuffers: 0,
      });
    });
  }
});

describe('tolerances below what float32 can honour', () => {
  it('rtol = 1e-10: warned once on the console and raised to MIN_RTOL = 1e-7; the solve runs', () => {
    expect(rtolFloor.error).toBeNull();
    expect(rtolFloor.gpuErrors).toEqual([]);
    expect(rtolFloor.rtol).toBe(1e-7);
    const w = warnings.filter((m) => m.includes('rtol'));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/options\.rtol = 1e-10 is below what float32 arithmetic can honour; using rtol = 1e-7 instead/);
  });
});

describe('WebGPU validation errors fail the harness operation', () => {
  it('an operation during which WebGPU raised a validation error rejects, even if its test never reads gpuErrors', async () => {
    const h = harness();
    // Make the next bind group of the shared runtime's solve invalid (no entries).
    await h.page.evaluate(() => {
      const orig = GPUDevice.prototype.createBindGroup;
      GPUDevice.prototype.createBindGroup = function (this: GPUDevice, desc: GPUBindGroupDescriptor) {
        GPUDevice.prototype.createBindGroup = orig;
        return orig.call(this, { ...desc, entries: [] });
      };
    });
    const y0 = new Float32Array([0.1, 0.2]);
    const params = new Float32Array(2 * 8 + 8 + 8 * 2 + 2).fill(0.1);
    await expect(
      h.call('solve', { mlp: { layers: [2, 8, 2] }, params: encodeF32(params), y0: encodeF32(y0), t: [0, 1], options: { method: 'rk4', stepSize: 0.5 } }),
    ).rejects.toThrow(/WebGPU error\(s\) during a harness operation: .*entries/s);
    // The shared runtime is unharmed: the same solve now succeeds.
    const ok = await h.call('solve', { mlp: { layers: [2, 8, 2] }, params: encodeF32(params), y0: encodeF32(y0), t: [0, 1], options: { method: 'rk4', stepSize: 0.5 } });
    expect(ok.error).toBeNull();
    expect(ok.gpuErrors).toEqual([]);
  });
});
