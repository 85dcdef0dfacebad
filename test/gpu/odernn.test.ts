/**
 * The ODE-RNN encoder against the float64 reference of
 * test/reference/odernn.ts: the hidden state at each series' first
 * observation and [μ, log σ], and dL/dθ of the field, the GRU and the readout
 * against central finite differences of the float64 encoder, for
 * L = Σ gradOutput·[μ, log σ]. Three series with their own irregular times
 * and missing values (single features and whole points).
 *
 * Tolerances: every ODE segment is solved by dopri5 at rtol 1e-6,
 * atol 1e-7 in float32 (its adjoint likewise), the reference at 1e-12.
 * States 1e-5 absolute (states of size ≤ 1; segments of length ≤ 0.8 on a
 * smooth field stay well inside the solver's tolerance: measured ~1e-7);
 * gradients 1e-4 relative to the largest component (measured ~4e-7; the
 * adjoint's tolerance-level error stays far below it on these short
 * segments, while a wrong cotangent routing shows up at 1e-1).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { finiteDifferences } from '../reference/cells';
import { type ReferenceOdeRnn, referenceOdeRnn } from '../reference/odernn';
import { mulberry32 } from '../../src/field/mlp';
import { type Harness, openHarness } from './browser';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const STATE_TOLERANCE = 1e-5;
const GRAD_TOLERANCE = 1e-4;

function uniform(n: number, scale: number, rng: () => number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng() - 1) * scale;
  return v;
}

function relToMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let m = 1e-2;
  let d = 0;
  for (let i = 0; i < want.length; i++) {
    m = Math.max(m, Math.abs(want[i]));
    d = Math.max(d, Number.isFinite(got[i]) ? Math.abs(got[i] - want[i]) : Infinity);
  }
  return d / m;
}

it('ODE-RNN encoder: final state and [μ, log σ] vs float64, dL/dθ of field, GRU and readout vs finite differences', async () => {
  const D = 2;
  const H = 4;
  const L = 2;
  const T = 4;
  const B = 3;
  const fieldHidden = [8];
  const rng = mulberry32(21);
  const layers = [H, ...fieldHidden, H];
  const fieldCount = H * 8 + 8 + 8 * H + H;
  const field = uniform(fieldCount, 0.6, rng);
  const cell = uniform(3 * H * (2 * D + H + 2), 0.6, rng);
  const readout = uniform(2 * L * H + 2 * L, 0.6, rng);
  // Each series on its own increasing grid.
  const times = Array.from({ length: B }, (_, b) => {
    const row = [0.1 * b];
    for (let i = 1; i < T; i++) row.push(row[i - 1] + 0.3 + 0.5 * rng());
    return row;
  });
  const values = uniform(T * B * D, 1.2, rng);
  // Some single features missing, and a whole point of series 1 missing.
  const mask = Float32Array.from({ length: T * B * D }, (_, k) => (k % 5 === 3 ? 0 : 1));
  for (let d = 0; d < D; d++) mask[(1 * B + 1) * D + d] = 0;
  const gradOutput = uniform(B * 2 * L, 1, rng);
  const r = await h.call('odeRnnRun', {
    inputSize: D,
    hiddenSize: H,
    latentSize: L,
    fieldHidden,
    field: encodeF32(field),
    cell: encodeF32(cell),
    readout: encodeF32(readout),
    times,
    values: encodeF32(values),
    mask: encodeF32(mask),
    gradOutput: encodeF32(gradOutput),
    solver: { method: 'dopri5', rtol: 1e-6, atol: 1e-7 },
  });
  expect(r.gpuErrors).toEqual([]);
  const base: ReferenceOdeRnn = {
    D, H, L, T, B, layers, activation: 'tanh', field, cell, readout,
    times: times.flat(), values, mask,
  };
  const want = referenceOdeRnn(base);
  const hiddenErr = Math.max(...Array.from(decode(r.hidden), (v, i) => Math.abs(v - want.h[i])));
  const outputErr = Math.max(...Array.from(decode(r.output), (v, i) => Math.abs(v - want.out[i])));
  const loss = (s: ReferenceOdeRnn) => referenceOdeRnn(s).out.reduce((acc, v, i) => acc + v * gradOutput[i], 0);
  const gField = relToMax(decode(r.gField), finiteDifferences(field, (w) => loss({ ...base, field: w })));
  const gCell = relToMax(decode(r.gCell), finiteDifferences(cell, (w) => loss({ ...base, cell: w })));
  const gReadout = relToMax(decode(r.gReadout), finiteDifferences(readout, (w) => loss({ ...base, readout: w })));
  console.log(
    `odernn: hidden err ${hiddenErr.toExponential(2)}, output err ${outputErr.toExponential(2)}, grad err field ${gField.toExponential(2)} cell ${gCell.toExponential(2)} readout ${gReadout.toExponential(2)}, host waits encode ${r.encodeWaits} backward ${r.backwardWaits}`,
  );
  expect(hiddenErr).toBeLessThan(STATE_TOLERANCE);
  expect(outputErr).toBeLessThan(STATE_TOLERANCE);
  expect(gField).toBeLessThan(GRAD_TOLERANCE);
  expect(gCell).toBeLessThan(GRAD_TOLERANCE);
  expect(gReadout).toBeLessThan(GRAD_TOLERANCE);
  // One wait per ODE segment's solve (T − 1 segments), forward and backward.
  expect(r.encodeWaits).toBeLessThanOrEqual(T - 1);
  expect(r.backwardWaits).toBeLessThanOrEqual(T - 1);
});

it('bad times, values, masks and cotangents throw ArgumentError before any GPU work', async () => {
  const e = await h.call('odeRnnErrors');
  const arg = (k: string, argument: string, submits = 0) => {
    expect(e[k]?.name, k).toBe('ArgumentError');
    expect(e[k]?.argument, k).toBe(argument);
    expect(e[k]?.submits, k).toBe(submits);
  };
  arg('timesOrder', 'times[1][1]');
  arg('timesRows', 'times[1]');
  arg('values', 'values');
  arg('mask', 'mask[2]');
  expect(e.gradOutput?.name).toBe('ArgumentError');
  expect(e.gradOutput?.argument).toBe('gradOutput');
});
