/** The demo charts' tick labels (demo/format.ts): small values of a log axis do not read 0. */
import { describe, expect, it } from 'vitest';
import { formatTick } from '../../demo/format';

describe('formatTick', () => {
  it('writes values below 0.01 as powers of ten', () => {
    expect(formatTick(1e-3)).toBe('1e-3');
    expect(formatTick(3e-4)).toBe('3e-4');
    expect(formatTick(0.003)).toBe('3e-3');
    expect(formatTick(2.5e-7)).toBe('2.5e-7');
    expect(formatTick(0.009)).toBe('9e-3');
    expect(formatTick(-4e-5)).toBe('-4e-5');
    // float noise of uPlot's log splits (3 × 1e-4)
    expect(formatTick(3 * 1e-4)).toBe('3e-4');
    expect(formatTick(0.00030000000000000003)).toBe('3e-4');
  });

  it('writes 0.01 ≤ |v| < 1e5 plainly, without float noise or trailing zeros', () => {
    expect(formatTick(0.01)).toBe('0.01');
    expect(formatTick(0.05)).toBe('0.05');
    expect(formatTick(0.1 + 0.2)).toBe('0.3');
    expect(formatTick(1)).toBe('1');
    expect(formatTick(2)).toBe('2');
    expect(formatTick(1500)).toBe('1500');
  });

  it('writes large values as powers of ten, and 0, gaps and infinities readably', () => {
    expect(formatTick(1e6)).toBe('1e+6');
    expect(formatTick(0)).toBe('0');
    expect(formatTick(null)).toBe('');
    expect(formatTick(Number.NaN)).toBe('');
    expect(formatTick(Number.POSITIVE_INFINITY)).toBe('∞');
  });

  it('never labels a positive tick of a log axis 0', () => {
    for (let k = -12; k <= 4; k++) {
      for (const m of [1, 2, 3, 5]) {
        const v = m * 10 ** k;
        const label = formatTick(v);
        expect(Math.abs(Number(label) / v - 1)).toBeLessThan(1e-12);
      }
    }
  });
});
