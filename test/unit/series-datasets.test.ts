/**
 * The series generators (src/series/datasets.ts): padding layout, masks,
 * windows, determinism by seed, and values against the closed forms they
 * are generated from (Rubanova et al.'s periodic toy, torchdiffeq's spirals);
 * the latent ODE's noise formula (latentNoise) as a seeded standard normal.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { latentNoise } from '../../src/kernels/latent';
import { PAD_STEP, type SeriesBatch, padSeries, periodicSeries, spiralSeries } from '../../src/series/datasets';

/** Checks the invariants of a padded batch; returns its observations as [b, t, values]. */
function rows(s: SeriesBatch): [number, number, number[]][] {
  const { batch: B, length: T, dim: D } = s;
  expect(s.values.length).toBe(T * B * D);
  expect(s.mask.length).toBe(T * B * D);
  expect(Math.max(...s.counts)).toBe(T);
  const out: [number, number, number[]][] = [];
  for (let b = 0; b < B; b++) {
    expect(s.times[b].length).toBe(T);
    for (let i = 0; i < T; i++) {
      expect(s.times[b][i]).toBeGreaterThan(i === 0 ? 0 : s.times[b][i - 1]);
      const obs = i < s.counts[b];
      for (let d = 0; d < D; d++) {
        expect(s.mask[(i * B + b) * D + d]).toBe(obs ? 1 : 0);
        if (!obs) expect(s.values[(i * B + b) * D + d]).toBe(0);
      }
      if (!obs) expect(s.times[b][i] - s.times[b][i - 1]).toBeCloseTo(PAD_STEP, 12);
      if (obs) out.push([b, s.times[b][i], Array.from(s.values.subarray((i * B + b) * D, (i * B + b + 1) * D))]);
    }
  }
  return out;
}

describe('series datasets', () => {
  it('pads ragged series time-major with a mask', () => {
    const s = padSeries([{ times: [0.5, 1], values: [[1, 2], [3, 4]] }, { times: [0.25], values: [[5, 6]] }], 2);
    expect(s.length).toBe(2);
    expect(Array.from(s.values)).toEqual([1, 2, 5, 6, 3, 4, 0, 0]);
    expect(Array.from(s.mask)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(s.times[1])).toEqual([0.25, 0.25 + PAD_STEP]);
    rows(s);
    expect(() => padSeries([{ times: [0, 1], values: [[1], [2]] }], 1)).toThrow(ArgumentError);
    expect(() => padSeries([{ times: [1, 1], values: [[1], [2]] }], 1)).toThrow(ArgumentError);
  });

  it('periodic: windows, noise within its bound, frequencies in [0.4, 0.8], seeded', () => {
    const ds = periodicSeries({ batch: 16, seed: 3 });
    expect(ds.dim).toBe(1);
    expect(ds.split).toBe(2.5);
    for (const [b, t, v] of rows(ds.observed)) {
      expect(t).toBeLessThanOrEqual(2.5);
      const d = v[0] - ds.truth(b, t)[0];
      expect(d).toBeGreaterThanOrEqual(-1e-6);
      expect(d).toBeLessThan(0.01 + 1e-6);
    }
    for (const [b, t, v] of rows(ds.heldOut)) expect(v[0]).toBeCloseTo(ds.truth(b, t)[0], 5);
    for (const [b, t, v] of rows(ds.extrapolation)) {
      expect(t).toBeGreaterThan(2.5);
      expect(t).toBeLessThanOrEqual(5);
      expect(v[0]).toBeCloseTo(ds.truth(b, t)[0], 5);
    }
    // Every series has about half of ~50 window points, and all 100 grid points are accounted for.
    for (let b = 0; b < 16; b++) {
      expect(ds.observed.counts[b]).toBeGreaterThan(10);
      expect(ds.observed.counts[b] + ds.heldOut.counts[b] + ds.extrapolation.counts[b]).toBe(100);
    }
    // The frequency from the zero crossing structure: y − c = sin(2π f t), so f = asin(·)/(2πt) near t → 0.
    for (let b = 0; b < 16; b++) {
      const c = ds.truth(b, 0)[0];
      const f = Math.asin(ds.truth(b, 1e-4)[0] - c) / (2 * Math.PI * 1e-4);
      expect(f).toBeGreaterThanOrEqual(0.4);
      expect(f).toBeLessThanOrEqual(0.8);
      expect(Math.abs(c - 1)).toBeLessThan(0.5);
    }
    const again = periodicSeries({ batch: 16, seed: 3 });
    expect(again.observed.values).toEqual(ds.observed.values);
    expect(periodicSeries({ batch: 16, seed: 4 }).observed.values).not.toEqual(ds.observed.values);
  });

  it('spirals: torchdiffeq\'s formulas, both directions, noise of the stated std', () => {
    const ds = spiralSeries({ batch: 40, seed: 1 });
    expect(ds.dim).toBe(2);
    const stop = 6 * Math.PI;
    const dt = stop / 999;
    let sq = 0;
    let n = 0;
    let cw = 0;
    for (let b = 0; b < 40; b++) {
      // The clockwise spiral is centred at (−5, 0), the counter-clockwise one at (+5, 0).
      if (ds.truth(b, dt)[0] < 0) cw++;
    }
    expect(cw).toBeGreaterThan(5);
    expect(cw).toBeLessThan(35);
    for (const [b, t, v] of rows(ds.observed)) {
      const want = ds.truth(b, t);
      for (let d = 0; d < 2; d++) sq += (v[d] - want[d]) ** 2;
      n += 2;
    }
    const std = Math.sqrt(sq / n);
    expect(std).toBeGreaterThan(0.25);
    expect(std).toBeLessThan(0.35);
    // Counter-clockwise: angle z = r / 0.3 around (5, 0); clockwise: angle z = 15 / r around (−5, 0).
    for (let b = 0; b < 40; b++) {
      const p = ds.truth(b, 10 * dt);
      const rc = Math.hypot(p[0] - 5, p[1]);
      const rw = Math.hypot(p[0] + 5, p[1]);
      const cc = Math.cos(rc / 0.3 - Math.atan2(p[1], p[0] - 5));
      const cw = Math.cos(15 / rw - Math.atan2(p[1], p[0] + 5));
      expect(Math.max(cc, cw)).toBeCloseTo(1, 6);
    }
    for (const [, t] of rows(ds.extrapolation)) expect(t).toBeGreaterThan(ds.split);
  });
});

describe('latent noise', () => {
  it('is a seeded standard normal: mean, variance and tails of 100,000 draws, reproducible, seed- and draw-dependent', () => {
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    let beyond2 = 0;
    for (let i = 0; i < n; i++) {
      const e = latentNoise(3, 1, i);
      s += e;
      s2 += e * e;
      if (Math.abs(e) > 2) beyond2++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
    // P(|ε| > 2) = 0.0455.
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.004);
    expect(latentNoise(3, 1, 7)).toBe(latentNoise(3, 1, 7));
    expect(latentNoise(3, 2, 7)).not.toBe(latentNoise(3, 1, 7));
    expect(latentNoise(4, 1, 7)).not.toBe(latentNoise(3, 1, 7));
  });
});
