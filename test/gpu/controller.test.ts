/**
 * The step-size controller is an option: the default PI gains and the classic
 * I controller (pcoeff 0, icoeff 1, torchdiffeq's; by name 'PI' and 'I') both meet the tolerance
 * against the float64 reference (1e-4 relative at rtol 1e-6, as every
 * adaptive solve), take different step sequences, and bad controller values
 * are rejected before any GPU work.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OdeintOptions } from '../../src/index';
import { solveAccurate } from '../reference/solve';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError } from './problems';
import { allSamples, gather } from './solve-helpers';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const p = makeProblem({ layers: [2, 32, 2], B: 6, seed: 21, paramScale: 2 });
const t = [0, 0.5, 1, 2];

async function solve(controller?: Record<string, number> | string) {
  const r = await h.call('solve', {
    mlp: p.mlp,
    params: encodeF32(p.params),
    y0: encodeF32(p.y0),
    t,
    options: { method: 'dopri5', rtol: 1e-6, atol: 1e-7, ...(controller ? { controller: controller as OdeintOptions['controller'] } : {}) },
    stats: true,
  });
  return r;
}

function error(y: Float32Array | Float64Array): number {
  const { got, want } = gather(p, y, t, allSamples(p.B), (y0) => solveAccurate(p.rhs, y0, t));
  return relError(got, want);
}

it('PI (default) and I controllers both meet the tolerance, with different steps', async () => {
  const pi = await solve();
  const ic = await solve({ pcoeff: 0, icoeff: 1 });
  for (const r of [pi, ic]) {
    expect(r.gpuErrors).toEqual([]);
    expect(r.error).toBeNull();
    expect(error(decode(r.y!))).toBeLessThan(1e-4);
  }
  console.log('accepted steps: PI', pi.summary!.accepted, 'I', ic.summary!.accepted);
  expect(pi.summary!.accepted).not.toBe(ic.summary!.accepted);
  // The named presets are those settings: the same outputs, bit for bit, and the same steps.
  for (const [name, same] of [
    ['PI', pi],
    ['I', ic],
  ] as const) {
    const r = await solve(name);
    expect(r.error).toBeNull();
    expect(Array.from(decode(r.y!))).toEqual(Array.from(decode(same.y!)));
    expect(r.summary!.accepted).toBe(same.summary!.accepted);
    expect(r.summary!.rejected).toBe(same.summary!.rejected);
  }
});

it('a tighter factorMax takes more steps', async () => {
  const loose = await solve();
  const tight = await solve({ factorMax: 1.5 });
  expect(tight.error).toBeNull();
  expect(error(decode(tight.y!))).toBeLessThan(1e-4);
  expect(tight.summary!.accepted).toBeGreaterThan(loose.summary!.accepted);
});

it('bad controller values are ArgumentErrors before any GPU work', async () => {
  for (const [controller, arg] of [
    [{ safety: 0 }, 'options.controller.safety'],
    [{ safety: 1.5 }, 'options.controller.safety'],
    [{ factorMin: 1 }, 'options.controller.factorMin'],
    [{ factorMax: 1 }, 'options.controller.factorMax'],
    [{ pcoeff: -1 }, 'options.controller.pcoeff'],
    [{ pcoeff: 0, icoeff: 0 }, 'options.controller.icoeff'],
    ['P', 'options.controller'],
    ['pi', 'options.controller'],
  ] as const) {
    const r = await solve(controller);
    expect(r.error?.name, JSON.stringify(controller)).toBe('ArgumentError');
    expect(r.error?.argument).toBe(arg);
    expect(r.counted.submit).toBe(0);
  }
});
