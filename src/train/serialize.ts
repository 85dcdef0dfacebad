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
 * `exportStateDict` writes the same layout the other way, with the
 * architecture under the key "webode" (`STATE_DICT_META`), which Python pops
 * before `load_state_dict`.
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
import { activationEntry } from '../mlp/activations';
import { linearParameterCount } from '../kernels/linear';
import { Linear } from './linear';
import { NeuralODE } from './model';

export const MODEL_FORMAT = 'webode-model';
export const MODEL_FORMAT_VERSION = 1;

/** A model file or state_dict that does not fit: `argument` is the JSON path of the field at fault. */
export class ModelFormatError extends ArgumentError {}

/** The JSON form of a saved model (version 1). */
export interface ModelJSON {
  /** Always `MODEL_FORMAT`. */
  format: typeof MODEL_FORMAT;
  /** The format version (`MODEL_FORMAT_VERSION` when written). */
  version: number;
  /** The vector field. */
  mlp: {
    /** Widths [input, hidden…, output]. */
    layers: number[];
    /** The activation between layers. */
    activation: Activation;
    /** t appended to the input. */
    timeInput: boolean;
    /** P numbers in nn.Linear order (`MLP.setParameters`). */
    parameters: number[];
  };
  /** The readout, or null. */
  readout: {
    /** Input width (the state dimension). */
    inFeatures: number;
    /** Output width. */
    outFeatures: number;
    /** Weights [out][in] row-major, then biases. */
    parameters: number[];
  } | null;
  /** Width of the points `predict` takes (≤ the state dimension; the rest is zero-padded). */
  inputDim: number;
  /** Integration times for batches without their own. */
  t: number[];
  /** Solver options. */
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
  const mlpParams = await model.f.readParameters();
  const readoutParams = model.readout ? await model.readout.readParameters() : null;
  return modelJson(model, mlpParams, readoutParams);
}

/** A model's JSON form from parameters already read (the readout's null when it has none). */
export function modelJson(model: NeuralODE, mlpParams: Float32Array, readoutParams: Float32Array | null): ModelJSON {
  const f = model.f;
  const readout =
    model.readout && readoutParams
      ? { inFeatures: model.readout.inFeatures, outFeatures: model.readout.outFeatures, parameters: Array.from(readoutParams) }
      : null;
  const solver: OdeintOptions = {};
  for (const k of SOLVER_FIELDS) {
    const v = model.solver[k];
    if (v !== undefined) Object.assign(solver, { [k]: v });
  }
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    mlp: { layers: [...f.layers], activation: f.activation, timeInput: f.timeInput, parameters: Array.from(mlpParams) },
    readout,
    inputDim: model.inputDim,
    t: Array.from(model.t),
    solver,
  };
}

// ---------------------------------------------------------------------------------------------
// Checked reading of untrusted JSON.

type Json = unknown;

export function fail(path: string, received: unknown, expected: string): never {
  throw new ModelFormatError(path, received, expected);
}

export function parse(input: string | Json, what: string): Json {
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

export function record(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) fail(path, v, 'an object');
  return v;
}

export function integer(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(path, v, `an integer ≥ ${min}`);
  return v;
}

/** True for a number that stays finite in float32 (parameters are stored as float32). */
function isFloat32(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(Math.fround(x));
}

