import { afterAll, beforeAll, expect, it } from 'vitest';
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

it('prints the adapter', async () => {
  const info = await h.call('info');
  console.log(JSON.stringify(info));
  expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
});

it('dopri5 matches the float64 reference', async () => {
  const p = makeProblem({ layers: [2, 50, 2], B: 8 });
  const t = [0, 0.5, 1];
  const r = await h.call('solve', { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(p.y0), t, options: { method: 'dopri5' }, stats: true });
  console.log(JSON.stringify({ ...r, y: null }));
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  const { got, want } = gather(p, decode(r.y!), t, allSamples(p.B), (y0) => solveAccurate(p.rhs, y0, t));
  const err = relError(got, want);
  console.log('rel err', err);
  expect(err).toBeLessThan(1e-4);
});

it('batch-shared step control matches the float64 reference', async () => {
  const p = makeProblem({ layers: [2, 50, 2], B: 8 });
  const t = [0, 0.3, 0.5, 1];
  const r = await h.call('solve', { mlp: p.mlp, params: encodeF32(p.params), y0: encodeF32(p.y0), t, options: { method: 'dopri5', stepControl: 'batch' }, stats: true });
  console.log(JSON.stringify({ ...r, y: null }));
  expect(r.gpuErrors).toEqual([]);
  expect(r.error).toBeNull();
  const { got, want } = gather(p, decode(r.y!), t, allSamples(p.B), (y0) => solveAccurate(p.rhs, y0, t));
  const err = relError(got, want);
  console.log('rel err', err);
  expect(err).toBeLessThan(1e-4);
});
