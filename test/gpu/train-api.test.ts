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
    'trainer waitFree': 'options.waitFree',
    'trainer dispatchBudget': 'options.dispatchBudget',
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
  // Wait-free iterations: one host wait per report (the loss read), none otherwise.
  expect(r.maps).toBe(5);
  expect(r.history.first).toBe(1);
  expect(r.history.losses.length).toBe(25);
  expect(r.history.losses[24]).toBe(r.reports[4].loss);
  expect(r.history.losses[9]).toBe(r.reports[1].loss);
  expect(r.again).toBe(0);
});

it('a wait-free trainer skips the updates of failed iterations on the GPU, reports them at the next read and trains on', async () => {
  const h = harness();
  const plan = ['good', 'good', 'bad-y0', 'check', 'good', 'good', 'check', 'bad-target', 'bad-target', 'check', 'good', 'check'] as const;
  const r = await h.call('trainWaitFree', { plan: [...plan] });
  for (const c of r.checks) console.log(JSON.stringify({ ...c, params: undefined }));
  // The waiting trainer throws from the failing iterations themselves and makes no update there.
  expect(r.waitingErrors.map((e) => [e.iteration, e.error.name])).toEqual([
    [3, 'OdeSolveError'],
    [6, 'OdeSolveError'],
    [7, 'OdeSolveError'],
  ]);
  const [c1, c2, c3, c4] = r.checks;
  // The wait-free iterations issued no host wait; each check is one read.
  expect(r.checks.map((c) => c.maps)).toEqual([0, 0, 0, 0]);
  expect(c1.trainingError).toMatchObject({
    name: 'TrainingError',
    iteration: 3,
    phase: 'forward',
    failure: { sample: 2, kind: 'nonfinite', t: 0 },
    failing: 1,
    skipped: 1,
  });
  expect(c1.trainingError?.message).toMatch(/iteration 3 made no update/);
  expect(c2.trainingError).toBeNull();
  expect(Number.isFinite(c2.loss)).toBe(true);
  // A failed gradient solve (NaN target → NaN cotangent of sample 1 at t = 0.2), twice in a row.
  expect(c3.trainingError).toMatchObject({ name: 'TrainingError', iteration: 6, phase: 'backward', failing: 1, skipped: 2 });
  expect(c3.trainingError?.failure).toMatchObject({ sample: 1, kind: 'nonfinite' });
  expect(c3.trainingError?.message).toMatch(/iterations 6–7 made no update/);
  expect(c4.trainingError).toBeNull();
  // After each check both trainers have made the same updates (2, 4, 4, 5: the skipped ones are
  // taken off Adam's step count, so its bias corrections stay in step) and hold identical parameters.
  expect(r.checks.map((c) => c.steps)).toEqual([
    [2, 2],
    [4, 4],
    [4, 4],
    [5, 5],
  ]);
  for (const c of r.checks) expect(c.params[0]).toEqual(c.params[1]);
});

it('wait-free and waiting training take bit-identical steps', async () => {
  const h = harness();
  const r = await h.call('trainWaitFree', { plan: ['good', 'good', 'good', 'check', 'good', 'good', 'check'] });
  for (const c of r.checks) {
    expect(c.trainingError).toBeNull();
    expect(c.params[0]).toEqual(c.params[1]);
    expect(c.steps[0]).toBe(c.steps[1]);
  }
  expect(r.checks.map((c) => c.maps)).toEqual([0, 0]);
  expect(r.waitingErrors).toEqual([]);
});
