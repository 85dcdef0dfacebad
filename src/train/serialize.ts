/**
 * Saving and loading models as JSON, and importing PyTorch parameters.
 *
 * The model format (`MODEL_FORMAT`, version `MODEL_FORMAT_VERSION`):
 *
 *   { "format": "webode-model", "version": 1,
 *     "mlp": { "layers": [2, 50, 2], "activation": "tanh", "timeInput": false,
 *              "parameters": [… P numbers, nn.Linear order …] },
 *     "readout": null | { "inFeatures": 3, "outFeatures": 2, "parameters": [… ] },
 *     "inputDim": 2, "t": [0, 1], "solver": { "method": "dopri5", "rtol": 1e-6, … } }
 *
 * A PyTorch `state_dict` of an `nn.Sequential` of Linear layers (activations
 * in between have no parameters), saved as JSON arrays, e.g.
 *   json.dump({k: v.tolist() for k, v in net.state_dict().items()}, f)
 * gives { "0.weight": [[…], …], "0.bias": […], "2.weight": …, … }; a prefix
 * such as "net." shared by every key is recognised.
 *
 * Loading checks every field and every size before anything is created or
 * written, and throws a `ModelFormatError` naming the field (a JSON path),
 * what it should hold and what it holds: a failed load leaves the model
 * as it was.
 */
import { ArgumentError } from '../errors';
import { MLP, validateMlpOptions } from '../field/mlp';
import type { Runtime } from '../runtime/runtime';
import type { OdeintOptions } from '../solver/options';
import { METHOD_NAMES, type MethodName } from '../methods/tableau';
import { ACTIVATIONS, type Activation, mlpOffsets } from '../mlp/mlp';
import { linearParameterCount } from '../kernels/linear';
import { Linear } from './linear';
import { NeuralODE } from './model';

export const MODEL_FORMAT = 'webode-model';
export const MODEL_FORMAT_VERSION = 1;

/** A model file or state_dict that does not fit: `argument` is the JSON path of the field at fault. */
export class ModelFormatError extends ArgumentError {}

/** The JSON form of a saved model (version 1). */
export interface ModelJSON {
  format: typeof MODEL_FORMAT;
  version: number;
  mlp: { layers: number[]; activation: Activation; timeInput: boolean; parameters: number[] };
  readout: { inFeatures: number; outFeatures: number; parameters: number[] } | null;
  inputDim: number;
  t: number[];
  solver: OdeintOptions;
}

/** Solver options a model file may carry, and their checks. */
const SOLVER_FIELDS = ['method', 'rtol', 'atol', 'stepSize', 'firstStep', 'maxSteps', 'stepsPerDispatch', 'stepControl'] as const;

/**
 * Reads a model's architecture and parameters (one host wait per parameter
 * tensor) into a JSON-ready object; `JSON.stringify` it to save.
 */
export async function saveModel(model: NeuralODE): Promise<ModelJSON> {
  if (!(model instanceof NeuralODE)) throw new ArgumentError('model', model, 'a NeuralODE');
  const f = model.f;
  const mlpParams = Array.from(await f.readParameters());
  const readout = model.readout
    ? {
        inFeatures: model.readout.inFeatures,
        outFeatures: model.readout.outFeatures,
        parameters: Array.from(await model.readout.readParameters()),
      }
    : null;
  const solver: OdeintOptions = {};
  for (const k of SOLVER_FIELDS) {
    const v = model.solver[k];
    if (v !== undefined) Object.assign(solver, { [k]: v });
  }
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    mlp: { layers: [...f.layers], activation: f.activation, timeInput: f.timeInput, parameters: mlpParams },
    readout,
    inputDim: model.inputDim,
    t: Array.from(model.t),
    solver,
  };
}

// ---------------------------------------------------------------------------------------------
// Checked reading of untrusted JSON.

type Json = unknown;

function fail(path: string, received: unknown, expected: string): never {
  throw new ModelFormatError(path, received, expected);
}

