/**
 * Dispatch budgets: every unit of a per-sample solve allows maxScale times
 * stepsPerDispatch attempts (maxScale 16 when stepsPerDispatch is automatic,
 * 1 when given), and the default budget of a deferred solve covers maxSteps
 * with the fewest such units.
 */
import { expect, it } from 'vitest';
import { DISPATCH_GROWTH, deferredUnitsCovering } from '../../src/solver/driver';
import { deferredUnits, resolveOptions } from '../../src/solver/options';

it('the fewest units of maxScale dispatches each that cover the dispatches asked for', () => {
  expect(DISPATCH_GROWTH).toBe(16);
  for (const max of [1, 16]) {
    for (const n of [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 40, 47, 48, 1000]) {
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

it('a deferred solve\'s default budget covers maxSteps; a given stepsPerDispatch is never scaled', () => {
  const work = { batch: 20, flopsPerEvaluation: 400 };
  const times = [0, 0.5, 1];
  const auto = resolveOptions({ method: 'dopri5' }, work);
  expect(auto.dispatchGrowth).toBe(DISPATCH_GROWTH);
  const units = deferredUnits(auto, times);
  expect(units * DISPATCH_GROWTH * auto.stepsPerDispatch).toBeGreaterThanOrEqual(auto.maxSteps);
  expect((units - 1) * DISPATCH_GROWTH * auto.stepsPerDispatch).toBeLessThan(auto.maxSteps);
  const given = resolveOptions({ method: 'dopri5', stepsPerDispatch: 100, maxSteps: 1_000 }, work);
  expect(given.dispatchGrowth).toBe(1);
  expect(deferredUnits(given, times)).toBe(10);
  expect(deferredUnits(resolveOptions({ method: 'dopri5', deferred: true, dispatchBudget: 7 }, work), times)).toBe(7);
});
