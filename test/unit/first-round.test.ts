/**
 * The first round of a waiting per-sample solve (src/solver/driver.ts
 * `firstRoundUnits`): as few units as cover FIRST_ROUND_ATTEMPTS step
 * attempts per sample and reach the largest dispatch scale, at most 8.
 */
import { describe, expect, it } from 'vitest';
import { FIRST_ROUND_ATTEMPTS, deferredScale, firstRoundUnits } from '../../src/solver/driver';

const covered = (units: number, perUnit: number, maxScale: number) =>
  Array.from({ length: units }, (_, k) => deferredScale(k, maxScale) * perUnit).reduce((a, b) => a + b, 0);

describe('first round of a waiting solve', () => {
  it('small problems: 5 units (scales 1 … 16), not 8', () => {
    expect(firstRoundUnits(256, 16)).toBe(5);
    expect(covered(5, 256, 16)).toBeGreaterThanOrEqual(FIRST_ROUND_ATTEMPTS);
    expect(firstRoundUnits(100, 16)).toBe(5);
  });
  it('large problems and unknown attempts per dispatch: 8 units, as before', () => {
    expect(firstRoundUnits(1, 16)).toBe(8);
    expect(firstRoundUnits(20, 16)).toBe(8);
    expect(firstRoundUnits(40, 16)).toBe(7);
    expect(firstRoundUnits(undefined, 16)).toBe(8);
  });
  it('in between, the fewest units that cover the attempts once the largest scale is reached', () => {
    // 1 + 2 + 4 + 8 + 16 + 16 = 47 units of 50 attempts: 2,350 ≥ 2,048; five units (1,550) are not enough.
    expect(firstRoundUnits(50, 16)).toBe(6);
    // Without growth (stepsPerDispatch given): every unit is one dispatch.
    expect(firstRoundUnits(256, 1)).toBe(8);
    expect(firstRoundUnits(4096, 1)).toBe(1);
  });
});