/** A flat array of exactly n finite numbers. */
export function numbers(v: unknown, path: string, n: number, why: string): Float32Array {
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
// PyTorch state_dict export.

/** The key of an exported state_dict that holds the architecture, not a parameter (pop it in Python). */
export const STATE_DICT_META = 'webode';

/** The architecture an exported state_dict carries under `STATE_DICT_META`. */
export interface StateDictMeta {
  /** What was exported. */
  kind: 'mlp' | 'linear' | 'neural-ode';
  /** MLP widths as nn.Linear sizes [input, hidden…, output] (MLP and NeuralODE). */
  layers?: number[];
  /** The activation's webode name (MLP and NeuralODE). */
  activation?: Activation;
  /** The `torch.nn` module of the activation, e.g. "Tanh" (MLP and NeuralODE). */
  torchActivation?: string;
  /** The MLP reads x = [z, t], t as the last input column (MLP and NeuralODE). */
  timeInput?: boolean;
  /** The nn.Sequential of the vector field, module by module, e.g. ["Linear(2, 50)", "Tanh()", "Linear(50, 2)"]. */
  modules?: string[];
  /** Readout sizes (Linear, and a NeuralODE with a readout). */
  readout?: {
    /** Input width. */
    inFeatures: number;
    /** Output width. */
    outFeatures: number;
  } | null;
}

/** An exported state_dict: parameter name → nested arrays, plus `webode` (the architecture). */
export type StateDictJSON = {
  /** The architecture (`STATE_DICT_META`); pop it before `load_state_dict`. */
  [STATE_DICT_META]: StateDictMeta;
} & Record<string, number[] | number[][] | StateDictMeta>;

/** Rows of a row-major [rows][cols] block of `p` from `at`. */
function rows(p: Float32Array, at: number, rowsN: number, cols: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rowsN; r++) out.push(Array.from(p.subarray(at + r * cols, at + (r + 1) * cols)));
  return out;
}

/** The nn.Sequential modules of an MLP: Linear layers with the activation module between them. */
function torchModules(layers: readonly number[], activation: Activation): string[] {
  const out: string[] = [];
  for (let l = 0; l + 1 < layers.length; l++) {
    if (l > 0) out.push(`${activationEntry(activation).torch}()`);
    out.push(`Linear(${layers[l]}, ${layers[l + 1]})`);
  }
  return out;
}

/** Writes an MLP's parameters as nn.Sequential keys ("<prefix><2l>.weight", …) into `out`. */
function mlpEntries(f: MLP, p: Float32Array, prefix: string, out: Record<string, unknown>): void {
  mlpOffsets(f.layers).layers.forEach((L, l) => {
    // Sequential index: Linear layer l follows l Linear layers and l activation modules.
    out[`${prefix}${2 * l}.weight`] = rows(p, L.weight, L.outWidth, L.inWidth);
    out[`${prefix}${2 * l}.bias`] = Array.from(p.subarray(L.bias, L.bias + L.outWidth));
  });
}

function linearEntries(r: Linear, p: Float32Array, prefix: string, out: Record<string, unknown>): void {
  const { inFeatures: I, outFeatures: O } = r;
  out[`${prefix}weight`] = rows(p, 0, O, I);
  out[`${prefix}bias`] = Array.from(p.subarray(O * I, O * I + O));
}

/**
 * Reads a model's parameters (one host wait per parameter tensor) into a
 * PyTorch state_dict as JSON-ready nested arrays, keys and shapes as
 * `nn.Sequential` of `nn.Linear` layers with the activation modules between
 * them holds them: an MLP gives "0.weight" [out][in], "0.bias" [out],
 * "2.weight", …; a Linear "weight", "bias"; a NeuralODE "f.0.weight", …,
 * and "readout.weight", "readout.bias" when it has a readout. The
 * architecture is under "webode" (`STATE_DICT_META`). `importStateDict`
 * reads it back.
 */
export async function exportStateDict(module: MLP | Linear | NeuralODE): Promise<StateDictJSON> {
  const out: Record<string, unknown> = {};
  let meta: StateDictMeta;
  const mlpMeta = (f: MLP) => ({
    layers: [...f.layers],
    activation: f.activation,
    torchActivation: activationEntry(f.activation).torch,
    timeInput: f.timeInput,
    modules: torchModules(f.layers, f.activation),
  });
  if (module instanceof MLP) {
    mlpEntries(module, await module.readParameters(), '', out);
    meta = { kind: 'mlp', ...mlpMeta(module) };
  } else if (module instanceof Linear) {
    linearEntries(module, await module.readParameters(), '', out);
    meta = { kind: 'linear', readout: { inFeatures: module.inFeatures, outFeatures: module.outFeatures } };
  } else if (module instanceof NeuralODE) {
    mlpEntries(module.f, await module.f.readParameters(), 'f.', out);
    const r = module.readout;
    if (r) linearEntries(r, await r.readParameters(), 'readout.', out);
    meta = { kind: 'neural-ode', ...mlpMeta(module.f), readout: r ? { inFeatures: r.inFeatures, outFeatures: r.outFeatures } : null };
  } else {
    throw new ArgumentError('module', module, 'an MLP, a Linear layer or a NeuralODE');
  }
  out[STATE_DICT_META] = meta;
  return out as StateDictJSON;
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
 * arrays) into an MLP (an nn.Sequential of Linear layers), a Linear layer,
 * or a NeuralODE (keys "f.<index>.weight|bias" and, with a readout,
 * "readout.weight|bias", as `exportStateDict` writes them). The key
 * `STATE_DICT_META` is not a parameter and is skipped. Every key, shape and
 * value is checked before anything is written.
 */
