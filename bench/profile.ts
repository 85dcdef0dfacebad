/**
 * Table 1c: GPU time per kernel from timestamp queries, where the adapter has
 * them ('timestamp-query'; SwiftShader does).
 *
 * The page's main runtime is created without optional features, so this
 * section requests a second device with `requiredFeatures: ['timestamp-query']`
 * (and the adapter's storage limits, as src/runtime/runtime.ts asks for) and
 * wraps it with `createRuntime({ device })`. webode records its passes itself,
 * so timestamps cannot be passed in; instead, while a measurement runs, the
 * device's `createCommandEncoder` is wrapped (on this device only, for the
 * duration of the call) so that every compute pass any code begins gets
 * `timestampWrites` at its beginning and end, its dispatches and pipelines
 * are counted, and the queries are resolved into a buffer just before the
 * encoder finishes. That reaches every pass of `MLP.forward`, of `odeint`
 * (the integration kernel plus the driver's probes and summary per round) and
 * of `sol.backward` (the adjoint kernel, the parameter-gradient reduction),
 * and the passes of bench/vjp.ts's standalone VJP kernels, without touching
 * src/. GPU time / wall time says how much of the host-measured time the GPU
 * spends in those passes; the rest is submission, host waits and host code.
 */
import { MLP, type Runtime, Tensor, createRuntime, odeint } from '../src/index';
import { mlpFlops } from '../src/mlp/mlp';
import { adapterLimits } from '../src/runtime/runtime';
import { KERNEL_LAYERS, randomStates } from './kernels';
import type { Limits } from './limits';
import { SPIRAL, ATOL, RTOL, linspace, makeModel, meanSquareCotangent, modelY0 } from './solves';
import { type SectionResult, int, ms, pct, sig } from './table';
import { gpuIdle, median, progress } from './timing';
import { VjpKernels, vjpFlops } from './vjp';

const MAX_PASSES = 2048;
/** resolveQuerySet destination offsets must be multiples of 256 bytes: one slot per pass. */
const SLOT_BYTES = 256;
const PROFILE_BATCH = 16_384;
const SOLVE_BATCH = 1024;
const TARGET_MS = 150;
const RUNS = 3;

interface Group {
  readonly gpu: number[];
  readonly dispatches: number[];
  readonly passes: number[];
  /** GPU time / wall time of each run. */
  readonly share: number[];
}

interface PassRecord {
  readonly label: string;
  readonly pipelines: Set<string>;
  dispatches: number;
}

export interface PassTime {
  readonly label: string;
  readonly pipelines: readonly string[];
  readonly dispatches: number;
  readonly gpuMs: number;
}

/** Timestamps at the beginning and end of every compute pass recorded on `device` while installed. */
export class PassProfiler {
  private readonly device: GPUDevice;
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly original: GPUDevice['createCommandEncoder'];

