/**
 * Saving and loading models: a trained model (ODE block + readout) saved as
 * JSON and loaded again predicts bit for bit the same; a PyTorch state_dict
 * of an nn.Sequential of Linear layers (nested JSON arrays, "net." prefix)
 * loads into the layout of `MLP.setParameters`; and every malformed file or
 * state_dict is refused with a ModelFormatError that names the field at
 * fault (a JSON path) and says what it should hold — leaving the model's
 * parameters exactly as they were and leaking no GPU buffer.
 */
import { expect, it } from 'vitest';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION } from '../../src/train/serialize';
import { makeRng } from '../reference/mlp';
import { useHarness } from './solve-helpers';
import { decode } from './wire';

const harness = useHarness();

/** A state_dict of nn.Sequential(Linear(2,16), Tanh, Linear(16,16), Tanh, Linear(16,2)) under "net.". */
function stateDict(): { dict: Record<string, unknown>; flat: Float32Array } {
  const rng = makeRng(12);
  const widths = [2, 16, 16, 2];
  const dict: Record<string, unknown> = {};
  const flat: number[] = [];
  for (let l = 0; l < 3; l++) {
    const [I, O] = [widths[l], widths[l + 1]];
    const w = Array.from({ length: O }, () => Array.from({ length: I }, () => Math.fround(2 * rng() - 1)));
    const b = Array.from({ length: O }, () => Math.fround(2 * rng() - 1));
    dict[`net.${2 * l}.weight`] = w;
    dict[`net.${2 * l}.bias`] = b;
    flat.push(...w.flat(), ...b);
  }
  return { dict, flat: Float32Array.from(flat) };
}

/** The circles model of the test: MLP [3, 32, 3] (augmented by 1), readout 3 → 2. */
function file(change: (j: Record<string, unknown>) => void): unknown {
  const j: Record<string, unknown> = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    mlp: { layers: [3, 32, 3], activation: 'tanh', timeInput: false, parameters: new Array(3 * 32 + 32 + 32 * 3 + 3).fill(0.5) },
    readout: { inFeatures: 3, outFeatures: 2, parameters: new Array(8).fill(0.25) },
    inputDim: 2,
    t: [0, 1],
    solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-4 },
  };
  change(j);
  return j;
}

function mlpOf(j: Record<string, unknown>): Record<string, unknown> {
  const m = j.mlp;
  if (typeof m !== 'object' || m === null) throw new Error('no mlp');
  return m as Record<string, unknown>;
}

/** Files `loadParameters` must refuse; `fitsAnother` marks a valid file of another architecture, which `loadModel` accepts. */
const MALFORMED: { name: string; json: unknown; path: string; says: string; fitsAnother?: boolean }[] = [
  { name: 'not JSON', json: '{"format": "webode-model", oops', path: 'model', says: 'valid JSON' },
  { name: 'not a model', json: { hello: 1 }, path: 'model.format', says: '"webode-model"' },
  { name: 'newer version', json: file((j) => (j.version = 99)), path: 'model.version', says: 'newer' },
  { name: 'no mlp', json: file((j) => delete j.mlp), path: 'model.mlp', says: 'an object' },
  {
    name: 'other widths',
    json: file((j) => Object.assign(mlpOf(j), { layers: [3, 16, 3], parameters: new Array(3 * 16 + 16 + 16 * 3 + 3).fill(0) })),
    path: 'model.mlp.layers',
    says: '[3, 32, 3]',
    fitsAnother: true,
  },
  { name: 'short parameters', json: file((j) => (mlpOf(j).parameters = new Array(100).fill(0))), path: 'model.mlp.parameters', says: '227 numbers' },
  {
    name: 'null parameter',
    json: file((j) => {
      const p = new Array(227).fill(0);
      p[17] = null;
      mlpOf(j).parameters = p;
    }),
    path: 'model.mlp.parameters[17]',
    says: 'a finite number',
  },
  { name: 'unknown activation', json: file((j) => (mlpOf(j).activation = 'gelu')), path: 'model.mlp.activation', says: 'one of' },
  { name: 'inconsistent widths', json: file((j) => (mlpOf(j).layers = [2, 32, 3])), path: 'model.mlp.layers[0]', says: 'state dimension' },
  {
    name: 'readout size',
    json: file((j) => (j.readout = { inFeatures: 3, outFeatures: 2, parameters: [1, 2, 3] })),
    path: 'model.readout.parameters',
    says: '8 numbers',
  },
  { name: 'readout input', json: file((j) => (j.readout = { inFeatures: 4, outFeatures: 2, parameters: new Array(10).fill(0) })), path: 'model.readout.inFeatures', says: '3' },
  { name: 'bad solver', json: file((j) => (j.solver = { method: 'rk45' })), path: 'model.solver.method', says: 'dopri5' },
];

