/**
 * Dispatch budgets: every unit of a per-sample solve allows maxScale times
 * stepsPerDispatch attempts (maxScale the adapter's growth when
 * stepsPerDispatch is automatic: 16 on a GPU, 256 on a CPU adapter; 1 when
 * given), and the default budget of a deferred solve covers maxSteps with
 * the fewest such units.
 */
import { describe, expect, it } from 'vitest';
import { DISPATCH_GROWTH, DISPATCH_GROWTH_CPU, deferredUnitsCovering, dispatchGrowth } from '../../src/solver/driver';
import { deferredUnits, resolveOptions } from '../../src/solver/options';
import type { AdapterKind } from '../../src/runtime/runtime';

it('the fewest units of maxScale dispatches each that cover the dispatches asked for', () => {
  for (const max of [1, 16, 256]) {
    for (const n of [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 40, 47, 48, 255, 256, 257, 1000]) {
      const u = deferredUnitsCovering(n, max);
      expect(u).toBeGreaterThanOrEqual(1);
      // Enough, and one unit fewer would not be.
      expect(u * max).toBeGreaterThanOrEqual(n);
      if (u > 1) expect((u - 1) * max).toBeLessThan(n);
    }
  }
  // maxSteps 10,000 at 256 attempts a dispatch: 40 ordinary dispatches, 3 units of 16.
  expect(deferredUnitsCovering(40, 16)).toBe(3);
  // Without growth, one unit per dispatch.
  expect(deferredUnitsCovering(40, 1)).toBe(40);
});

it('growth by adapter kind: 16 on a GPU, 256 on a CPU adapter', () => {
  expect(DISPATCH_GROWTH).toBe(16);
  expect(DISPATCH_GROWTH_CPU).toBe(256);
  expect(dispatchGrowth('gpu')).toBe(DISPATCH_GROWTH);
  expect(dispatchGrowth('cpu')).toBe(DISPATCH_GROWTH_CPU);
});

describe.each<[AdapterKind, number]>([
  ['gpu', 16],
  ['cpu', 256],
])('a deferred solve on a %s adapter', (adapter, growth) => {
  const times = [0, 0.5, 1];

  it('covers maxSteps with the fewest units of the adapter\'s growth when stepsPerDispatch is automatic', () => {
    // The spiral at B = 1,024 (forward: 400 flops an evaluation; reverse: 3×): automatic stepsPerDispatch below 256.
    for (const work of [
      { batch: 20, flopsPerEvaluation: 400 },
      { batch: 1_024, flopsPerEvaluation: 400 },
      { batch: 1_024, flopsPerEvaluation: 1_200 },
      { batch: 65_536, flopsPerEvaluation: 20_000 },
    ]) {
      const auto = resolveOptions({ method: 'dopri5' }, { ...work, adapter });
      expect(auto.dispatchGrowth).toBe(growth);
      const units = deferredUnits(auto, times);
      const perUnit = growth * auto.stepsPerDispatch;
      if (units < 512) expect(units * perUnit).toBeGreaterThanOrEqual(auto.maxSteps);
      else expect(units).toBe(512);
      if (units > 1) expect((units - 1) * perUnit).toBeLessThan(auto.maxSteps);
    }
  });

  it('never scales a given stepsPerDispatch; a given budget is kept', () => {
    const work = { batch: 20, flopsPerEvaluation: 400, adapter };
    const given = resolveOptions({ method: 'dopri5', stepsPerDispatch: 100, maxSteps: 1_000 }, work);
    expect(given.dispatchGrowth).toBe(1);
    expect(deferredUnits(given, times)).toBe(10);
    expect(deferredUnits(resolveOptions({ method: 'dopri5', deferred: true, dispatchBudget: 7 }, work), times)).toBe(7);
  });
});

it('the spiral\'s reverse solve at B = 1,024: 8 units on a CPU adapter, 125 on a GPU', () => {
  // 4e7 flops / (1,024 samples · 6 evaluations · 1,200 flops): 5 attempts an ordinary dispatch.
  const work = { batch: 1_024, flopsPerEvaluation: 3 * 400 };
  const units = (adapter: AdapterKind) => deferredUnits(resolveOptions({ method: 'dopri5' }, { ...work, adapter }), [1, 0]);
  expect(units('gpu')).toBe(Math.ceil(10_000 / (16 * 5)));
  expect(units('cpu')).toBe(Math.ceil(10_000 / (256 * 5)));
});
