/**
 * Gradients of a flow's loss (`flowDensity.backward`: the adjoint of the
 * augmented system with the reverse-over-forward VJP) against central
 * differences (h = 1e-4) of the float64 loss of test/reference/cnf.ts,
 * L = Σ_b c_b·logp_b + Σ_b (w_k·kinetic_b + w_j·jacobian_b): dL/dθ and dL/dx
 * must agree to GRAD_TOL = 1e-3 in ‖·‖-relative error; one host wait per
 * backward, none deferred.
 */
import { describe, expect, it } from 'vitest';
import { drawNoise } from '../../src/flows/cnf';
import { makeRng } from '../reference/mlp';
import { type RefMlp, fdGradients } from '../reference/cnf';
import { M2, M4, MH, REG, SOLVE, params, points, relNorm } from './cnf-helpers';
import type { FlowArgs } from './harness';
import { useHarness } from './solve-helpers';

const harness = useHarness();

async function flow(args: FlowArgs) {
  const r = await harness().call('flow', args);
  expect(r.gpuErrors).toEqual([]);
  return r;
}

/** The stated tolerance of the adjoint gradients against central differences of the float64 loss. */
const GRAD_TOL = 1e-3;

describe('backward: dL/dθ and dL/dx against central differences of the float64 loss', () => {
  const cases: { name: string; m: RefMlp; trace: 'exact' | 'hutchinson'; w: { kinetic: number; jacobian: number } }[] = [
    { name: 'exact, D = 2, time input, tanh [3, 8, 2], kinetic 0.1 + Jacobian 0.2', m: M2, trace: 'exact', w: REG },
    { name: 'exact, D = 4, softplus [4, 8, 4]', m: M4, trace: 'exact', w: { kinetic: 0, jacobian: 0 } },
    { name: 'Hutchinson (given Gaussian ε), D = 2, silu [2, 8, 2], Jacobian 0.2', m: MH, trace: 'hutchinson', w: { kinetic: 0, jacobian: 0.2 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const D = c.m.layers[c.m.layers.length - 1];
      const B = 3;
      const th = params(c.m, 21, 1);
      const x = points(B, D, 5);
      const rng = makeRng(8);
      const dl = Array.from({ length: B }, () => 2 * rng() - 1);
      const noise = c.trace === 'hutchinson' ? Array.from(drawNoise(B * D, 4, 'gaussian')) : undefined;
      const t = { t0: 0, t1: 0.5 };
      const r = await flow({
        mlp: c.m,
        params: th,
        cnf: { ...t, trace: c.trace, ...c.w },
        x,
        options: { ...SOLVE, ...(noise ? { noise } : {}) },
        backward: { dLdlogp: dl },
      });
      expect(r.error).toBeNull();
      expect(r.grad!.waits).toBe(1);
      expect(r.live).toBe(0);
      const fd = fdGradients(c.m, th, x, D, dl, c.w, { ...t, noise });
      const eTh = relNorm(r.grad!.params, fd.params);
      const eX = relNorm(r.grad!.x, fd.x);
      console.log(`${c.name}: dL/dθ ${eTh.toExponential(2)}, dL/dx ${eX.toExponential(2)} (‖·‖ relative); backward nfe ${r.grad!.summary.nfe}, host waits ${r.grad!.waits}`);
      expect(eTh).toBeLessThan(GRAD_TOL);
      expect(eX).toBeLessThan(GRAD_TOL);
    }, 60_000);
  }

  const bad: { name: string; backward: NonNullable<FlowArgs['backward']>; argument: string }[] = [
    { name: 'dLdlogp of the wrong length', backward: { dLdlogp: [1, 2] }, argument: 'dLdlogp' },
    { name: 'a non-finite dLdlogp', backward: { dLdlogp: [1, Number.NaN, 2] }, argument: 'dLdlogp[1]' },
    { name: "kernel 'lanes' (flows: one sample per invocation)", backward: { dLdlogp: [1, 1, 1], options: { kernel: 'lanes' } as never }, argument: 'options.kernel' },
    { name: "mode 'backprop'", backward: { dLdlogp: [1, 1, 1], options: { mode: 'backprop' } as never }, argument: 'options.mode' },
  ];
  for (const c of bad) {
    it(`${c.name}: ArgumentError (${c.argument}), nothing left allocated`, async () => {
      const r = await flow({ mlp: M2, params: params(M2, 1), cnf: { t0: 0, t1: 0.5, ...REG }, x: points(3, 2, 1), options: SOLVE, backward: c.backward });
      expect(r.error?.name).toBe('ArgumentError');
      expect(r.error?.argument).toBe(c.argument);
      expect(r.live).toBe(0);
    }, 60_000);
  }

  it('deferred logProb and backward: no host wait in backward, the same gradients as waiting', async () => {
    const th = params(M2, 21, 1);
    const x = points(3, 2, 5);
    const dl = [0.5, -1, 0.25];
    const args = { mlp: M2, params: th, cnf: { t0: 0, t1: 0.5, ...REG }, x };
    const a = await flow({ ...args, options: SOLVE, backward: { dLdlogp: dl } });
    const b = await flow({ ...args, options: { ...SOLVE, deferred: true }, backward: { dLdlogp: dl, options: { deferred: true } } });
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(b.waits).toBe(0);
    expect(b.grad!.waits).toBe(0);
    expect(b.grad!.params).toEqual(a.grad!.params);
    expect(b.grad!.x).toEqual(a.grad!.x);
    expect(b.live).toBe(0);
  }, 60_000);
});
