/**
 * The lane integration kernel (`kernel: 'lanes'`, four samples per
 * invocation as vec4 lanes) against the one-sample kernel: lane by lane it
 * performs the same float32 operations in the same order, so the outputs
 * must be bit-identical and the per-sample statistics (evaluations,
 * accepted and rejected steps, status, time reached, outputs written) equal,
 * on batches whose samples need very different numbers of steps side by
 * side in one invocation, with B not a multiple of 4 (7 and 37: the last
 * invocation has lanes past the batch). Both are also checked against the
 * float64 reference (solve-methods.test.ts's bounds: ADAPTIVE_TOL for
 * adaptive solves at rtol 1e-6 against `solveAccurate`, FIXED_TOL for rk4
 * against `solveFixed` on the same grid). Failures: a lane that overflows or
 * exhausts maxSteps is reported with its sample index and time, exactly as by
 * the one-sample kernel, and the other lanes finish.
 */
import { describe, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { TABLEAUX } from '../../src/methods/tableau';
import { solveAccurate, solveFixed } from '../reference/solve';
import { type Problem, makeProblem, relError } from './problems';
import { type SolveResult, allSamples, gather, linearExact, linearProblem, runSolve, useHarness } from './solve-helpers';
import { decode } from './wire';
import type { WebodeTestHandle } from './harness';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();

const FIXED_TOL = 2e-6;
const ADAPTIVE_TOL = 5e-5;

/** Sample b's initial state scaled by one of these (cycled): small states take few steps, large ones many. */
const SCALES = [1e-3, 1, 4, 0.05, 12, 0.3, 2];

/** A problem whose samples' initial states are scaled by SCALES. */
function mixed(p: Problem): Problem {
  const y0 = p.y0.slice();
  for (let b = 0; b < p.B; b++) for (let d = 0; d < p.D; d++) y0[b * p.D + d] *= SCALES[b % SCALES.length];
  return { ...p, y0 };
}

/** The spiral z' = [[0.5, 6], [−6, 0.5]] z with radii spread over five decades. */
function spiral(B: number): Problem {
  const radii = Array.from({ length: B }, (_, b) => [1e-4, 1, 3e-3, 10, 0.2, 40, 1e-2][b % 7]);
  return linearProblem(
    [
      [0.5, 6],
      [-6, 0.5],
    ],
    radii.map((r, b) => [r * Math.cos(0.9 * b + 0.3), r * Math.sin(0.9 * b + 0.3)]),
  );
}

/** Asserts two results are the same solve: bit-identical outputs, equal per-sample statistics and failures. */
function expectSame(lanes: SolveResult, one: SolveResult): void {
  expect(lanes.gpuErrors).toEqual([]);
  expect(one.gpuErrors).toEqual([]);
  const a = decode(lanes.y!);
  const b = decode(one.y!);
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differ++;
  expect(differ, 'outputs that differ in their bits').toBe(0);
  const pick = (r: SolveResult) => {
    const s = r.stats!;
    return { nfe: s.nfe, accepted: s.accepted, rejected: s.rejected, status: s.status, tReached: s.tReached, outputsWritten: s.outputsWritten };
  };
  expect(pick(lanes)).toEqual(pick(one));
  expect(lanes.error?.failures ?? null).toEqual(one.error?.failures ?? null);
}

async function both(p: Problem, t: number[], options: OdeintOptions): Promise<{ lanes: SolveResult; one: SolveResult }> {
  const lanes = await runSolve(harness(), p, t, { ...options, kernel: 'lanes' });
  const one = await runSolve(harness(), p, t, { ...options, kernel: 'invocation' });
  return { lanes, one };
}

describe('lane kernel: the same solve as the one-sample kernel', () => {
  const t = Array.from({ length: 11 }, (_, i) => i / 10);
  const CASES: { name: string; problem: (B: number) => Problem; options: OdeintOptions; rejects?: boolean }[] = [
    {
      // A first step of 1 with states of different sizes: the samples reject different numbers
      // of attempts, so lanes of one invocation accept and reject side by side.
      name: '[3, 16, 2] softplus +t, dopri5, firstStep 1',
      problem: (B) => mixed(makeProblem({ layers: [3, 16, 2], activation: 'softplus', timeInput: true, B, seed: 61, paramScale: 3 })),
      options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7, firstStep: 1 },
      rejects: true,
    },
    { name: 'spiral, dopri5', problem: spiral, options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 } },
    {
      name: '[2, 50, 2] tanh, dopri5',
      problem: (B) => mixed(makeProblem({ layers: [2, 50, 2], B, seed: 3, paramScale: 3 })),
      options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 },
    },
    {
      name: '[3, 16, 16, 2] softplus +t, bosh3',
      problem: (B) => mixed(makeProblem({ layers: [3, 16, 16, 2], activation: 'softplus', timeInput: true, B, seed: 5, paramScale: 2 })),
      options: { method: 'bosh3', rtol: 1e-6, atol: 1e-7 },
    },
    {
      name: '[4, 64, 64, 4] tanh, tsit5, stepsPerDispatch 3',
      problem: (B) => mixed(makeProblem({ layers: [4, 64, 64, 4], B, seed: 9, paramScale: 2 })),
      options: { method: 'tsit5', rtol: 1e-6, atol: 1e-7, stepsPerDispatch: 3 },
    },
    {
      name: '[2, 50, 2] tanh, rk4 (not FSAL), h = 0.03',
      problem: (B) => mixed(makeProblem({ layers: [2, 50, 2], B, seed: 3 })),
      options: { method: 'rk4', stepSize: 0.03 },
    },
  ];
  for (const c of CASES) {
    for (const B of [7, 37]) {
      it(`${c.name}, B = ${B}`, async () => {
        const p = c.problem(B);
        const { lanes, one } = await both(p, t, c.options);
        expect(lanes.error).toBeNull();
        expectSame(lanes, one);
        const s = lanes.stats!;
        expect(s.status).toEqual(new Array(B).fill('done'));
        console.log(`[measure] lanes ${c.name} B = ${B}: accepted ${Math.min(...s.accepted)}–${Math.max(...s.accepted)}, rejected ${Math.min(...s.rejected)}–${Math.max(...s.rejected)}, nfe ${Math.min(...s.nfe)}–${Math.max(...s.nfe)}`);
        // Not vacuous: the lanes of one invocation take different numbers of steps.
        if (c.options.method !== 'rk4') expect(Math.max(...s.accepted)).toBeGreaterThan(Math.min(...s.accepted) + 2);
        // Lanes in lockstep with different rejection counts: in some attempt one lane rejected
        // while another accepted (measured: 1–3 rejections per sample at B = 7, 1–4 at 37).
        if (c.rejects) expect(Math.max(...s.rejected)).toBeGreaterThan(Math.min(...s.rejected));
        const fixed = c.options.method === 'rk4';
        const { got, want } = gather(p, decode(lanes.y!), t, allSamples(B), (z0) =>
          fixed ? solveFixed(p.rhs, TABLEAUX.rk4, z0, t, c.options.stepSize!) : solveAccurate(p.rhs, z0, t),
        );
        const err = relError(got, want);
        console.log(`[measure] lanes ${c.name} B = ${B}: rel error vs the float64 reference ${err.toExponential(2)}`);
        expect(err).toBeLessThan(fixed ? FIXED_TOL : ADAPTIVE_TOL);
      });
    }
  }

  it('spiral, dopri5, B = 37, deferred: the same solve', async () => {
    const p = spiral(37);
    const { lanes, one } = await both(p, t, { method: 'dopri5', deferred: true });
    expect(lanes.error).toBeNull();
    expectSame(lanes, one);
  });

  it('spiral, dopri5, B = 37, firstStep 0.01, reverse time: the same solve', async () => {
    const p = spiral(37);
    const tr = [...t].reverse();
    const { lanes, one } = await both(p, tr, { method: 'dopri5', firstStep: 0.01 });
    expect(lanes.error).toBeNull();
    expectSame(lanes, one);
    const { got, want } = gather(p, decode(lanes.y!), tr, allSamples(37), (z0) => linearExact((p as ReturnType<typeof linearProblem>).W32, z0, tr));
    expect(relError(got, want)).toBeLessThan(ADAPTIVE_TOL);
  });
});

