/**
 * The training API's contract: bad arguments are refused with an
 * ArgumentError naming the argument before any GPU work, and
 * `Trainer.fit` reports progress (reading the loss only on report
 * iterations), stops when the callback says so, and keeps every
 * iteration's loss in the GPU ring that `readLossHistory` reads.
 */
import { expect, it } from 'vitest';
import { useHarness } from './solve-helpers';

const harness = useHarness();

it('refuses bad arguments with an ArgumentError naming the argument, before any GPU work', async () => {
  const h = harness();
  const r = await h.call('trainArgErrors');
  expect(r.gpuErrors).toEqual([]);
  const expected: Record<string, string> = {
    'loss kind': 'kind',
    'sgd lr': 'options.lr',
    'sgd nesterov': 'options.nesterov',
    'adam betas': 'options.betas[1]',
    'adam params': 'params',
    'linear width': 'inFeatures',
    'readout width': 'options.readout',
    'trajectory uneven': 't',
    labels: 'labels[1]',
    'window length': 'options.length',
    'trainer optimizer': 'optimizer',
    'loss sizes': 'grad',
    'trainer target': 'batch.target',
  };
  for (const c of r.cases) {
    console.log(`${c.name}: ${c.error?.message}`);
    expect(c.error, c.name).not.toBeNull();
    expect(c.error?.name, c.name).toBe('ArgumentError');
    expect(c.error?.argument, c.name).toBe(expected[c.name]);
  }
  expect(r.cases.length).toBe(Object.keys(expected).length);
  expect(r.dispatches).toBe(0);
  expect(r.submits).toBe(0);
});

it('Trainer.fit reports progress, stops on request and keeps every loss in the ring', async () => {
  const h = harness();
  const r = await h.call('trainFit', { iterations: 40, progressEvery: 5, stopAt: 25 });
  expect(r.gpuErrors).toEqual([]);
  expect(r.res.iterations).toBe(25);
  expect(r.reports.map((p) => p.iteration)).toEqual([5, 10, 15, 20, 25]);
  for (const p of r.reports) {
    expect(p.loss).toBeGreaterThan(0);
    expect(p.itPerSec).toBeGreaterThan(0);
    expect(p.forwardNfe).toBeGreaterThan(0);
    expect(p.backwardNfe).toBeGreaterThan(0);
  }
  // Two solve waits per iteration, one loss read per report.
  expect(r.maps).toBe(25 * 2 + 5);
  expect(r.history.first).toBe(1);
  expect(r.history.losses.length).toBe(25);
  expect(r.history.losses[24]).toBe(r.reports[4].loss);
  expect(r.history.losses[9]).toBe(r.reports[1].loss);
  expect(r.again).toBe(0);
});
