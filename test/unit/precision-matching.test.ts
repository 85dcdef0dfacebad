/**
 * The equal-error matching of the work-precision tables (bench/precision.ts,
 * tables 7b and 7c): on curves that are straight lines in log-log, the
 * interpolated cost ratio is known exactly.
 */
import { describe, expect, it } from 'vitest';
import { curveRatioAtEqualError, interpolateLogLog } from '../../bench/precision';

/** cost = c · error^(−1/p) at the given errors (a method of order p with constant c). */
const curve = (c: number, p: number, errors: readonly number[]) => errors.map((x) => ({ x, y: c * x ** (-1 / p) }));

describe('work-precision matching at equal error', () => {
  it('interpolates a power law exactly in log-log and is NaN outside the curve', () => {
    const a = curve(10, 5, [1e-3, 1e-4, 1e-5]);
    expect(interpolateLogLog(a, 3e-4)).toBeCloseTo(10 * 3e-4 ** (-1 / 5), 10);
    expect(interpolateLogLog(a, 1e-2)).toBeNaN();
    expect(interpolateLogLog(a, 1e-6)).toBeNaN();
  });

  it('gives the constant ratio of two parallel curves at every shared error', () => {
    // b costs 1.2× a at every error; its errors are offset so the two interleave.
    const a = curve(10, 5, [1e-3, 1e-4, 1e-5, 1e-6]);
    const b = curve(12, 5, [3e-3, 3e-4, 3e-5, 3e-6]);
    const r = curveRatioAtEqualError(a, b);
    // Both cover [3e-6, 1e-3]: a's 1e-3, 1e-4, 1e-5 and b's 3e-4, 3e-5, 3e-6 (b's 3e-3 and a's 1e-6 fall outside the other).
    expect(r.count).toBe(6);
    expect(r.geoMean).toBeCloseTo(1.2, 12);
    expect(r.min).toBeCloseTo(1.2, 12);
    expect(r.max).toBeCloseTo(1.2, 12);
    expect(curveRatioAtEqualError(b, a).geoMean).toBeCloseTo(1 / 1.2, 12);
    // Only errors ≥ 1e-5: a's 1e-3, 1e-4, 1e-5 and b's 3e-4, 3e-5.
    expect(curveRatioAtEqualError(a, b, 1e-5).count).toBe(5);
  });

  it('reports no overlap for curves that share no error', () => {
    const r = curveRatioAtEqualError(curve(10, 5, [1e-3, 1e-4]), curve(10, 5, [1e-6, 1e-7]));
    expect(r.count).toBe(0);
    expect(r.geoMean).toBeNaN();
  });
});
