/**
 * Fuzzing the model-file checker (`checkModel`, the step of `loadModel` and
 * `loadParameters` that runs before anything is allocated): thousands of
 * seeded mutations of a valid file — character flips, truncations, deleted
 * fields, swapped types, resized arrays, extreme numbers. Each must either
 * pass, and then describe a consistent model (every array the size its
 * architecture implies), or throw a `ModelFormatError` naming a JSON path;
 * never another error, never a crash. The GPU side (a failed load leaves the
 * model untouched, nothing leaks) is covered by test/gpu/train-serialize.
 */
import { describe, expect, it } from 'vitest';
import { mlpOffsets } from '../../src/mlp/mlp';
import { ModelFormatError, checkModel } from '../../src/train/serialize';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function validModel(r: () => number): Record<string, unknown> {
  const layers = [3, 8, 6, 3];
  const P = mlpOffsets(layers).count;
  return {
    format: 'webode-model',
    version: 1,
    mlp: { layers, activation: 'tanh', timeInput: false, parameters: Array.from({ length: P }, () => r() - 0.5) },
    readout: { inFeatures: 3, outFeatures: 2, parameters: Array.from({ length: 8 }, () => r() - 0.5) },
    inputDim: 2,
    t: [0, 0.5, 1],
    solver: { method: 'dopri5', rtol: 1e-5, atol: 1e-6 },
  };
}

const EXTREMES: unknown[] = [null, true, 'x', '', [], {}, -1, 0, 0.5, 1e999, -1e999, 1e308, 2 ** 53, Number.MAX_SAFE_INTEGER, 1e9, -0];

/** Mutates a random node of a JSON value in place (objects and arrays), returns the new root. */
function mutate(root: unknown, r: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        nodes.push({ parent: v, key: i });
        walk(x);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const k of Object.keys(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k });
        walk((v as Record<string, unknown>)[k]);
      }
    }
  };
  walk(root);
  const { parent, key } = pick(nodes);
  const op = Math.floor(r() * 5);
  if (Array.isArray(parent) && typeof key === 'number') {
    if (op === 0) parent.splice(key, 1);
    else if (op === 1) parent.push(parent[key]);
    else parent[key] = pick(EXTREMES);
  } else if (!Array.isArray(parent) && typeof key === 'string') {
    if (op === 0) delete parent[key];
    else if (op === 1) parent[`${key}_extra`] = parent[key];
    else if (op === 2) parent.__proto__extra = parent[key];
    else parent[key] = pick(EXTREMES);
  }
  return root;
}

/** The outcome must be a pass with consistent sizes, or a ModelFormatError with a path. */
function expectCleanOutcome(input: string | unknown): 'pass' | 'refused' {
  let checked: ReturnType<typeof checkModel>;
  try {
    checked = checkModel(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    const err = e as ModelFormatError;
    expect(err.argument).toMatch(/^model/);
    return 'refused';
  }
  expect(checked.mlp.parameters.length).toBe(mlpOffsets(checked.mlp.layers).count);
  for (const x of checked.mlp.parameters) expect(Number.isFinite(x)).toBe(true);
  if (checked.readout) {
    expect(checked.readout.parameters.length).toBe(checked.readout.inFeatures * checked.readout.outFeatures + checked.readout.outFeatures);
  }
  return 'pass';
}

describe('model file checker under fuzzing', () => {
  it('the unmutated file passes', () => {
    expect(expectCleanOutcome(JSON.stringify(validModel(rng(1))))).toBe('pass');
  });

  it('2,000 structural mutations: pass consistently or ModelFormatError', () => {
    const counts = { pass: 0, refused: 0 };
    for (let i = 0; i < 2000; i++) {
      const r = rng(1000 + i);
      let m: unknown = validModel(r);
      const times = 1 + Math.floor(r() * 3);
      for (let k = 0; k < times; k++) m = mutate(m, r);
      counts[expectCleanOutcome(JSON.stringify(m))]++;
    }
    console.log('structural mutations', counts);
    expect(counts.refused).toBeGreaterThan(1000);
  });

  it('2,000 text mutations (flips, truncations, insertions): pass consistently or ModelFormatError', () => {
    const text = JSON.stringify(validModel(rng(7)));
    const counts = { pass: 0, refused: 0 };
    const alphabet = '{}[]",:.-+eE0123456789 truefalsnl\\';
    for (let i = 0; i < 2000; i++) {
      const r = rng(5000 + i);
      let s = text;
      const op = i % 3;
      const at = Math.floor(r() * s.length);
      if (op === 0) s = s.slice(0, at);
      else if (op === 1) s = s.slice(0, at) + alphabet[Math.floor(r() * alphabet.length)] + s.slice(at + 1);
      else s = s.slice(0, at) + alphabet[Math.floor(r() * alphabet.length)] + s.slice(at);
      counts[expectCleanOutcome(s)]++;
    }
    console.log('text mutations', counts);
    expect(counts.refused).toBeGreaterThan(1000);
  });

  it('an oversized file and an architecture whose kernels would not fit are refused before parsing numbers', () => {
    expect(expectCleanOutcome(' '.repeat(64 * 1024 * 1024 + 1))).toBe('refused');
    const huge = { ...validModel(rng(3)), mlp: { layers: [2, 1_000_000_000, 2], activation: 'tanh', parameters: [] } };
    expect(() => checkModel(huge)).toThrow(/layers/);
  });
});
