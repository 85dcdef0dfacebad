/**
 * Table 5: GPU memory of a backward solve of about 100 and about 10,000 steps
 * of the same problem (same model, B, D, T): fixed-step Euler (the cheapest
 * step, so the 10,000-step solves stay short) on [0, 1] with h = 1e-2 and
 * h = 1e-4, for the adjoint (memory independent of the step count by design)
 * and for backprop (a checkpoint tape of k ≈ √N steps, so memory grows as √N
 * by design).
 *
 * Memory is counted two ways while `sol.backward` runs: the peak of webode's
 * own `runtime.counters.liveBytes` above its value before the call (sampled
 * after every `Runtime.createBuffer`), and, independently of webode's
 * bookkeeping, the peak bytes of WebGPU buffers created on the device during
 * the call and not yet destroyed (`GPUDevice.prototype.createBuffer` and
 * `GPUBuffer.prototype.destroy` wrapped for the duration of the call).
 */
import { type BackwardOptions, type Gradients, type Runtime, Tensor, odeint } from '../src/index';
import type { Limits } from './limits';
import { SPIRAL, linspace, makeModel, meanSquareCotangent, modelY0 } from './solves';
import { type SectionResult, type Table, int, ms, ratio } from './table';
import { progress } from './timing';

/**
 * Small on purpose: a workgroup of 64 samples runs on one CPU thread under
 * SwiftShader, so the 10,000-step solves cost time in proportion to B.
 */
const B = 8;
const T = 11;
const STEP_SIZES = [1e-2, 1e-4] as const;
/** One stage per step: the 10,000-step solves cost the least time. */
const METHOD = 'euler';
const MODES: readonly { label: string; options: BackwardOptions }[] = [
  { label: 'adjoint', options: {} },
  { label: 'backprop', options: { mode: 'backprop' } },
];

export interface MemoryRun {
  readonly mode: string;
  readonly stepSize: number;
  readonly forwardSteps: number;
  /** Accepted steps per sample the backward summary reports (the adjoint's own; backprop's are the forward's). */
  readonly backwardSteps: number;
  /** Peak of counters.liveBytes above its value before the call. */
  readonly peakLiveBytes: number;
  /** Peak bytes of WebGPU buffers created during the call and alive at once. */
  readonly peakDeviceBytes: number;
  /** counters.liveBytes left after the call (the two gradient tensors). */
  readonly liveBytesLeft: number;
  /** Bytes of the forward solution alive during the call (outputs, per-sample state), and of the cotangents. */
  readonly solutionBytes: number;
  readonly cotangentBytes: number;
  readonly ms: number;
  readonly hostWaits: number;
}

/** Runs `body` with the device's buffer creation and destruction counted; returns its result and the peak. */
async function withPeak<R>(rt: Runtime, body: () => Promise<R>): Promise<{ value: R; peakLive: number; peakDevice: number }> {
  const device = rt.device;
  const sizes = new Map<GPUBuffer, number>();
  let deviceLive = 0;
  let peakDevice = 0;
  const live0 = rt.counters.liveBytes;
  let peakLive = 0;
  const origCreate = GPUDevice.prototype.createBuffer;
  const origDestroy = GPUBuffer.prototype.destroy;
  const ownCreate = rt.createBuffer;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const b = origCreate.call(this, desc);
    if (this === device) {
      sizes.set(b, desc.size);
      deviceLive += desc.size;
      peakDevice = Math.max(peakDevice, deviceLive);
    }
    return b;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    const s = sizes.get(this);
    if (s !== undefined) {
      sizes.delete(this);
      deviceLive -= s;
    }
    return origDestroy.call(this);
  };
  rt.createBuffer = (label, size, usage) => {
    const b = ownCreate.call(rt, label, size, usage);
    peakLive = Math.max(peakLive, rt.counters.liveBytes - live0);
    return b;
  };
  try {
    const value = await body();
    return { value, peakLive, peakDevice };
  } finally {
    GPUDevice.prototype.createBuffer = origCreate;
    GPUBuffer.prototype.destroy = origDestroy;
    rt.createBuffer = ownCreate;
  }
}

