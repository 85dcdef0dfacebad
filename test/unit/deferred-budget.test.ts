/**
 * Growing dispatches: unit k allows min(2^k, maxScale) times stepsPerDispatch
 * attempts (maxScale 16 when stepsPerDispatch is automatic, 1 when given),
 * and the default budget of a deferred solve covers maxSteps.
 */
import { expect, it } from 'vitest';
import { DISPATCH_GROWTH, deferredScale, deferredUnitsCovering } from '../../src/solver/driver';

it('units grow 1, 2, 4, … up to the largest scale', () => {
  expect(DISPATCH_GROWTH).toBe(16);
  expect(Array.from({ length: 7 }, (_, k) => deferredScale(k, 16))).toEqual([1, 2, 4, 8, 16, 16, 16]);
  expect(Array.from({ length: 4 }, (_, k) => deferredScale(k, 1))).toEqual([1, 1, 1, 1]);
  expect(deferredScale(200, 16)).toBe(16);
});

it('the fewest units whose scales add up to the dispatches asked for', () => {
  const sum = (m: number, max: number) => Array.from({ length: m }, (_, k) => deferredScale(k, max)).reduce((a, b) => a + b, 0);
  for (const max of [1, 16]) {
    for (const n of [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 40, 47, 48, 1000]) {
      const u = deferredUnitsCovering(n, max);
      // Enough, and one unit fewer would not be.
      expect(sum(u, max)).toBeGreaterThanOrEqual(n);
      if (u > 1) expect(sum(u - 1, max)).toBeLessThan(n);
    }
  }
  // maxSteps 10,000 at 256 attempts a dispatch: 40 ordinary dispatches, 6 growing ones (1 + 2 + 4 + 8 + 16 + 16 = 47).
  expect(deferredUnitsCovering(40, 16)).toBe(6);
  // Without growth, one unit per dispatch.
  expect(deferredUnitsCovering(40, 1)).toBe(40);
});