describe('lane kernel: failures per lane', () => {
  it("a lane that overflows fails 'nonfinite' or 'step-underflow' at its time; its neighbours finish", async () => {
    // f(z) = 60 z (solve-failures.test.ts): |z0| = 1 overflows float32 near t ≈ 1.4; the other samples do not.
    const q = linearProblem(
      [
        [60, 0],
        [0, 60],
      ],
      [
        [0, 0],
        [1e-20, 0],
        [1, -0.5],
        [0, 1e-22],
        [1e-21, 1e-21],
      ],
    );
    const tg = [0, 0.5, 1, 2];
    const { lanes, one } = await both(q, tg, { method: 'dopri5', rtol: 1e-6, atol: 1e-30 });
    expectSame(lanes, one);
    expect(lanes.error?.name).toBe('OdeSolveError');
    const f = lanes.error!.failures!;
    console.log(`[measure] lanes overflow: ${lanes.error!.message}`);
    expect(f.map((x) => x.sample)).toEqual([2]);
    expect(['nonfinite', 'step-underflow']).toContain(f[0].kind);
    expect(f[0].t).toBeGreaterThan(1.35);
    expect(f[0].t).toBeLessThan(1.479);
    expect(lanes.stats!.status).toEqual(['done', 'done', f[0].kind, 'done', 'done']);
  });

  it("lanes that exhaust maxSteps fail 'max-steps' with their sample and time; the others finish", async () => {
    const p = spiral(7); // radii 1e-4, 1, 3e-3, 10, 0.2, 40, 1e-2
    const tg = [0, 0.5, 1, 2];
    const maxSteps = 40;
    const { lanes, one } = await both(p, tg, { method: 'dopri5', maxSteps });
    expectSame(lanes, one);
    expect(lanes.error?.name).toBe('OdeSolveError');
    const s = lanes.stats!;
    console.log(`[measure] lanes maxSteps: ${lanes.error!.message}; accepted ${s.accepted.join(', ')}`);
    const failed = lanes.error!.failures!.map((x) => x.sample);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(7);
    for (const x of lanes.error!.failures!) {
      expect(x.kind).toBe('max-steps');
      expect(x.t).toBe(s.tReached[x.sample]);
      expect(x.t).toBeLessThan(2);
      expect(s.accepted[x.sample] + s.rejected[x.sample]).toBe(maxSteps);
    }
    for (const b of allSamples(7).filter((b) => !failed.includes(b))) expect(s.status[b]).toBe('done');
  });
});