const MALFORMED_DICTS: { name: string; change: (d: Record<string, unknown>) => void; path: string; says: string }[] = [
  { name: 'missing bias', change: (d) => delete d['net.2.bias'], path: 'state_dict["net.2.bias"]', says: 'bias [16]' },
  { name: 'weight rows', change: (d) => (d['net.4.weight'] = [[1, 2]]), path: 'state_dict["net.4.weight"]', says: '2 rows of 16' },
  {
    name: 'row length',
    change: (d) => (d['net.0.weight'] = Array.from({ length: 16 }, () => [1, 2, 3])),
    path: 'state_dict["net.0.weight"][0]',
    says: '2 numbers',
  },
  { name: 'extra layer', change: (d) => Object.assign(d, { 'net.6.weight': [[1]], 'net.6.bias': [1] }), path: 'state_dict', says: '3 Linear layers' },
  { name: 'string value', change: (d) => (d['net.4.bias'] = [0, 'x']), path: 'state_dict["net.4.bias"][1]', says: 'a finite number' },
  { name: 'batch-norm key', change: (d) => (d['net.1.running_mean'] = [0]), path: 'state_dict["net.1.running_mean"]', says: 'nn.Sequential of Linear' },
];

it('save → load round trip, PyTorch state_dict import, and clear errors that leave the model untouched', async () => {
  const h = harness();
  const { dict, flat } = stateDict();
  const r = await h.call('trainSaveLoad', {
    stateDict: dict,
    malformed: MALFORMED.map(({ name, json }) => ({ name, json })),
    malformedStateDicts: MALFORMED_DICTS.map(({ name, change }) => {
      const d: Record<string, unknown> = JSON.parse(JSON.stringify(dict));
      change(d);
      return { name, json: d };
    }),
  });
  expect(r.gpuErrors).toEqual([]);
  expect(r.format).toBe('webode-model');
  expect(r.version).toBe(1);
  expect(r.savedKeys).toEqual(['format', 'version', 'mlp', 'readout', 'inputDim', 't', 'solver']);
  expect(r.sameParams).toBe(true);
  expect(r.yb).toEqual(r.ya);
  expect(Array.from(decode(r.imported))).toEqual(Array.from(flat));
  expect(r.linParams).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  MALFORMED.forEach((m, i) => {
    if (m.fitsAnother) expect(r.loadModelErrors[i].error, m.name).toBeNull();
    for (const e of m.fitsAnother ? [r.errors[i]] : [r.errors[i], r.loadModelErrors[i]]) {
      expect(e.error, m.name).not.toBeNull();
      console.log(`${m.name}: ${e.error?.message}`);
      expect(e.error?.name, m.name).toBe('ModelFormatError');
      expect(e.error?.argument, m.name).toBe(m.path);
      expect(e.error?.message, m.name).toContain(m.says);
    }
  });
  expect(r.untouched).toBe(true);
  MALFORMED_DICTS.forEach((m, i) => {
    const e = r.stateDictErrors[i].error;
    console.log(`${m.name}: ${e?.message}`);
    expect(e?.name, m.name).toBe('ModelFormatError');
    expect(e?.argument, m.name).toBe(m.path);
    expect(e?.message, m.name).toContain(m.says);
  });
  expect(r.stateDictUntouched).toBe(true);
});