export async function measureMemory(rt: Runtime): Promise<MemoryRun[]> {
  const m = SPIRAL;
  const f = makeModel(rt, m);
  const y0 = modelY0(m, B, 41);
  const t = linspace(0, 1, T);
  const runs: MemoryRun[] = [];
  try {
    for (const stepSize of STEP_SIZES) {
      const before = rt.counters.liveBytes;
      const sol = await odeint(f, y0, t, { method: METHOD, stepSize });
      const solutionBytes = rt.counters.liveBytes - before;
      const cot = Tensor.fromArray(rt, meanSquareCotangent(await sol.y.read()), [T, B, sol.dim], 'bench memory cotangent');
      const cotangentBytes = rt.counters.liveBytes - before - solutionBytes;
      try {
        for (const mode of MODES) {
          const live0 = rt.counters.liveBytes;
          const t0 = performance.now();
          const { value: g, peakLive, peakDevice } = await withPeak<Gradients>(rt, () => sol.backward(cot, mode.options));
          const elapsed = performance.now() - t0;
          const liveBytesLeft = rt.counters.liveBytes - live0;
          g.destroy();
          runs.push({
            mode: mode.label,
            stepSize,
            forwardSteps: sol.summary.accepted / B,
            backwardSteps: g.summary.accepted / B,
            peakLiveBytes: peakLive,
            peakDeviceBytes: peakDevice,
            liveBytesLeft,
            solutionBytes,
            cotangentBytes,
            ms: elapsed,
            hostWaits: g.summary.hostWaits,
          });
          progress(`memory: ${mode.label}, h = ${stepSize}: peak ${int(peakLive)} B in ${ms(elapsed)}`);
        }
      } finally {
        cot.destroy();
        sol.destroy();
      }
    }
  } finally {
    f.destroy();
  }
  return runs;
}

export function memoryTable(runs: readonly MemoryRun[]): Table {
  const base = (r: MemoryRun) => runs.find((x) => x.mode === r.mode && x.stepSize === STEP_SIZES[0]);
  const rows = runs.map((r) => {
    const b = base(r);
    const growth = b ? r.peakLiveBytes / b.peakLiveBytes : NaN;
    const stepRatio = b ? r.forwardSteps / b.forwardSteps : NaN;
    return [
      r.mode,
      `${r.stepSize}`,
      int(r.forwardSteps),
      int(r.peakLiveBytes),
      int(r.peakDeviceBytes),
      int(r.liveBytesLeft),
      r === b ? '' : `${ratio(growth)} (√ steps ${ratio(Math.sqrt(stepRatio))})`,
      ms(r.ms),
      int(r.hostWaits),
    ];
  });
  const adj = runs.filter((r) => r.mode === 'adjoint');
  const flat = adj.length === 2 && adj[0].peakLiveBytes === adj[1].peakLiveBytes && adj[0].peakDeviceBytes === adj[1].peakDeviceBytes;
  const first = runs[0];
  return {
    id: '5',
    title: `Memory of a backward solve: ${SPIRAL.name}, B = ${B}, T = ${T} outputs on [0, 1], ${METHOD} with fixed step h (100 vs 10,000 steps)`,
    columns: [
      'mode',
      'h',
      'steps / sample',
      'peak GPU bytes (liveBytes)',
      'peak GPU bytes (device)',
      'left after',
      'vs 100 steps',
      'time',
      'host waits',
    ],
    rows,
    notes: [
      'Peak GPU bytes allocated during sol.backward above what was alive before the call, counted twice: webode\'s counters.liveBytes (sampled at every Runtime.createBuffer) and, independently, WebGPU buffers created on the device during the call (GPUDevice.createBuffer / GPUBuffer.destroy wrapped).',
      first
        ? `Alive during the call and not counted: the forward Solution (outputs [T][B][D] and per-sample state, ${int(first.solutionBytes)} B), the cotangent tensor (${int(first.cotangentBytes)} B) and the parameters. "left after" = the returned dL/dy0 and dL/dθ.`
        : '',
      `Target: adjoint memory the same at 100 and 10,000 steps — ${flat ? 'met (equal bytes)' : 'missed'}. Backprop keeps a checkpoint tape of k ≈ √N steps per sample, so its memory grows about as √steps (the tape is only part of the total).`,
    ],
  };
}

export async function memorySection(rt: Runtime, _limits: Limits): Promise<SectionResult> {
  const runs = await measureMemory(rt);
  return { data: { batch: B, outputs: T, runs }, tables: [memoryTable(runs)] };
}
