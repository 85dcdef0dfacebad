/**
 * The dispatch budget of deferred solves: unit k allows 2^min(k, 6) times
 * the usual step attempts, and the default budget covers maxSteps.
 */
import { expect, it } from 'vitest';
import { deferredScale, deferredUnitsCovering } from '../../src/host/driver';

it('units grow 1, 2, 4, …, then stay at 64', () => {
  expect(Array.from({ length: 9 }, (_, k) => deferredScale(k))).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 64]);
});

it('the fewest units whose scales add up to the dispatches asked for', () => {
  const brute = (n: number) => {
    let units = 0;
    let covered = 0;
    while (covered < n) covered += deferredScale(units++);
    return Math.max(1, units);
  };
  for (const n of [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 40, 47, 48, 1000]) {
    const u = deferredUnitsCovering(n);
    expect(u).toBe(brute(n));
    // Enough, and one unit fewer would not be.
    const sum = (m: number) => Array.from({ length: m }, (_, k) => deferredScale(k)).reduce((a, b) => a + b, 0);
    expect(sum(u)).toBeGreaterThanOrEqual(n);
    if (u > 1) expect(sum(u - 1)).toBeLessThan(n);
  }
  // maxSteps 10,000 at 256 attempts a dispatch: 40 ordinary dispatches, 6 deferred ones (1 + 2 + … + 32 = 63).
  expect(deferredUnitsCovering(40)).toBe(6);
  // At one attempt a dispatch: 10,000 ordinary dispatches, 162 deferred ones (127 + 155 · 64 ≥ 10,000 > 127 + 154 · 64).
  expect(deferredUnitsCovering(10_000)).toBe(162);
});
