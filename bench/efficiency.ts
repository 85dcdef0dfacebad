/**
 * Table 1d: kernel efficiency of the solver kernels where it counts — the
 * forward lane kernel (integrate-lanes) and the adjoint lane kernel
 * (adjoint-lanes) on MLP [4, 64, 64, 4] tanh at B = 4,096 and 8,192, dopri5,
 * rtol 1e-6, atol 1e-7, 11 outputs on [0, 1] (table 8's third problem), as
 * GPU time from timestamp queries (bench/profile.ts's PassProfiler on a
 * second device), FLOP/s and % of the FMA peak of table 1, and the split of
 * each kernel's time into its parts, measured with variants that do one part twice
 * (bench/efficiency-variants.ts): part = T(variant) − T(plain), interleaved
 * round by round, each variant's outputs checked bit for bit against the
 * plain kernel's (the proof that it took the same steps).
 *
 * The variants reach the solver without a src/ change: while a variant is
 * timed, the runtime's `kernel(def, spec)` is wrapped on this runtime only so
 * that the plain definition is replaced by the variant's (another name, so
 * another pipeline in the runtime's cache); the profiler's pipeline labels
 * show which one ran.
 */
import { type Runtime, Tensor, odeint } from '../src/index';
import { integrateLanesKernel } from '../src/kernels/integrate-lanes';
import { adjointLanesKernel } from '../src/kernels/adjoint-lanes';
import { type KernelDef, defineKernel } from '../src/wgsl/kernel';
import { mlpFlops } from '../src/mlp/mlp';
import { getTableau } from '../src/methods/tableau';
import { ADJOINT_PARTS, type AdjointPart, FORWARD_PARTS, type ForwardPart, adjointVariant, forwardVariant } from './efficiency-variants';
import type { Limits } from './limits';
import { type PassProfiler, type PassTime, unavailableTable, withTimestampDevice } from './profile';
import { ATOL, RTOL, WIDE, linspace, makeModel, meanSquareCotangent, modelY0 } from './solves';
import { type SectionResult, type Table, int, ms, pct, sig } from './table';
import { interleave, median, progress } from './timing';
import { vjpFlops } from './vjp';

/** Batches of table 1d. */
const BATCHES = [4096, 8192];
/** Interleaved rounds (plain and every variant once per round). */
const ROUNDS = 5;
const METHOD = 'dopri5' as const;
/** y0 seed of the torchdiffeq comparison (bench/torchdiffeq.ts), so the problem is table 8's. */
const Y0_SEED = 31;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDef = KernelDef<any, string, string>;

/** A kernel definition whose module is the plain one transformed. */
function variantDef(def: AnyDef, suffix: string, transform: (wgsl: string) => string): AnyDef {
  return defineKernel({ ...def, name: `${def.name}-x2${suffix}`, wgsl: (spec, decls) => transform(def.wgsl(spec, decls)) });
}

/** Replaces kernel definitions on one runtime while `active` maps them (bench only; restored by `restore`). */
class KernelSwap {
  active = new Map<AnyDef, AnyDef>();
  private readonly rt: Runtime;
  constructor(rt: Runtime) {
    this.rt = rt;
    const original = rt.kernel.bind(rt);
    const swapped = (def: AnyDef, spec: unknown) => original(this.active.get(def) ?? def, spec);
    Object.defineProperty(rt, 'kernel', { value: swapped, configurable: true, writable: true });
  }
  restore(): void {
    delete (this.rt as unknown as Record<string, unknown>).kernel;
  }
}

