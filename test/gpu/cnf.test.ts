/**
 * Continuous normalizing flows (src/flows/cnf.ts) against the float64
 * reference of test/reference/cnf.ts (analytic Jacobian of the MLP, dopri5 at
 * 1e-12), and against properties that need no reference: a Hutchinson mean
 * over many ε against the exact trace, sampling then log p returning to the
 * base points, and the density integrating to 1 over a grid.
 *
 * GPU solves use dopri5 at rtol = atol = 1e-6 (1e-7 for z ≈ 0): log p, z(t1)
 * and the regularisers must agree with float64 to 1e-4 · max(1, |value|).
 */
import { describe, expect, it } from 'vitest';
import { drawNoise } from '../../src/flows/cnf';
import { refLogProb } from '../reference/cnf';
import { M2, M4, MH, REG, SOLVE, TOL, params, points, worst } from './cnf-helpers';
import type { FlowArgs } from './harness';
import { useHarness } from './solve-helpers';

const harness = useHarness();

async function flow(args: FlowArgs) {
  const r = await harness().call('flow', args);
  expect(r.gpuErrors).toEqual([]);
  return r;
}

describe('log p and z(t1) against float64 (exact trace)', () => {
  const cases: { name: string; m: typeof M2; reg: boolean }[] = [
    { name: 'D = 2, time input, tanh [3, 8, 2], kinetic + Jacobian regularisers', m: M2, reg: true },
    { name: 'D = 4, no time input, softplus [4, 8, 4]', m: M4, reg: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const D = c.m.layers[c.m.layers.length - 1];
      const B = 5;
      const th = params(c.m, 3);
      const x = points(B, D, 11);
      const cnf = { t0: 0, t1: 0.5, trace: 'exact' as const, ...(c.reg ? REG : {}) };
      const r = await flow({ mlp: c.m, params: th, cnf, x, options: SOLVE });
      expect(r.error).toBeNull();
      expect(r.waits).toBe(1);
      expect(r.live).toBe(0);
      const ref = Array.from({ length: B }, (_, b) => refLogProb(c.m, th, x.slice(b * D, b * D + D), { t0: 0, t1: 0.5 }));
      const eLogp = worst(r.first!.logp, ref.map((v) => v.logp));
      const eZ = worst(r.first!.z, ref.flatMap((v) => v.z));
      console.log(`${c.name}: log p ${eLogp.toExponential(2)}, z ${eZ.toExponential(2)} (rel. to max(1,|ref|)); nfe ${r.first!.summary.nfe}, host waits ${r.waits}`);
      expect(eLogp).toBeLessThan(TOL);
      expect(eZ).toBeLessThan(TOL);
      if (c.reg) {
        const eK = worst(r.first!.kinetic!, ref.map((v) => v.kinetic));
        const eJ = worst(r.first!.jacobian!, ref.map((v) => v.jacobian));
        console.log(`  kinetic ${eK.toExponential(2)}, Jacobian Frobenius ${eJ.toExponential(2)}`);
        expect(eK).toBeLessThan(TOL);
        expect(eJ).toBeLessThan(TOL);
      } else {
        expect(r.first!.kinetic).toBeNull();
        expect(r.first!.jacobian).toBeNull();
      }
    }, 60_000);
  }
});

