/**
 * The first round of a waiting per-sample solve (src/solver/driver.ts
 * `firstRoundUnits`): as few units as cover FIRST_ROUND_ATTEMPTS (the
 * default step limit) step attempts per sample and reach the largest
 * dispatch scale, at most 8; or, given the attempts a reverse solve is
 * expected to need, as few as cover those.
 */
import { describe, expect, it } from 'vitest';
import { FIRST_ROUND_ATTEMPTS, deferredScale, firstRoundUnits } from '../../src/solver/driver';

const covered = (units: number, perUnit: number, maxScale: number) =>
  Array.from({ length: units }, (_, k) => deferredScale(k, maxScale) * perUnit).reduce((a, b) => a + b, 0);

describe('first round of a waiting solve', () => {
  it('covers the default step limit', () => {
    expect(FIRST_ROUND_ATTEMPTS).toBe(10_000);
  });
  it('small problems (256 attempts per dispatch): 6 units (scales 1, 2, 4, 8, 16, 16), not 8', () => {
    expect(firstRoundUnits(256, 16)).toBe(6);
    expect(covered(6, 256, 16)).toBeGreaterThanOrEqual(FIRST_ROUND_ATTEMPTS);
    expect(covered(5, 256, 16)).toBeLessThan(FIRST_ROUND_ATTEMPTS);
    expect(firstRoundUnits(512, 16)).toBe(5);
  });
  it('large problems and unknown attempts per dispatch: 8 units, as before', () => {
    expect(firstRoundUnits(1, 16)).toBe(8);
    expect(firstRoundUnits(100, 16)).toBe(8);
    expect(firstRoundUnits(undefined, 16)).toBe(8);
  });
  it('the largest scale is always reached, so every solve binds the same uniforms', () => {
    // 4,096 attempts per dispatch: the attempts alone would take 3 units, the scales 5.
    expect(firstRoundUnits(4096, 16)).toBe(5);
    // Without growth (stepsPerDispatch given) every unit is one dispatch.
    expect(firstRoundUnits(4096, 1)).toBe(3);
    expect(firstRoundUnits(256, 1)).toBe(8);
  });
  it('with the attempts a reverse solve is expected to need: the fewest units covering them, the largest scale not required', () => {
    // The spiral's reverse solve: a forward of 20 evaluations (4 attempts), 10 outputs: 2·4 + 2·10 + 32 = 60.
    expect(firstRoundUnits(256, 16, 60)).toBe(1);
    expect(firstRoundUnits(256, 16, 257)).toBe(2);
    expect(firstRoundUnits(4, 16, 70)).toBe(5);
    expect(covered(5, 4, 16)).toBeGreaterThanOrEqual(70);
    expect(covered(4, 4, 16)).toBeLessThan(70);
    // Never more than the default: an expectation above the step limit changes nothing.
    expect(firstRoundUnits(256, 16, 1e6)).toBe(firstRoundUnits(256, 16));
    expect(firstRoundUnits(256, 16, 1e6)).toBeLessThanOrEqual(6);
    expect(firstRoundUnits(undefined, 16, 60)).toBe(8);
  });
});
