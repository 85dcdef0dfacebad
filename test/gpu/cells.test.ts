/**
 * GRUCell and RNNCell on the GPU against the float64 reference of
 * test/reference/cells.ts: every hidden state of the forward (with h0, with
 * a mask holding 0, 1 and a fractional value, and without either), and the
 * BPTT gradients dL/dθ, dL/dx, dL/dh0 against central finite differences of
 * the float64 forward of L = Σ_t gradHidden_t·h_t + gradLast·h_{T−1}.
 *
 * Tolerances. Forward: 1e-5 absolute on states of size ≤ 1 (float32 gates of
 * I + H ≤ 30 terms: a few 1e-7 per step, and the GRU's update is a convex
 * combination, so errors do not grow over T steps). Gradients: 1e-5 relative
 * to the largest reference component, or to 1e-2 where every component is
 * smaller (a gradient vanished through saturated steps; the reference's FD error is ~1e-10 with
 * step 1e-6 in float64; float32 BPTT over T ≤ 12 steps measured ≤ 4e-7), while
 * a wrong gate, transpose or offset shows up at 1e-2 or more.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ReferenceCell, type ReferenceSequence, finiteDifferences, referenceSequence, sequenceLoss } from '../reference/cells';
import { type Harness, openHarness } from './browser';
import { mulberry32 } from '../../src/field/mlp';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const STATE_TOLERANCE = 1e-5;
const GRAD_TOLERANCE = 1e-5;
const GRAD_FLOOR = 1e-2;

function uniform(n: number, scale: number, rng: () => number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng() - 1) * scale;
  return v;
}

function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Number.isFinite(got[i]) ? Math.abs(got[i] - want[i]) : Infinity);
  return d;
}

/**
 * max |got − want| / max(max |want|, GRAD_FLOOR): relative to the largest
 * component, with a floor for gradients that have vanished through many
 * saturated steps (the cotangents are of size 1, so float32 round-off of the
 * backward is ~1e-7 absolute whatever the gradient's size).
 */
function relToMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let m = GRAD_FLOOR;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]));
  return maxAbsDiff(got, want) / m;
}

interface Case {
  cell: ReferenceCell;
  I: number;
  H: number;
  T: number;
  B: number;
  h0: boolean;
  mask: boolean;
  gradHidden: boolean;
  gradLast: boolean;
  asTensors?: boolean;
  seed: number;
}

async function check(c: Case) {
  const rng = mulberry32(c.seed);
  const G = c.cell === 'gru' ? 3 : 1;
  const P = G * c.H * (c.I + c.H + 2);
  // Weights of PyTorch's scale U(±1/√H), a bit larger so the gates leave their linear range.
  const params = uniform(P, 1.5 / Math.sqrt(c.H), rng);
  const x = uniform(c.T * c.B * c.I, 1.5, rng);
  const h0 = c.h0 ? uniform(c.B * c.H, 0.8, rng) : undefined;
  // Mostly 1, some 0 (skipped steps, including the first and the last of a sample) and one 0.5.
  const mask = c.mask ? Float32Array.from({ length: c.T * c.B }, (_, k) => (k % 4 === 1 || k === c.T * c.B - 1 ? 0 : 1)) : undefined;
  if (mask) mask[2] = 0.5;
  const gradHidden = c.gradHidden ? uniform(c.T * c.B * c.H, 1, rng) : undefined;
  const gradLast = c.gradLast ? uniform(c.B * c.H, 1, rng) : undefined;
  const r = await h.call('cellRun', {
    cell: c.cell,
    inputSize: c.I,
    hiddenSize: c.H,
    params: encodeF32(params),
    x: encodeF32(x),
    steps: c.T,
    batch: c.B,
    h0: h0 && encodeF32(h0),
    mask: mask && encodeF32(mask),
    gradHidden: gradHidden && encodeF32(gradHidden),
    gradLast: gradLast && encodeF32(gradLast),
    asTensors: c.asTensors,
  });
  expect(r.gpuErrors).toEqual([]);
  const base: ReferenceSequence = { cell: c.cell, I: c.I, H: c.H, T: c.T, B: c.B, params, x, h0, mask };
  const want = referenceSequence(base);
  const label = JSON.stringify(c);
  const stateErr = maxAbsDiff(decode(r.hidden), want);
  expect(stateErr, `${label} states`).toBeLessThan(STATE_TOLERANCE);
  expect(maxAbsDiff(decode(r.last), want.subarray((c.T - 1) * c.B * c.H)), `${label} last`).toBeLessThan(STATE_TOLERANCE);
  // No host wait before the first read: the forward, the backward and last() only record and submit.
  expect(r.hostWaits, label).toBe(0);
  expect(r.mapAsync, label).toBe(0);
  const out = { stateErr, gradErr: { params: NaN, inputs: NaN, h0: NaN }, submits: r.submits, dispatches: r.dispatches };
  if (!gradHidden && !gradLast) return out;
  const loss = (s: ReferenceSequence) => sequenceLoss(s, gradHidden, gradLast);
  const wantParams = finiteDifferences(params, (w) => loss({ ...base, params: w }));
  const wantInputs = finiteDifferences(x, (w) => loss({ ...base, x: w }));
  const wantH0 = finiteDifferences(h0 ?? new Float64Array(c.B * c.H), (w) => loss({ ...base, h0: w }));
  out.gradErr = {
    params: relToMax(decode(r.gParams!), wantParams),
    inputs: relToMax(decode(r.gInputs!), wantInputs),
    h0: relToMax(decode(r.gH0!), wantH0),
  };
  expect(out.gradErr.params, `${label} dL/dθ`).toBeLessThan(GRAD_TOLERANCE);
  expect(out.gradErr.inputs, `${label} dL/dx`).toBeLessThan(GRAD_TOLERANCE);
  expect(out.gradErr.h0, `${label} dL/dh0`).toBeLessThan(GRAD_TOLERANCE);
  // Forward, backward (2 dispatches) and last(): three submits, three dispatches, whatever T.
  expect(r.dispatches, label).toBe(3);
  expect(r.submits, label).toBe(3);
  return out;
}

