/**
 * FFJORD's toy densities (src/flows/toy-data.ts): shapes, determinism per
 * seed, and statistics against the definitions (means, mean squared radii
 * worked out from the generating formulas, the checkerboard's squares, the
 * spirals' mirror symmetry). Tolerances are several standard errors of the
 * sample statistics at n = 20,000.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { TOY_DATASETS, toyData } from '../../src/flows/toy-data';

const N = 20_000;

function stats(x: Float32Array): { mx: number; my: number; r2: number } {
  const n = x.length / 2;
  let mx = 0;
  let my = 0;
  let r2 = 0;
  for (let i = 0; i < n; i++) {
    mx += x[2 * i];
    my += x[2 * i + 1];
    r2 += x[2 * i] ** 2 + x[2 * i + 1] ** 2;
  }
  return { mx: mx / n, my: my / n, r2: r2 / n };
}

describe('toy datasets', () => {
  it.each(TOY_DATASETS)('%s: shape [n][2], finite, the same per seed, different across seeds', (name) => {
    for (const n of [1, 7, 513]) {
      const a = toyData(name, n, 3);
      expect(a.length).toBe(2 * n);
      expect(a.every(Number.isFinite)).toBe(true);
      expect(toyData(name, n, 3)).toEqual(a);
    }
    expect(toyData(name, 64, 1)).not.toEqual(toyData(name, 64, 2));
  });

  // Mean squared radius E|x|² from each definition:
  //   8gaussians: (4² + 2·0.5²) / 1.414²; pinwheel: 2²·(1 + 0.3² + 0.1²);
  //   circles: 3²·((1 + 0.5²)/2 + 2·0.08²); rings: (3² + 2.25² + 1.5² + 0.75²)/4 + 2·0.08²;
  //   checkerboard: both coordinates uniform over [−4, 4] in total: 2·16/3.
  const r2: Partial<Record<(typeof TOY_DATASETS)[number], number>> = {
    '8gaussians': 16.5 / 1.414 ** 2,
    pinwheel: 4 * 1.1,
    circles: 9 * (0.625 + 2 * 0.0064),
    rings: (9 + 5.0625 + 2.25 + 0.5625) / 4 + 2 * 0.0064,
    checkerboard: 32 / 3,
  };
  it.each(Object.entries(r2))('%s: mean ≈ 0 and E|x|² = %f (within 2%)', (name, want) => {
    const s = stats(toyData(name as (typeof TOY_DATASETS)[number], N, 11));
    expect(Math.abs(s.mx)).toBeLessThan(0.06);
    expect(Math.abs(s.my)).toBeLessThan(0.06);
    expect(Math.abs(s.r2 - want) / want).toBeLessThan(0.02);
  });

  it('moons: mean (0, 0.3) (the two arcs\' mean (0.5, 0.25), ·2 + (−1, −0.2))', () => {
    const s = stats(toyData('moons', N, 5));
    expect(Math.abs(s.mx)).toBeLessThan(0.01);
    expect(Math.abs(s.my - 0.3)).toBeLessThan(0.01);
  });

  it('checkerboard: every point in a square of side 2 whose column + row index is even, all 8 squares used', () => {
    const x = toyData('checkerboard', N, 2);
    const seen = new Set<string>();
    for (let i = 0; i < N; i++) {
      const c = Math.floor(x[2 * i] / 2);
      const r = Math.floor(x[2 * i + 1] / 2);
      expect((((c + r) % 2) + 2) % 2).toBe(0);
      expect(Math.abs(x[2 * i])).toBeLessThanOrEqual(4);
      expect(Math.abs(x[2 * i + 1])).toBeLessThanOrEqual(4);
      seen.add(`${c},${r}`);
    }
    expect(seen.size).toBe(8);
  });

  it('2spirals: the second half mirrors the first through the origin up to the N(0, 0.1²) noise; radius ≤ (3π + 0.71)/3 + noise', () => {
    const x = toyData('2spirals', N, 4);
    const h = N / 2;
    let sum2 = 0;
    for (let i = 0; i < h; i++) {
      sum2 += (x[2 * i] + x[2 * (h + i)]) ** 2 + (x[2 * i + 1] + x[2 * (h + i) + 1]) ** 2;
      expect(Math.hypot(x[2 * i], x[2 * i + 1])).toBeLessThan((3 * Math.PI + 0.71) / 3 + 0.6);
    }
    // each coordinate of the sum has variance 2·0.1²: E|sum|² = 4·0.01
    expect(Math.abs(sum2 / h - 0.04) / 0.04).toBeLessThan(0.05);
    // E θ = 3π·E√U = 2π: the mean distance from the origin is about 2π/3 (the offsets shift it a little)
    let r = 0;
    for (let i = 0; i < N; i++) r += Math.hypot(x[2 * i], x[2 * i + 1]);
    expect(Math.abs(r / N - (2 * Math.PI) / 3)).toBeLessThan(0.15);
  });

  it('pinwheel: five arms of equal size (angles of the radius-1 points cluster into 5 groups by arm)', () => {
    const x = toyData('pinwheel', 5000, 9);
    // the arms' angles at radius 2·1: a = 2πk/5 + 0.25·e (rotation by −a): points near radius 2 sit at angle −(2πk/5 + 0.25e)
    const counts = new Array(5).fill(0);
    let near = 0;
    for (let i = 0; i < 5000; i++) {
      const rad = Math.hypot(x[2 * i], x[2 * i + 1]);
      if (Math.abs(rad - 2) > 0.1) continue;
      near++;
      const ang = -Math.atan2(x[2 * i + 1], x[2 * i]) - 0.25 * Math.E;
      const k = ((Math.round(ang / ((2 * Math.PI) / 5)) % 5) + 5) % 5;
      counts[k]++;
    }
    for (const c of counts) expect(Math.abs(c / near - 0.2)).toBeLessThan(0.04);
  });

  it('bad arguments throw ArgumentError', () => {
    expect(() => toyData('swissroll' as never, 10)).toThrow(ArgumentError);
    expect(() => toyData('moons', 0)).toThrow(ArgumentError);
    expect(() => toyData('moons', 2.5)).toThrow(ArgumentError);
    expect(() => toyData('moons', 10, -1)).toThrow(ArgumentError);
  });
});