  constructor(device: GPUDevice) {
    this.device = device;
    this.querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count: 2 * MAX_PASSES });
    this.resolve = device.createBuffer({ label: 'bench timestamps resolve', size: MAX_PASSES * SLOT_BYTES, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.staging = device.createBuffer({ label: 'bench timestamps read', size: MAX_PASSES * SLOT_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.original = device.createCommandEncoder.bind(device);
  }

  /** Runs `body` with every compute pass timed; returns its wall time and the passes it recorded. */
  async measure(body: () => Promise<unknown>): Promise<{ wallMs: number; passes: PassTime[] }> {
    const device = this.device;
    const { querySet, resolve } = this;
    const records: PassRecord[] = [];
    const wrapped = (descriptor?: GPUCommandEncoderDescriptor): GPUCommandEncoder => {
      const encoder = this.original(descriptor);
      const slots: number[] = [];
      const begin = encoder.beginComputePass.bind(encoder);
      const finish = encoder.finish.bind(encoder);
      encoder.beginComputePass = (d?: GPUComputePassDescriptor) => {
        if (d?.timestampWrites || records.length >= MAX_PASSES) return begin(d);
        const slot = records.length;
        const rec: PassRecord = { label: d?.label ?? '', pipelines: new Set(), dispatches: 0 };
        records.push(rec);
        slots.push(slot);
        const pass = begin({ ...d, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * slot, endOfPassWriteIndex: 2 * slot + 1 } });
        const setPipeline = pass.setPipeline.bind(pass);
        const dispatch = pass.dispatchWorkgroups.bind(pass);
        const indirect = pass.dispatchWorkgroupsIndirect.bind(pass);
        pass.setPipeline = (p: GPUComputePipeline) => {
          rec.pipelines.add(p.label);
          setPipeline(p);
        };
        pass.dispatchWorkgroups = (x: number, y?: number, z?: number) => {
          rec.dispatches++;
          dispatch(x, y, z);
        };
        pass.dispatchWorkgroupsIndirect = (b: GPUBuffer, o: number) => {
          rec.dispatches++;
          indirect(b, o);
        };
        return pass;
      };
      encoder.finish = (d?: GPUCommandBufferDescriptor) => {
        for (const s of slots) encoder.resolveQuerySet(querySet, 2 * s, 2, resolve, s * SLOT_BYTES);
        return finish(d);
      };
      return encoder;
    };
    Object.defineProperty(device, 'createCommandEncoder', { value: wrapped, configurable: true, writable: true });
    let wallMs: number;
    try {
      const t0 = performance.now();
      await body();
      wallMs = performance.now() - t0;
    } finally {
      // Back to the prototype's method.
      delete (device as unknown as Record<string, unknown>).createCommandEncoder;
    }
    return { wallMs, passes: await this.read(records) };
  }

  private async read(records: readonly PassRecord[]): Promise<PassTime[]> {
    if (records.length === 0) return [];
    const bytes = records.length * SLOT_BYTES;
    const encoder = this.device.createCommandEncoder({ label: 'bench timestamps read' });
    encoder.copyBufferToBuffer(this.resolve, 0, this.staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const ts = new BigUint64Array(this.staging.getMappedRange(0, bytes).slice(0));
    this.staging.unmap();
    const step = SLOT_BYTES / 8;
    return records.map((r, i) => ({
      label: r.label,
      pipelines: [...r.pipelines],
      dispatches: r.dispatches,
      gpuMs: Number(ts[i * step + 1] - ts[i * step]) / 1e6,
    }));
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.staging.destroy();
  }
}

export interface ProfileRow {
  readonly kernel: string;
  readonly model: string;
  readonly batch: number;
  /** Dispatches per run in this row's passes. */
  readonly dispatches: number;
  readonly passes: number;
  /** Medians over the runs. */
  readonly gpuMs: number;
  readonly wallMs: number;
  /** Median over the runs of GPU time / wall time. */
  readonly share: number;
  readonly runs: number;
  readonly flopsPerSample?: number;
}

/** Runs `once` (untimed warm-up, then RUNS timed runs) and groups each run's passes by `group(pass)`. */
async function profileRuns(
  prof: PassProfiler,
  once: () => Promise<unknown>,
  group: (p: PassTime) => string,
  warmup = true,
  runs = RUNS,
): Promise<{ groups: Map<string, Group>; wall: number[] }> {
  if (warmup) await prof.measure(once);
  const groups = new Map<string, Group>();
  const wall: number[] = [];
  for (let r = 0; r < runs; r++) {
    const m = await prof.measure(once);
    wall.push(m.wallMs);
    const sums = new Map<string, { gpu: number; dispatches: number; passes: number }>();
    for (const p of m.passes) {
      const k = group(p);
      const s = sums.get(k) ?? { gpu: 0, dispatches: 0, passes: 0 };
      s.gpu += p.gpuMs;
      s.dispatches += p.dispatches;
      s.passes++;
      sums.set(k, s);
    }
    for (const [k, s] of sums) {
      const g = groups.get(k) ?? { gpu: [], dispatches: [], passes: [], share: [] };
      g.gpu.push(s.gpu);
      g.share.push(s.gpu / m.wallMs);
      g.dispatches.push(s.dispatches);
      g.passes.push(s.passes);
      groups.set(k, g);
    }
  }
  return { groups, wall };
}

function rowsOf(
  res: Awaited<ReturnType<typeof profileRuns>>,
  model: string,
  batch: number,
  name: (group: string) => string,
  flopsPerSample?: (group: string) => number | undefined,
): ProfileRow[] {
  return [...res.groups].map(([k, g]) => ({
    kernel: name(k),
    model,
    batch,
    dispatches: median(g.dispatches),
    passes: median(g.passes),
    gpuMs: median(g.gpu),
    wallMs: median(res.wall),
    share: median(g.share),
    runs: g.gpu.length,
    flopsPerSample: flopsPerSample?.(k),
  }));
}

/**
 * After an untimed warm-up, a timed run of `once(1)` decides how many units
 * make a run of about TARGET_MS, and how many runs: 2 when one unit takes
 * over a second (the run time is then the budget's concern, not the noise).
 */
async function unitsFor(once: (n: number) => Promise<unknown>, max: number): Promise<{ n: number; runs: number }> {
  await once(1);
  const t0 = performance.now();
  await once(1);
  const one = performance.now() - t0;
  return { n: Math.max(1, Math.min(max, Math.round(TARGET_MS / Math.max(one, 1e-3)))), runs: one > 1_000 ? 2 : RUNS };
}

async function measureProfile(rt: Runtime, prof: PassProfiler): Promise<{ rows: ProfileRow[]; units: Record<string, number> }> {
  const rows: ProfileRow[] = [];
  const units: Record<string, number> = {};
  const label = (l: readonly number[]) => `[${l.join(', ')}]`;
  const B = PROFILE_BATCH;
  for (const layers of KERNEL_LAYERS) {
    const f = new MLP(rt, { layers, activation: 'tanh', seed: 1 });
    const D = layers[layers.length - 1];
    const z = Tensor.fromArray(rt, randomStates(B * D, 7), [B, D], 'bench profile z');
    const vjp = new VjpKernels(rt, f.spec, f.params.buffer, B);
    try {
      // MLP.forward as users call it: n calls (one pass each), one wait.
      const calls = async (n: number) => {
        const outs: Tensor[] = [];
        for (let i = 0; i < n; i++) outs.push(f.forward(z, 0));
        await gpuIdle(rt.device);
        for (const o of outs) o.destroy();
      };
      const { n, runs } = await unitsFor(calls, 64);
      units[`forward ${label(layers)}`] = n;
      const fwd = await profileRuns(prof, () => calls(n), () => 'MLP.forward', false, runs);
      rows.push(...rowsOf(fwd, label(layers), B, () => 'MLP.forward (one call = one pass)', () => mlpFlops(f.spec)));
      for (const kind of ['z', 'theta'] as const) {
        const u = await unitsFor((k) => vjp.run(kind, k), 64);
        units[`vjp_${kind} ${label(layers)}`] = u.n;
        const r = await profileRuns(prof, () => vjp.run(kind, u.n), () => kind, false, u.runs);
        rows.push(...rowsOf(r, label(layers), B, () => `VJP wrt ${kind === 'z' ? 'z' : 'θ'} (bench/vjp.ts)`, () => vjpFlops(f.spec, kind)));
      }
      progress(`profile: ${label(layers)} B = ${B} done`);
    } finally {
      vjp.destroy();
      z.destroy();
      f.destroy();
    }
  }
  // The solver's own passes: dopri5 forward and adjoint backward of the spiral at B = 1,024 (table 3a's problem).
  const f = makeModel(rt, SPIRAL);
  const y0 = modelY0(SPIRAL, SOLVE_BATCH);
  const t = linspace(0, 1, 11);
  const opts = { rtol: RTOL, atol: ATOL };
  try {
    const first = await odeint(f, y0, t, opts);
    const cot = Tensor.fromArray(rt, meanSquareCotangent(await first.y.read()), [t.length, first.batch, first.dim], 'bench profile cotangent');
    first.destroy();
    try {
      const byLabel = (p: PassTime) => `${p.label} (${p.pipelines.join(' + ')})`;
      const fw = await profileRuns(prof, async () => (await odeint(f, y0, t, opts)).destroy(), byLabel);
      rows.push(...rowsOf(fw, SPIRAL.name, SOLVE_BATCH, (k) => `odeint: ${k}`));
      const sol = await odeint(f, y0, t, opts);
      try {
        const bw = await profileRuns(prof, async () => (await sol.backward(cot)).destroy(), byLabel);
        rows.push(...rowsOf(bw, SPIRAL.name, SOLVE_BATCH, (k) => `sol.backward: ${k}`));
      } finally {
        sol.destroy();
      }
      progress('profile: spiral solves done');
    } finally {
      cot.destroy();
    }
  } finally {
    f.destroy();
  }
  return { rows, units };
}

/** A section's table when the adapter cannot time passes. */
export function unavailableTable(id: string, title: string, reason: string): SectionResult {
  return {
    data: { available: false, reason },
    tables: [{ id, title, columns: ['kernel', 'status'], rows: [['all', `not measured: ${reason}`]], notes: [] }],
  };
}

/**
 * Runs `body` on a second device with 'timestamp-query' (and the adapter's
 * storage limits, as src/runtime/runtime.ts asks for), wrapped by
 * `createRuntime({ device })`, with a PassProfiler on it, inside WebGPU
 * error scopes; frees them all after, and throws if the device reported any
 * error. Returns why not instead when the adapter cannot time passes.
 */
export async function withTimestampDevice<T>(
  label: string,
  body: (rt: Runtime, prof: PassProfiler) => Promise<T>,
): Promise<{ value: T } | { unavailable: string }> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { unavailable: 'no adapter' };
  if (!adapter.features.has('timestamp-query')) return { unavailable: "the adapter has no 'timestamp-query' feature" };
  const device = await adapter.requestDevice({ requiredFeatures: ['timestamp-query'], requiredLimits: adapterLimits(adapter), label });
  const errors: string[] = [];
  const rt = await createRuntime({ device, onUncapturedError: (e) => errors.push(e.message) });
  const scopes = ['validation', 'out-of-memory', 'internal'] as const;
  for (const s of scopes) device.pushErrorScope(s);
  const prof = new PassProfiler(device);
  let value: T;
  try {
    value = await body(rt, prof);
  } finally {
    for (let i = 0; i < scopes.length; i++) {
      const e = await device.popErrorScope();
      if (e) errors.push(e.message);
    }
    prof.destroy();
    rt.destroy();
    device.destroy();
  }
  if (errors.length) throw new Error(`GPU errors on the ${label}:\n${errors.join('\n')}`);
  return { value };
}

export async function profileSection(limits: Limits): Promise<SectionResult> {
  const run = await withTimestampDevice('bench timestamp device', measureProfile);
  if ('unavailable' in run) return unavailableTable('1c', 'GPU time per kernel (timestamp queries)', run.unavailable);
  const measured = run.value;
  const { rows } = measured;
  const body = rows.map((r) => {
    const perDispatch = r.gpuMs / r.dispatches;
    const gflops = r.flopsPerSample ? (r.flopsPerSample * r.batch) / (perDispatch * 1e6) : NaN;
    return [
      r.kernel,
      r.model,
      int(r.batch),
      int(r.dispatches),
      int(r.passes),
      ms(perDispatch),
      Number.isFinite(gflops) ? sig(gflops) : '',
      Number.isFinite(gflops) ? pct(gflops / limits.fmaGflops) : '',
      ms(r.gpuMs),
      ms(r.wallMs),
      pct(r.share),
    ];
  });
  return {
    data: { available: true, rows, units: measured.units, peakGflops: limits.fmaGflops },
    tables: [
      {
        id: '1c',
        title: 'GPU time per kernel (timestamp queries)',
        columns: ['kernel (pass label and pipelines)', 'model', 'B', 'dispatches', 'passes', 'GPU per dispatch', 'GFLOP/s', '% FMA peak', 'GPU per run', 'wall per run', 'GPU / wall'],
        rows: body,
        notes: [
          "A second device with 'timestamp-query' (same adapter, same storage limits) wrapped by createRuntime({ device }). While a row runs, the device's createCommandEncoder is wrapped so that every compute pass — webode's own and the bench's — gets timestampWrites at its beginning and end (resolved before the encoder finishes); no src/ change.",
          `GPU per dispatch = timestamp(end) − timestamp(begin), summed over the row's passes in one run, / dispatches; median of ${RUNS} runs after a warm-up (2 when one dispatch or call takes over a second). A solver pass holds a round of kernel dispatches, a probe after each and one summary (src/solver/driver.ts), all counted among the dispatches.`,
          'wall per run: performance.now() around the whole run (encoding, submits, host waits; for the solver rows the whole odeint or sol.backward call, shared by its pass rows). GPU / wall (median of the per-run ratios) is the share of that time inside the timed passes; the rest is host code, submission and waits.',
          `MLP.forward and VJP rows: B = ${int(PROFILE_BATCH)}, as many calls or dispatches as make a run of about ${TARGET_MS} ms; flops counted as in table 2; % of the FMA peak of table 1 (${sig(limits.fmaGflops)} GFLOP/s, wall-clock based).`,
        ],
      },
    ],
  };
}
