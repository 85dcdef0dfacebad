/**
 * The first round of a waiting per-sample solve (src/solver/driver.ts
 * `firstRoundUnits`): every unit at the largest dispatch scale, as few units
 * as allow FIRST_ROUND_ATTEMPTS (the default step limit) step attempts per
 * sample, at most 8; or, given the attempts a reverse solve is expected to
 * need, as few as allow those.
 */
import { describe, expect, it } from 'vitest';
import { FIRST_ROUND_ATTEMPTS, firstRoundUnits, nextRoundUnits } from '../../src/solver/driver';

/** Attempts per sample `units` units at the largest scale allow. */
const allowed = (units: number, perUnit: number, maxScale: number) => units * perUnit * maxScale;

describe('first round of a waiting solve', () => {
  it('covers the default step limit', () => {
    expect(FIRST_ROUND_ATTEMPTS).toBe(10_000);
  });
  it('the fewest units at the largest scale that allow the step limit', () => {
    for (const [perUnit, maxScale, units] of [
      [256, 16, 3],
      [512, 16, 2],
      [1024, 16, 1],
      [4096, 16, 1],
      [4096, 1, 3],
      [1250, 1, 8],
    ]) {
      expect(firstRoundUnits(perUnit, maxScale)).toBe(units);
      expect(allowed(units, perUnit, maxScale)).toBeGreaterThanOrEqual(FIRST_ROUND_ATTEMPTS);
      if (units > 1) expect(allowed(units - 1, perUnit, maxScale)).toBeLessThan(FIRST_ROUND_ATTEMPTS);
    }
  });
  it('large problems and unknown attempts per dispatch: 8 units', () => {
    expect(firstRoundUnits(1, 16)).toBe(8);
    expect(firstRoundUnits(10, 16)).toBe(8);
    expect(firstRoundUnits(256, 1)).toBe(8);
    expect(firstRoundUnits(undefined, 16)).toBe(8);
  });
  it('with the attempts a reverse solve is expected to need: the fewest units allowing them', () => {
    // The spiral's reverse solve: a forward of 20 evaluations (4 attempts), 10 outputs: 2·4 + 2·10 + 32 = 60.
    expect(firstRoundUnits(256, 16, 60)).toBe(1);
    expect(firstRoundUnits(4, 16, 64)).toBe(1);
    expect(firstRoundUnits(4, 16, 70)).toBe(2);
    expect(firstRoundUnits(1, 16, 1_000)).toBe(8);
    // Never more than the default: an expectation above the step limit changes nothing.
    expect(firstRoundUnits(256, 16, 1e6)).toBe(firstRoundUnits(256, 16));
    expect(firstRoundUnits(undefined, 16, 60)).toBe(8);
  });
});

describe('later rounds', () => {
  it('double, from at least 16 units, up to 512', () => {
    expect([1, 3, 8, 16, 200, 256, 512].map(nextRoundUnits)).toEqual([16, 16, 16, 32, 400, 512, 512]);
  });
});