/** GPU time of the passes that ran a pipeline of kernel `name` (its entry points' labels start with `name `). */
function kernelGpuMs(passes: readonly PassTime[], name: string): number {
  const hits = passes.filter((p) => p.pipelines.some((l) => l.startsWith(`${name} `)));
  if (hits.length === 0) throw new Error(`no pass ran a pipeline of ${name}; pipelines seen: ${[...new Set(passes.flatMap((p) => p.pipelines))].join(', ')}`);
  return hits.reduce((s, p) => s + p.gpuMs, 0);
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

interface KernelMeasure {
  readonly kernel: string;
  /** Plain kernel first, then the variants in `parts` order. */
  readonly labels: readonly string[];
  /** GPU ms per run, [variant][round]. */
  readonly gpu: number[][];
  /** variant / plain per round. */
  readonly ratios: number[][];
}

/** Interleaved rounds of `runs` (each returns its kernel GPU ms). */
async function rounds(labels: readonly string[], runs: readonly (() => Promise<number>)[]): Promise<{ gpu: number[][]; ratios: number[][] }> {
  const gpu: number[][] = labels.map(() => []);
  const timed = runs.map((r, i) => async () => {
    const x = await r();
    gpu[i].push(x);
    return x;
  });
  const { ratios } = await interleave(timed, { repeats: ROUNDS, minRepeats: ROUNDS, budgetMs: Infinity });
  return { gpu, ratios };
}

interface Row {
  readonly batch: number;
  readonly forward: KernelMeasure & { nfe: number; lockstepNfe: number; flopsPerEval: number };
  readonly adjoint: KernelMeasure & { nfe: number; maxNfe: number; flopsPerEval: number; thetaStages: number; stages: number };
}

async function measureBatch(rt: Runtime, prof: PassProfiler, swap: KernelSwap, B: number): Promise<Row> {
  const f = makeModel(rt, WIDE);
  const y0 = modelY0(WIDE, B, Y0_SEED);
  const t = linspace(0, 1, 11);
  const opts = { method: METHOD, rtol: RTOL, atol: ATOL };
  const fwdDefs = FORWARD_PARTS.map((p: ForwardPart) => variantDef(integrateLanesKernel, p, (w) => forwardVariant(w, p)));
  const adjDefs = ADJOINT_PARTS.map((p: AdjointPart) => variantDef(adjointLanesKernel, p, (w) => adjointVariant(w, p)));
  const solveWith = async (def: AnyDef | null) => {
    swap.active = def ? new Map([[integrateLanesKernel as AnyDef, def]]) : new Map();
    try {
      return await odeint(f, y0, t, opts);
    } finally {
      swap.active = new Map();
    }
  };
  try {
    // The plain solve: reference outputs and the work done.
    const ref = await solveWith(null);
    const yRef = await ref.y.read();
    const stats = await ref.stats();
    let lockstep = 0;
    for (let g = 0; g < B; g += 4) lockstep += 4 * Math.max(...Array.from(stats.nfe.subarray(g, Math.min(B, g + 4))));
    const cot = Tensor.fromArray(rt, meanSquareCotangent(yRef), [t.length, B, WIDE.layers[3]], 'bench efficiency cotangent');
    const backWith = async (def: AnyDef | null) => {
      swap.active = def ? new Map([[adjointLanesKernel as AnyDef, def]]) : new Map();
      try {
        return await ref.backward(cot);
      } finally {
        swap.active = new Map();
      }
    };
    try {
      // Forward: warm-up (compiles) and the bit-for-bit check of every variant.
      const fwdAll: (AnyDef | null)[] = [null, ...fwdDefs];
      for (const def of fwdAll) {
        const name = (def ?? integrateLanesKernel).name;
        let y: Float32Array | null = null;
        let nfe = -1;
        const m = await prof.measure(async () => {
          const s = await solveWith(def);
          y = await s.y.read();
          nfe = (await s.stats()).total.nfe;
          s.destroy();
        });
        kernelGpuMs(m.passes, name);
        if (!y || !sameBits(y, yRef)) throw new Error(`${name}: outputs differ from the plain kernel's`);
        if (nfe !== stats.total.nfe) throw new Error(`${name}: ${nfe} evaluations, the plain kernel ${stats.total.nfe}`);
        progress(`efficiency B = ${B}: ${name} compiled, outputs bit-identical`);
      }
      const fwdRuns = fwdAll.map((def) => async () => {
        const m = await prof.measure(async () => (await solveWith(def)).destroy());
        return kernelGpuMs(m.passes, (def ?? integrateLanesKernel).name);
      });
      const fwdLabels = ['plain', ...FORWARD_PARTS];
      const fr = await rounds(fwdLabels, fwdRuns);
      progress(`efficiency B = ${B}: forward rounds done`);

      // Adjoint: the same on sol.backward of the plain forward solve.
      const gRef = await backWith(null);
      const pRef = await gRef.params.read();
      const zRef = await gRef.y0.read();
      const gSummary = gRef.summary;
      gRef.destroy();
      const adjAll: (AnyDef | null)[] = [null, ...adjDefs];
      for (const def of adjAll) {
        const name = (def ?? adjointLanesKernel).name;
        let p: Float32Array | null = null;
        let z: Float32Array | null = null;
        let nfe = -1;
        const m = await prof.measure(async () => {
          const g = await backWith(def);
          p = await g.params.read();
          z = await g.y0.read();
          nfe = g.summary.nfe;
          g.destroy();
        });
        kernelGpuMs(m.passes, name);
        if (!p || !z || !sameBits(p, pRef) || !sameBits(z, zRef)) throw new Error(`${name}: gradients differ from the plain kernel's`);
        if (nfe !== gSummary.nfe) throw new Error(`${name}: ${nfe} evaluations, the plain kernel ${gSummary.nfe}`);
        progress(`efficiency B = ${B}: ${name} compiled, gradients bit-identical`);
      }
      const adjRuns = adjAll.map((def) => async () => {
        const m = await prof.measure(async () => (await backWith(def)).destroy());
        return kernelGpuMs(m.passes, (def ?? adjointLanesKernel).name);
      });
      const adjLabels = ['plain', ...ADJOINT_PARTS];
      const ar = await rounds(adjLabels, adjRuns);
      progress(`efficiency B = ${B}: adjoint rounds done`);

      const tab = getTableau(METHOD);
      const thetaStages = tab.b.filter((x) => x !== 0).length;
      return {
        batch: B,
        forward: { kernel: integrateLanesKernel.name, labels: fwdLabels, ...fr, nfe: stats.total.nfe, lockstepNfe: lockstep, flopsPerEval: mlpFlops(f.spec) },
        adjoint: {
          kernel: adjointLanesKernel.name,
          labels: adjLabels,
          ...ar,
          nfe: gSummary.nfe,
          maxNfe: gSummary.maxNfe,
          flopsPerEval: (thetaStages * vjpFlops(f.spec, 'theta') + (tab.stages - thetaStages) * vjpFlops(f.spec, 'z')) / tab.stages,
          thetaStages,
          stages: tab.stages,
        },
      };
    } finally {
      cot.destroy();
      ref.destroy();
    }
  } finally {
    f.destroy();
  }
}

/** Median and range of part cost (variant − plain, per round) and of variant / plain. */
function partOf(m: KernelMeasure, label: string): { ms: number; lo: number; hi: number; rlo: number; rhi: number } {
  const i = m.labels.indexOf(label);
  const d = m.gpu[i].map((x, r) => x - m.gpu[0][r]);
  return { ms: median(d), lo: Math.min(...d), hi: Math.max(...d), rlo: Math.min(...m.ratios[i]), rhi: Math.max(...m.ratios[i]) };
}

/** Milliseconds with their sign (a part's difference can come out negative in the noise). */
function sms(x: number): string {
  return x < 0 ? `−${ms(-x)}` : ms(x);
}

function tableOf(rows: readonly Row[], peak: number): Table {
  const body: string[][] = [];
  const gf = (flops: number, msx: number) => flops / (msx * 1e6);
  for (const r of rows) {
    const F = r.forward;
    const T = median(F.gpu[0]);
    const useful = F.nfe * F.flopsPerEval;
    const exec = F.lockstepNfe * F.flopsPerEval;
    const both = (msx: number) => `${sig(gf(useful, msx))} / ${sig(gf(exec, msx))}`;
    const bothPct = (msx: number) => `${pct(gf(useful, msx) / peak)} / ${pct(gf(exec, msx) / peak)}`;
    const range = (a: number, b: number) => `${sig(a)}–${sig(b)}×`;
    const partRow = (m: KernelMeasure, label: string, name: string, total: number, flops?: () => [string, string]) => {
      const p = partOf(m, label);
      const [g, pc] = flops ? flops() : ['', ''];
      body.push([`  ${name}`, int(r.batch), `${sms(p.ms)} (${sms(p.lo)} … ${sms(p.hi)})`, pct(p.ms / total), range(p.rlo, p.rhi), '', g, pc]);
      return p.ms;
    };
    body.push([`forward: ${F.kernel} (whole kernel)`, int(r.batch), ms(T), '100%', `${int(F.gpu[0].length)} rounds`, `${int(F.nfe)} / ${int(F.lockstepNfe)}`, both(T), bothPct(T)]);
    let sum = 0;
    sum += partRow(F, 'mlp', 'MLP (rhs4, every call)', T, () => {
      const p = partOf(F, 'mlp').ms;
      return [both(p), bothPct(p)];
    });
    sum += partRow(F, 'stages', 'stages (stage inputs, solution and error combinations)', T);
    sum += partRow(F, 'norm', 'error norm (scaled error, Σ q²)', T);
    sum += partRow(F, 'control', 'control (plan_step, decide, write_outputs incl. dense output)', T);
    body.push(['  rest (not separated: loads/stores of the state, lane bookkeeping, init, probes)', int(r.batch), sms(T - sum), pct((T - sum) / T), '', '', '', '']);

    const A = r.adjoint;
    const TA = median(A.gpu[0]);
    const aUseful = A.nfe * A.flopsPerEval;
    const aGf = (msx: number) => sig(gf(aUseful, msx));
    const aPct = (msx: number) => pct(gf(aUseful, msx) / peak);
    body.push([`adjoint: ${A.kernel} (whole kernel)`, int(r.batch), ms(TA), '100%', `${int(A.gpu[0].length)} rounds`, `${int(A.nfe)} / n/a`, aGf(TA), aPct(TA)]);
    const sweeps = partOf(A, 'sweeps');
    const vjp = partOf(A, 'vjp');
    const sweepFlops = A.nfe * 2 * mlpFlops({ layers: WIDE.layers, activation: 'tanh', timeInput: false });
    body.push([
      '  VJP sweeps (forward + backward, every vjp4 call)',
      int(r.batch),
      `${sms(sweeps.ms)} (${sms(sweeps.lo)} … ${sms(sweeps.hi)})`,
      pct(sweeps.ms / TA),
      range(sweeps.rlo, sweeps.rhi),
      '',
      sig(gf(sweepFlops, sweeps.ms)),
      pct(gf(sweepFlops, sweeps.ms) / peak),
    ]);
    const thetaMs = vjp.ms - sweeps.ms;
    const thetaFlops = aUseful - sweepFlops;
    body.push(['  θ products (VJP − sweeps)', int(r.batch), sms(thetaMs), pct(thetaMs / TA), '', '', sig(gf(thetaFlops, thetaMs)), pct(gf(thetaFlops, thetaMs) / peak)]);
    body.push([
      '  VJP total (sweeps + θ products)',
      int(r.batch),
      `${sms(vjp.ms)} (${sms(vjp.lo)} … ${sms(vjp.hi)})`,
      pct(vjp.ms / TA),
      range(vjp.rlo, vjp.rhi),
      '',
      aGf(vjp.ms),
      aPct(vjp.ms),
    ]);
    let asum = vjp.ms;
    asum += partRow(A, 'stages', 'stages (stage inputs, solution and error combinations; the redo inputs too)', TA);
    asum += partRow(A, 'norm', 'error norm (scaled error, Σ q²)', TA);
    asum += partRow(A, 'control', 'control (plan_step, decide)', TA);
    body.push(['  rest (not separated: commit_step_row, landing, state loads/stores, lane bookkeeping, probes)', int(r.batch), sms(TA - asum), pct((TA - asum) / TA), '', '', '', '']);
  }
  const a = rows[0]?.adjoint;
  return {
    id: '1d',
    title: `Kernel efficiency of the solver kernels: MLP ${WIDE.layers.join('→')} tanh, ${METHOD}, rtol ${RTOL}, atol ${ATOL}, 11 outputs on [0, 1] (GPU time from timestamps)`,
    columns: ['kernel / part', 'B', 'GPU ms: median (range of variant − plain)', 'share of kernel', 'variant / plain per round', 'evaluations: Σ samples / lockstep', 'GFLOP/s (useful / lockstep)', '% FMA peak (useful / lockstep)'],
    rows: body,
    notes: [
      `GPU time: timestamps at the beginning and end of every compute pass (bench/profile.ts's PassProfiler, second device with 'timestamp-query'), summed over the passes that ran the kernel's pipeline in one odeint (forward) or sol.backward (adjoint) call; those passes also hold the driver's probe dispatches (and the round's summary), which the 'rest' row includes. Median of ${ROUNDS} interleaved rounds (plain, then every variant, per round). % of the FMA peak of table 1 (${sig(peak)} GFLOP/s).`,
      'Parts are measured, not estimated: a variant kernel does ONE part twice (bench/efficiency-variants.ts) and part = T(variant) − T(plain) per round (median, range in brackets). The extra copy gets inputs scaled by a factor that is 1.0 at run time but hidden behind a uniform condition that never holds (P.batch == 0xffffffff), and its result is kept through select(real, extra, that condition), so the compiler can neither fold nor drop it. Every variant\'s outputs (forward: y at all outputs; adjoint: dL/dθ and dL/dy0) were checked bit-identical to the plain kernel\'s and its evaluation count equal before timing: the same steps were taken. The wrappers add a few copies of rhs_in/rhs_out (N vec4 each) and selects per call, counted in the part.',
      'rest = whole kernel − the parts: what no variant doubles. The parts need not add up: a variant is a larger module, and its compiled code (inlining, register allocation, spills of the private arrays) can make the doubled part cost more than it does in the plain kernel, so a part is an upper bound and a negative rest says by how much the parts overshoot together; parts within their rounds\' noise can come out negative. A part that shares loops with another (e.g. the stage inputs and the MLP input) is split at the function boundary; the error combination e = Σ h(b_i − b̂_i)K_i is counted in stages, the scaling and squaring in the norm.',
      `FLOPs: forward evaluation = mlpFlops = 2 × weights (${int(rows[0]?.forward.flopsPerEval ?? NaN)} per sample); useful = Σ over samples of their evaluation counts (solution stats), lockstep = 4 × Σ over groups of 4 lanes of the largest count (what the vec4 lanes execute: a lane that is done evaluates zeros).`,
      a
        ? `Adjoint evaluation (one stage of the augmented system): forward sweep + backward sweep = 2 × mlpFlops, plus θ products 2 × P on the ${a.thetaStages} of ${a.stages} dopri5 stages with b_i ≠ 0 (vjp4 with products; the others without): ${int(a.flopsPerEval)} FLOPs per evaluation on average (bench/vjp.ts's vjpFlops). Evaluations from the gradient report (totals; it has no per-sample counts, so no lockstep count). The partial-acceptance recomputation of the θ products (attempt_stages' redo) is not in the count, so the adjoint's FLOP/s are a lower bound. θ products row: FLOPs = useful − sweeps.`
        : '',
    ].filter((s) => s !== ''),
  };
}

export async function efficiencySection(limits: Limits): Promise<SectionResult> {
  const run = await withTimestampDevice('bench efficiency device', async (rt, prof) => {
    const swap = new KernelSwap(rt);
    const rows: Row[] = [];
    try {
      for (const B of BATCHES) rows.push(await measureBatch(rt, prof, swap, B));
    } finally {
      swap.restore();
    }
    return rows;
  });
  if ('unavailable' in run) return unavailableTable('1d', 'Kernel efficiency of the solver kernels', run.unavailable);
  const rows = run.value;
  return { data: { available: true, peakGflops: limits.fmaGflops, rows }, tables: [tableOf(rows, limits.fmaGflops)] };
}
