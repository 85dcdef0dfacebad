import { afterAll, beforeAll, expect, it } from 'vitest';
import { solveAccurate, solveFixed } from '../reference/solve';
import { TABLEAUX } from '../../src/host/tableau';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError } from './problems';
import { gather, solveOk, someSamples } from './solve-helpers';

let h: Harness;
beforeAll(async () => { h = await openHarness(); });
afterAll(async () => h?.close());

it('timings', async () => {
  const p = makeProblem({ layers: [2, 50, 2], B: 8 });
  const t = [0, 0.37, 1];
  for (const m of ['euler', 'midpoint', 'rk4', 'rk38', 'bosh3', 'dopri5', 'tsit5'] as const) {
    const opts = TABLEAUX[m].adaptive ? { method: m } : { method: m, stepSize: 0.1 };
    const t0 = Date.now();
    const { y, r } = await solveOk(h, p, t, opts);
    const t1 = Date.now();
    await solveOk(h, p, t, opts);
    const t2 = Date.now();
    const ref = gather(p, y, t, someSamples(8, 8), (y0) => TABLEAUX[m].adaptive ? solveAccurate(p.rhs, y0, t) : solveFixed(p.rhs, TABLEAUX[m], y0, t, 0.1));
    console.log(m, 'first', t1 - t0, 'second', t2 - t1, 'ms', r.ms, 'err', relError(ref.got, ref.want), JSON.stringify(r.stats?.nfe));
  }
  const shapes: [number[], number][] = [[[4, 64, 64, 4], 1000], [[2, 512, 2], 1000], [[2, 50, 2], 100000], [[4,64,64,4], 100000]];
  for (const [layers, B] of shapes) {
    const q = makeProblem({ layers, B });
    const t0 = Date.now();
    const { y, r } = await solveOk(h, q, [0, 0.5, 1], { method: "dopri5" });
    const t1 = Date.now();
    const s = someSamples(B, 100);
    const ref = gather(q, y, [0, 0.5, 1], s, (y0) => solveAccurate(q.rhs, y0, [0, 0.5, 1], 1e-10, 1e-10));
    const t2 = Date.now();
    console.log(layers, B, 'gpu', t1 - t0, 'ms', r.ms, 'ref', t2 - t1, 'err', relError(ref.got, ref.want), JSON.stringify(r.summary));
  }
});