function parse(input: string | Json, what: string): Json {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (e) {
    return fail(what, `${input.slice(0, 40)}${input.length > 40 ? '…' : ''}`, `valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function record(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) fail(path, v, 'an object');
  return v;
}

function integer(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(path, v, `an integer ≥ ${min}`);
  return v;
}

/** True for a number that stays finite in float32 (parameters are stored as float32). */
function isFloat32(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(Math.fround(x));
}

/** A flat array of exactly n finite numbers. */
function numbers(v: unknown, path: string, n: number, why: string): Float32Array {
  if (!Array.isArray(v)) fail(path, v, `an array of ${n} numbers (${why})`);
  if (v.length !== n) fail(path, v, `${n} numbers (${why}), not ${v.length}`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x: unknown = v[i];
    if (!isFloat32(x)) fail(`${path}[${i}]`, x, 'a finite number representable in float32 (|x| ≤ 3.4e38)');
    out[i] = x;
  }
  return out;
}

/** A nested [rows][cols] array of finite numbers, flattened row-major into `out` at `at`. */
function matrix(v: unknown, path: string, rows: number, cols: number, out: Float32Array, at: number, why: string): void {
  if (!Array.isArray(v)) fail(path, v, `a nested array [${rows}][${cols}] (${why})`);
  if (v.length !== rows) fail(path, v, `${rows} rows of ${cols} numbers (${why}), not ${v.length} rows`);
  for (let r = 0; r < rows; r++) {
    const row: unknown = v[r];
    const p = `${path}[${r}]`;
    if (!Array.isArray(row)) fail(p, row, `a row of ${cols} numbers (${why})`);
    if (row.length !== cols) fail(p, row, `${cols} numbers (${why}), not ${row.length}`);
    for (let c = 0; c < cols; c++) {
      const x: unknown = row[c];
      if (!isFloat32(x)) fail(`${p}[${c}]`, x, 'a finite number representable in float32 (|x| ≤ 3.4e38)');
      out[at + r * cols + c] = x;
    }
  }
}

/** The largest model file (characters of JSON) webode parses. */
export const MAX_MODEL_FILE_CHARS = 64 * 1024 * 1024;

/** A model file that passed every check (nothing allocated yet). */
export interface CheckedModel {
  mlp: { layers: number[]; activation: Activation; timeInput: boolean; parameters: Float32Array };
  readout: { inFeatures: number; outFeatures: number; parameters: Float32Array } | null;
  inputDim: number;
  t: number[];
  solver: OdeintOptions;
}

function checkSolver(v: unknown, path: string): OdeintOptions {
  if (v === undefined) return {};
  const o = record(v, path);
  const out: OdeintOptions = {};
  for (const key of Object.keys(o)) {
    const x = o[key];
    const p = `${path}.${key}`;
    switch (key) {
      case 'method': {
        const method: MethodName | undefined = METHOD_NAMES.find((m) => m === x);
        if (!method) fail(p, x, `one of ${METHOD_NAMES.join(', ')}`);
        out.method = method;
        break;
      }
      case 'rtol':
      case 'atol':
      case 'stepSize':
      case 'firstStep':
        if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) fail(p, x, 'a finite number > 0');
        out[key] = x;
        break;
      case 'maxSteps':
      case 'stepsPerDispatch':
        out[key] = integer(x, p, 1);
        break;
      case 'stepControl':
        if (x !== 'per-sample' && x !== 'batch') fail(p, x, "'per-sample' or 'batch'");
        out.stepControl = x;
        break;
      default:
        fail(p, x, `no such solver option (known: ${SOLVER_FIELDS.join(', ')})`);
    }
  }
  return out;
}

/**
 * Checks a whole model file without allocating anything on the GPU; throws
 * ModelFormatError at the first fault. The MLP widths are checked by the same
 * rules as `new MLP` (which also bound the parameter count), the file size
 * against MAX_MODEL_FILE_CHARS, and every array against the size the
 * architecture implies, before any number is read.
 */
export function checkModel(input: string | Json): CheckedModel {
  if (typeof input === 'string' && input.length > MAX_MODEL_FILE_CHARS) {
    fail('model', `${input.length} characters`, `a model file of at most ${MAX_MODEL_FILE_CHARS} characters`);
  }
  const j = record(parse(input, 'model'), 'model');
  if (j.format !== MODEL_FORMAT) fail('model.format', j.format, `"${MODEL_FORMAT}"`);
  const version = integer(j.version, 'model.version', 1);
  if (version > MODEL_FORMAT_VERSION) {
    fail('model.version', version, `a format version this webode reads (≤ ${MODEL_FORMAT_VERSION}); the file is newer`);
  }
  const m = record(j.mlp, 'model.mlp');
  if (!Array.isArray(m.layers) || m.layers.length < 2) fail('model.mlp.layers', m.layers, 'an array of at least two widths');
  const layers = m.layers.map((w: unknown, i: number) => integer(w, `model.mlp.layers[${i}]`, 1));
  const activation = m.activation ?? 'tanh';
  const act: Activation | undefined = ACTIVATIONS.find((a) => a === activation);
  if (!act) fail('model.mlp.activation', activation, `one of ${ACTIVATIONS.join(', ')}`);
  const timeInput = m.timeInput ?? false;
  if (typeof timeInput !== 'boolean') fail('model.mlp.timeInput', timeInput, 'a boolean');
  try {
    validateMlpOptions({ layers, activation: act, timeInput });
  } catch (e) {
    if (e instanceof ArgumentError) fail(`model.mlp.${e.argument}`, e.received, e.expected);
    throw e;
  }
  const P = mlpOffsets(layers).count;
  const parameters = numbers(m.parameters, 'model.mlp.parameters', P, `the parameter count of layers [${layers.join(', ')}]`);
  const D = layers[layers.length - 1];
  let readout: CheckedModel['readout'] = null;
  if (j.readout !== null && j.readout !== undefined) {
    const r = record(j.readout, 'model.readout');
    const inFeatures = integer(r.inFeatures, 'model.readout.inFeatures', 1);
    if (inFeatures !== D) fail('model.readout.inFeatures', inFeatures, `${D}, the state dimension of the MLP`);
    const outFeatures = integer(r.outFeatures, 'model.readout.outFeatures', 1);
    const n = linearParameterCount({ inFeatures, outFeatures });
    readout = { inFeatures, outFeatures, parameters: numbers(r.parameters, 'model.readout.parameters', n, `${outFeatures}×${inFeatures} weights + ${outFeatures} biases`) };
  }
  const inputDim = j.inputDim === undefined ? D : integer(j.inputDim, 'model.inputDim', 1);
  if (inputDim > D) fail('model.inputDim', inputDim, `at most the state dimension ${D}`);
  let t = [0, 1];
  if (j.t !== undefined) {
    if (!Array.isArray(j.t) || j.t.length < 1) fail('model.t', j.t, 'an array of integration times');
    t = j.t.map((x: unknown, i: number) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) fail(`model.t[${i}]`, x, 'a finite time');
      return x;
    });
    for (let i = 1; i < t.length; i++) {
      if (Math.sign(t[i] - t[i - 1]) !== Math.sign(t[1] - t[0]) || t[i] === t[i - 1]) fail('model.t', j.t, 'strictly monotonic times');
    }
  }
  return { mlp: { layers, activation: act, timeInput, parameters }, readout, inputDim, t, solver: checkSolver(j.solver, 'model.solver') };
}

/** Builds a new model from a saved one (a JSON string or the parsed object). */
export function loadModel(runtime: Runtime, json: string | Json): NeuralODE {
  const c = checkModel(json);
  const f = new MLP(runtime, { layers: c.mlp.layers, activation: c.mlp.activation, timeInput: c.mlp.timeInput });
  let readout: Linear | null = null;
  try {
    f.setParameters(c.mlp.parameters);
    if (c.readout) {
      readout = new Linear(runtime, { inFeatures: c.readout.inFeatures, outFeatures: c.readout.outFeatures });
      readout.setParameters(c.readout.parameters);
    }
    return new NeuralODE(f, { readout, inputDim: c.inputDim, t: c.t, solver: c.solver });
  } catch (e) {
    f.destroy();
    readout?.destroy();
    throw e;
  }
}

/**
 * Loads the parameters of a saved model into `model`, whose architecture
 * must match the file's (widths, activation, time input, readout). Nothing
 * is written unless every check passes. Solver options and times are not
 * changed.
 */
export function loadParameters(model: NeuralODE, json: string | Json): void {
  if (!(model instanceof NeuralODE)) throw new ArgumentError('model', model, 'a NeuralODE');
  const c = checkModel(json);
  const f = model.f;
  const same = c.mlp.layers.length === f.layers.length && c.mlp.layers.every((w, i) => w === f.layers[i]);
  if (!same) fail('model.mlp.layers', c.mlp.layers, `[${f.layers.join(', ')}], the layers of the model being loaded into`);
  if (c.mlp.activation !== f.activation) fail('model.mlp.activation', c.mlp.activation, `"${f.activation}", the model's activation`);
  if (c.mlp.timeInput !== f.timeInput) fail('model.mlp.timeInput', c.mlp.timeInput, `${f.timeInput}, as the model`);
  const r = model.readout;
  if (!r && c.readout) fail('model.readout', c.readout, 'null: the model has no readout');
  if (r && !c.readout) fail('model.readout', null, `a readout ${r.inFeatures} → ${r.outFeatures}, as the model has`);
  if (r && c.readout && c.readout.outFeatures !== r.outFeatures) {
    fail('model.readout.outFeatures', c.readout.outFeatures, `${r.outFeatures}, as the model's readout`);
  }
  f.setParameters(c.mlp.parameters);
  if (r && c.readout) r.setParameters(c.readout.parameters);
}

// ---------------------------------------------------------------------------------------------
// PyTorch state_dict import.

/** Options of `importStateDict`. */
export interface StateDictOptions {
  /**
   * Prefix of the keys to read (e.g. "net." or "fc."); keys without it are
   * ignored. Default: the prefix every key shares (e.g. "net." in
   * "net.0.weight"), or none.
   */
  prefix?: string;
}

const LAYER_KEY = /^(\d+)\.(weight|bias)$/;

/**
 * The prefix the parameter keys share before "<index>.weight|bias" (or before
 * "weight|bias" for a Linear layer), when they all share one; else ''.
 */
function commonPrefix(keys: string[], forLinear: boolean): string {
  const re = forLinear ? /^(.*?)(weight|bias)$/ : /^(.*?)(\d+)\.(weight|bias)$/;
  const prefixes = new Set<string>();
  for (const k of keys) {
    const m = re.exec(k);
    if (m) prefixes.add(m[1]);
  }
  return prefixes.size === 1 ? [...prefixes][0] : '';
}

/**
 * Loads a PyTorch state_dict (a JSON string or parsed object of nested
 * arrays) into an MLP (an nn.Sequential of Linear layers) or a Linear layer.
 * Every key, shape and value is checked before anything is written.
 */
export function importStateDict(target: MLP | Linear, stateDict: string | Json, options: StateDictOptions = {}): void {
  if (!(target instanceof MLP) && !(target instanceof Linear)) throw new ArgumentError('target', target, 'an MLP or a Linear layer');
  const dict = record(parse(stateDict, 'state_dict'), 'state_dict');
  const allKeys = Object.keys(dict);
  if (allKeys.length === 0) fail('state_dict', dict, 'at least one parameter');
  const isLinear = target instanceof Linear;
  const prefix = options.prefix ?? commonPrefix(allKeys, isLinear);
  // With an explicit prefix, other keys belong to other modules; without one, every key must be ours.
  const keys = options.prefix === undefined ? allKeys : allKeys.filter((k) => k.startsWith(prefix));
  if (keys.length === 0) fail('state_dict', allKeys, `keys starting with "${prefix}"`);
  for (const k of keys) {
    if (!k.startsWith(prefix)) fail(`state_dict[${JSON.stringify(k)}]`, dict[k], `a key starting with "${prefix}" like the others`);
  }
  const key = (k: string) => `state_dict[${JSON.stringify(k)}]`;

  if (target instanceof Linear) {
    const { inFeatures: I, outFeatures: O } = target;
    for (const k of keys) {
      const rest = k.slice(prefix.length);
      if (rest !== 'weight' && rest !== 'bias') fail(key(k), dict[k], `no such parameter: a Linear layer has "${prefix}weight" and "${prefix}bias"`);
    }
    const out = new Float32Array(target.parameterCount);
    const w = `${prefix}weight`;
    const b = `${prefix}bias`;
    if (!(w in dict)) fail(key(w), undefined, `the weight [${O}][${I}]`);
    if (!(b in dict)) fail(key(b), undefined, `the bias [${O}] (webode's Linear always has a bias)`);
    matrix(dict[w], key(w), O, I, out, 0, `nn.Linear(${I}, ${O}).weight`);
    out.set(numbers(dict[b], key(b), O, `nn.Linear(${I}, ${O}).bias`), O * I);
    target.setParameters(out);
    return;
  }

  const { layers: offs, count } = mlpOffsets(target.layers);
  const byIndex = new Map<number, { weight?: string; bias?: string }>();
  for (const k of keys) {
    const m = LAYER_KEY.exec(k.slice(prefix.length));
    if (!m) fail(key(k), dict[k], `a key "${prefix}<index>.weight" or "${prefix}<index>.bias" of an nn.Sequential of Linear layers`);
    const idx = Number(m[1]);
    const entry = byIndex.get(idx) ?? {};
    if (m[2] === 'weight') entry.weight = k;
    else entry.bias = k;
    byIndex.set(idx, entry);
  }
  const indices = [...byIndex.keys()].sort((a, b) => a - b);
  if (indices.length !== offs.length) {
    fail(
      'state_dict',
      indices.map((i) => `${prefix}${i}`),
      `${offs.length} Linear layers for layers [${target.layers.join(', ')}], found ${indices.length}`,
    );
  }
  const out = new Float32Array(count);
  indices.forEach((idx, l) => {
    const L = offs[l];
    const e = byIndex.get(idx) ?? {};
    const what = `Linear layer ${l} (Sequential index ${idx}): nn.Linear(${L.inWidth}, ${L.outWidth})`;
    if (!e.weight) fail(key(`${prefix}${idx}.weight`), undefined, `the weight [${L.outWidth}][${L.inWidth}] of ${what}`);
    if (!e.bias) fail(key(`${prefix}${idx}.bias`), undefined, `the bias [${L.outWidth}] of ${what} (webode's layers always have biases)`);
    matrix(dict[e.weight], key(e.weight), L.outWidth, L.inWidth, out, L.weight, `weight of ${what}`);
    out.set(numbers(dict[e.bias], key(e.bias), L.outWidth, `bias of ${what}`), L.bias);
  });
  target.setParameters(out);
}