describe('lane kernel: the default', () => {
  it('SwiftShader is a CPU adapter: the lane kernel from 64 samples, one sample per invocation below', async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode } = webodeTest;
      const rt = await webode.createRuntime();
      try {
        const f = new webode.MLP(rt, { layers: [2, 8, 2], activation: 'tanh', seed: 1 });
        const kinds: string[] = [];
        for (const B of [63, 64]) {
          const sol = await webode.odeint(f, new Float32Array(2 * B).fill(0.5), [0, 0.1]);
          kinds.push(String(sol.options.kernel));
          sol.destroy();
        }
        f.destroy();
        return { architecture: rt.adapterInfo?.architecture ?? null, adapterKind: rt.adapterKind, kinds };
      } finally {
        rt.destroy();
      }
    });
    expect(r.architecture).toBe('swiftshader');
    expect(r.adapterKind).toBe('cpu');
    expect(r.kinds).toEqual(['invocation', 'lanes']);
  });

  it('workgroups of 4 (B = 300) and of 64 (B = 2,048) give the same per-sample outputs and dL/dy0, bit for bit', async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode } = webodeTest;
      const rt = await webode.createRuntime();
      try {
        const f = new webode.MLP(rt, { layers: [2, 16, 2], activation: 'tanh', seed: 5 });
        const big = 2048;
        const small = 300;
        const y0 = Float32Array.from({ length: 2 * big }, (_, i) => Math.sin(0.37 * i) * (1 + (i % 7)));
        const t = [0, 0.3, 0.7, 1];
        const run = async (B: number, kernel: 'lanes' | 'invocation') => {
          const sol = await webode.odeint(f, y0.subarray(0, 2 * B), t, { kernel });
          const y = await sol.y.read();
          const g = await sol.backward(Float32Array.from(y, (v) => 0.01 * v), { timeGradient: false });
          const gy0 = await g.y0.read();
          const out = { kernel: String(sol.options.kernel), y: Array.from(y), gy0: Array.from(gy0) };
          g.destroy();
          sol.destroy();
          return out;
        };
        const res = { small: await run(small, 'lanes'), big: await run(big, 'lanes'), one: await run(small, 'invocation') };
        f.destroy();
        return res;
      } finally {
        rt.destroy();
      }
    });
    const big = 2048;
    const small = 300;
    const rows = (y: number[], B: number, keep: number) => Array.from({ length: 4 }, (_, i) => y.slice(i * B * 2, (i * B + keep) * 2)).flat();
    // Outputs: the lane kernel at either workgroup size equals the one-sample kernel bit for bit.
    expect(rows(r.small.y, small, small)).toEqual(rows(r.one.y, small, small));
    expect(rows(r.big.y, big, small)).toEqual(rows(r.small.y, small, small));
    // dL/dy0 of each sample (cotangent 0.01·y, the same per sample): the same reverse solve whatever the workgroup size.
    expect(r.big.gy0.slice(0, 2 * small)).toEqual(r.small.gy0);
    expect([r.small.kernel, r.big.kernel, r.one.kernel]).toEqual(['lanes', 'lanes', 'invocation']);
  });
});