export function importStateDict(target: MLP | Linear | NeuralODE, stateDict: string | Json, options: StateDictOptions = {}): void {
  if (target instanceof NeuralODE) {
    const dict = record(parse(stateDict, 'state_dict'), 'state_dict');
    const r = target.readout;
    const readoutKeys = Object.keys(dict).filter((k) => k.startsWith('readout.'));
    if (!r && readoutKeys.length > 0) fail(`state_dict[${JSON.stringify(readoutKeys[0])}]`, dict[readoutKeys[0]], 'no readout parameters: the model has no readout');
    if (r && readoutKeys.length === 0) fail('state_dict["readout.weight"]', undefined, `the readout's weight [${r.outFeatures}][${r.inFeatures}]`);
    const others = Object.keys(dict).filter((k) => k !== STATE_DICT_META && !k.startsWith('f.') && !k.startsWith('readout.'));
    if (others.length > 0) fail(`state_dict[${JSON.stringify(others[0])}]`, dict[others[0]], 'a key "f.<index>.weight|bias" or "readout.weight|bias"');
    // Check both parts before writing either: the readout's check runs on a copy of its values.
    const fParams = checkMlpStateDict(target.f, dict, 'f.');
    const rParams = r ? checkLinearStateDict(r, dict, 'readout.') : null;
    target.f.setParameters(fParams);
    if (r && rParams) r.setParameters(rParams);
    return;
  }
  if (!(target instanceof MLP) && !(target instanceof Linear)) throw new ArgumentError('target', target, 'an MLP, a Linear layer or a NeuralODE');
  const dict = record(parse(stateDict, 'state_dict'), 'state_dict');
  if (target instanceof MLP) target.setParameters(checkMlpStateDict(target, dict, options.prefix));
  else target.setParameters(checkLinearStateDict(target, dict, options.prefix));
}

/** The keys of `dict` to read for a target: those with the prefix (given, or shared by all), the metadata key left out. */
function stateDictKeys(dict: Record<string, unknown>, isLinear: boolean, given: string | undefined): { keys: string[]; prefix: string } {
  const allKeys = Object.keys(dict).filter((k) => k !== STATE_DICT_META);
  if (allKeys.length === 0) fail('state_dict', dict, 'at least one parameter');
  const prefix = given ?? commonPrefix(allKeys, isLinear);
  // With an explicit prefix, other keys belong to other modules; without one, every key must be ours.
  const keys = given === undefined ? allKeys : allKeys.filter((k) => k.startsWith(prefix));
  if (keys.length === 0) fail('state_dict', allKeys, `keys starting with "${prefix}"`);
  for (const k of keys) {
    if (!k.startsWith(prefix)) fail(`state_dict[${JSON.stringify(k)}]`, dict[k], `a key starting with "${prefix}" like the others`);
  }
  return { keys, prefix };
}

const key = (k: string) => `state_dict[${JSON.stringify(k)}]`;

/** A Linear layer's parameters from a state_dict, checked (nothing written). */
function checkLinearStateDict(target: Linear, dict: Record<string, unknown>, given: string | undefined): Float32Array {
  const { keys, prefix } = stateDictKeys(dict, true, given);
  {
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
    return out;
  }
}

/** An MLP's parameters from a state_dict of an nn.Sequential, checked (nothing written). */
function checkMlpStateDict(target: MLP, dict: Record<string, unknown>, given: string | undefined): Float32Array {
  const { keys, prefix } = stateDictKeys(dict, false, given);
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
  return out;
}