const CASES: Case[] = [
  { cell: 'gru', I: 3, H: 5, T: 7, B: 3, h0: true, mask: true, gradHidden: true, gradLast: true, seed: 1 },
  { cell: 'gru', I: 9, H: 4, T: 5, B: 2, h0: false, mask: false, gradHidden: true, gradLast: false, seed: 2 },
  { cell: 'gru', I: 2, H: 25, T: 12, B: 2, h0: true, mask: false, gradHidden: false, gradLast: true, asTensors: true, seed: 3 },
  { cell: 'rnn', I: 3, H: 5, T: 7, B: 3, h0: true, mask: true, gradHidden: true, gradLast: true, seed: 4 },
  { cell: 'rnn', I: 6, H: 2, T: 9, B: 4, h0: false, mask: false, gradHidden: false, gradLast: true, asTensors: true, seed: 5 },
  { cell: 'rnn', I: 1, H: 16, T: 10, B: 2, h0: true, mask: true, gradHidden: true, gradLast: false, seed: 6 },
];

for (const c of CASES) {
  it(`${c.cell} I=${c.I} H=${c.H} T=${c.T} B=${c.B}${c.h0 ? ' h0' : ''}${c.mask ? ' mask' : ''}: states vs float64, BPTT vs finite differences, no host wait`, async () => {
    const out = await check(c);
    console.log(`cells ${c.cell} I=${c.I} H=${c.H} T=${c.T} B=${c.B}: state err ${out.stateErr.toExponential(2)}, grad err θ ${out.gradErr.params.toExponential(2)} x ${out.gradErr.inputs.toExponential(2)} h0 ${out.gradErr.h0.toExponential(2)}`);
  });
}

it('a forward without cotangents: states only', async () => {
  const out = await check({ cell: 'gru', I: 4, H: 8, T: 6, B: 5, h0: true, mask: true, gradHidden: false, gradLast: false, seed: 7 });
  expect(out.stateErr).toBeLessThan(STATE_TOLERANCE);
});

it('bad arguments throw ArgumentError (naming the argument) before any submit; destroyed objects throw DestroyedError', async () => {
  const { errors: e, parameterCounts } = await h.call('cellErrors');
  expect(parameterCounts).toEqual({ gru: 3 * 5 * (4 + 5 + 2), rnn: 5 * (4 + 5 + 2) });
  const arg = (k: string, argument: string) => {
    expect(e[k], k).not.toBeNull();
    expect(e[k]!.name, k).toBe('ArgumentError');
    expect(e[k]!.argument, k).toBe(argument);
    expect(e[k]!.submits, k).toBe(0);
  };
  arg('hiddenSize0', 'hiddenSize');
  arg('hiddenSize300', 'hiddenSize');
  arg('inputSize', 'inputSize');
  arg('xLength', 'x');
  arg('xNaN', 'x[3]');
  arg('steps0', 'steps');
  arg('h0Length', 'h0');
  arg('maskRange', 'mask[3]');
  arg('params', 'params');
  arg('noCotangents', 'cotangents');
  arg('gradLastLength', 'gradLast');
  arg('otherCell', 'seq');
  arg('staleSequence', 'seq');
  for (const k of ['destroyedSequence', 'destroyedCell']) {
    expect(e[k]?.name, k).toBe('DestroyedError');
    expect(e[k]?.submits, k).toBe(0);
  }
});