describe('Hutchinson trace', () => {
  const m = MH;
  const D = 2;
  const th = params(m, 5);

  it('with a given ε: log p, εᵀJε and ‖Jε‖² integrals against float64', async () => {
    const B = 4;
    const x = points(B, D, 2);
    const noise = Array.from(drawNoise(B * D, 9, 'gaussian'));
    const r = await flow({ mlp: m, params: th, cnf: { t0: 0, t1: 0.5, trace: 'hutchinson', jacobian: 0.3 }, x, options: { ...SOLVE, noise } });
    expect(r.error).toBeNull();
    // The ε used is kept with the result (given as an array: uploaded once, as float32).
    expect(r.first!.noise).toEqual(Array.from(Float32Array.from(noise)));
    const ref = Array.from({ length: B }, (_, b) => refLogProb(m, th, x.slice(b * D, b * D + D), { t0: 0, t1: 0.5, eps: noise.slice(b * D, b * D + D) }));
    const eLogp = worst(r.first!.logp, ref.map((v) => v.logp));
    const eJ = worst(r.first!.jacobian!, ref.map((v) => v.jacobian));
    console.log(`Hutchinson, given ε: log p ${eLogp.toExponential(2)}, ∫‖Jε‖² ${eJ.toExponential(2)}`);
    expect(eLogp).toBeLessThan(TOL);
    expect(eJ).toBeLessThan(TOL);
  }, 60_000);

  it('the mean over 1,024 Rademacher ε of one point is the exact ∫ tr J dt within 4 standard errors', async () => {
    const n = 1024;
    const x0 = points(1, D, 4);
    const x = Array.from({ length: n }, () => x0).flat();
    const r = await flow({ mlp: m, params: th, cnf: { t0: 0, t1: 0.5, trace: 'hutchinson', jacobian: 0.3 }, x, options: { ...SOLVE, seed: 17, noiseKind: 'rademacher' } });
    expect(r.error).toBeNull();
    const noise = r.first!.noise!;
    expect(noise.every((v) => v === 1 || v === -1)).toBe(true);
    // l(t1) = log p − log N(z(t1)); z(t1) does not depend on ε.
    const ls = r.first!.logp.map((lp, b) => {
      const z = r.first!.z.slice(b * D, b * D + D);
      return lp + 0.5 * z.reduce((a, v) => a + v * v, 0) + 0.5 * D * Math.log(2 * Math.PI);
    });
    const mean = ls.reduce((a, v) => a + v, 0) / n;
    const sd = Math.sqrt(ls.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
    const exact = refLogProb(m, th, x0, { t0: 0, t1: 0.5 }).l;
    console.log(`Hutchinson mean ${mean.toFixed(5)} ± ${(sd / Math.sqrt(n)).toExponential(2)} (s.e.), exact ${exact.toFixed(5)}`);
    expect(sd).toBeGreaterThan(0);
    expect(Math.abs(mean - exact)).toBeLessThan(4 * (sd / Math.sqrt(n)));
  }, 60_000);
});

describe('sampling and normalisation', () => {
  const m = M2;
  const th = params(m, 8);

  it('sample({ count, seed }) then logProb returns to the base points, with the same log p', async () => {
    const count = 16;
    const r = await flow({ mlp: m, params: th, cnf: { t0: 0, t1: 0.5, ...REG }, x: { count, seed: 3 }, options: SOLVE, mode: 'sample' });
    expect(r.error).toBeNull();
    const base = Array.from(drawNoise(count * 2, 3, 'gaussian'));
    const eZ = worst(r.second!.z, base);
    const eLogp = worst(r.second!.logp, r.first!.logp);
    console.log(`round trip: base points ${eZ.toExponential(2)}, log p ${eLogp.toExponential(2)}`);
    expect(eZ).toBeLessThan(TOL);
    expect(eLogp).toBeLessThan(TOL);
  }, 60_000);

  it('exp(log p) sums to 1 ± 2e-3 over a 0.1-spaced grid of [−6, 6]² (D = 2)', async () => {
    const n = 121;
    const hgrid = 12 / (n - 1);
    const x: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) x.push(-6 + i * hgrid, -6 + j * hgrid);
    const r = await flow({ mlp: m, params: th, cnf: { t0: 0, t1: 0.5, ...REG }, x, options: { method: 'dopri5', rtol: 1e-5, atol: 1e-5 } });
    expect(r.error).toBeNull();
    const mass = r.first!.logp.reduce((a, v) => a + Math.exp(v), 0) * hgrid * hgrid;
    console.log(`density mass over the grid: ${mass.toFixed(6)} (${n}² points)`);
    expect(Math.abs(mass - 1)).toBeLessThan(2e-3);
  }, 60_000);
});

describe('deferred mode, host waits and typed errors', () => {
  const m = M2;
  const th = params(m, 1);

  it('deferred logProb: no host wait, check() one, same result as waiting', async () => {
    const x = points(4, 2, 6);
    const cnf = { t0: 0, t1: 0.5, ...REG };
    const a = await flow({ mlp: m, params: th, cnf, x, options: SOLVE });
    const b = await flow({ mlp: m, params: th, cnf, x, options: { ...SOLVE, deferred: true } });
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(a.waits).toBe(1);
    expect(b.waits).toBe(0);
    expect(b.checkWaits).toBe(1);
    expect(b.first!.logp).toEqual(a.first!.logp);
    expect(b.live).toBe(0);
  }, 60_000);

  const bad: { name: string; args: Partial<FlowArgs>; argument: string }[] = [
    { name: 'relu (σ\'\' not smooth)', args: { mlp: { layers: [3, 8, 2], activation: 'relu', timeInput: true } }, argument: 'f.activation' },
    { name: 'x not a multiple of D', args: { x: [1, 2, 3] }, argument: 'x' },
    { name: "kernel 'lanes'", args: { options: { kernel: 'lanes' } }, argument: 'options.kernel' },
    { name: 'noise of the wrong batch with the exact trace (checked, then unused)', args: { options: { noise: [1, 1] } }, argument: 'options.noise' },
    { name: 'noise of the wrong batch', args: { cnf: { trace: 'hutchinson' }, options: { noise: [1, 1, 1, 1] } }, argument: 'options.noise' },
    { name: 'negative regulariser weight', args: { cnf: { kinetic: -1 } }, argument: 'options.kinetic' },
    { name: 't1 = t0', args: { cnf: { t0: 1, t1: 1 } }, argument: 'options.t1' },
    { name: 'rtol ≤ 0', args: { options: { rtol: 0 } }, argument: 'options.rtol' },
    { name: 'hidden widths beyond WGSL function memory', args: { mlp: { layers: [3, 300, 2], activation: 'tanh', timeInput: true } }, argument: 'f.layers' },
  ];
  for (const c of bad) {
    it(`${c.name}: ArgumentError (${c.argument}) before any dispatch`, async () => {
      const mlp = c.args.mlp ?? m;
      const D = 2;
      const r = await flow({
        mlp,
        params: params({ layers: mlp.layers, activation: mlp.activation ?? 'tanh', timeInput: mlp.timeInput ?? false }, 1),
        cnf: c.args.cnf ?? { t0: 0, t1: 0.5 },
        x: c.args.x ?? points(3, D, 1),
        options: c.args.options ?? SOLVE,
      });
      expect(r.error?.name).toBe('ArgumentError');
      expect(r.error?.argument).toBe(c.argument);
      expect(r.dispatches).toBe(0);
      expect(r.live).toBe(0);
    });
  }
});

