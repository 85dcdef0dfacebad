/**
 * The PyTorch round trip, with real PyTorch (Debian's python3-torch through
 * /usr/bin/python3) and webode on Dawn:
 *
 *  - export: a webode MLP → exportStateDict → JSON → nn.Sequential in Python
 *    (built from the export's "webode" entry, as the README shows) → a
 *    float64 solve in torch; webode solves the same model in float32;
 *  - import: torch.manual_seed + nn.Sequential → state_dict as JSON →
 *    importStateDict → webode's solve; torch solves it in float64.
 *
 * Both sides take the same fixed steps of the same method (torchdiffeq's
 * "rk4" is Kutta's 3/8 rule, webode's "rk38"), and the parameters are
 * float32 numbers on both sides, so the two solutions differ only by
 * float32 round-off: they must agree to 5e-6 absolute (states of order 1).
 * test/node/pytorch_roundtrip.py is the Python side; it uses torchdiffeq from
 * ../shared/peers/torchdiffeq, or a 3/8-rule RK4 in torch if that is absent
 * (the log says which). Without an importable torch this file fails.
 */
import { dawnGpu } from './setup';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Activation, Linear, MLP, NeuralODE, type Runtime, STATE_DICT_META, createRuntime, exportStateDict, importStateDict, odeint } from '../../src/index';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'pytorch_roundtrip.py');
const TOL = 5e-6;
const T = [0, 0.5, 1, 1.5];
const STEP = 1 / 16;
const Y0 = [1, 0, 0, 1, -0.5, 0.5, 0.3, -0.8];

let rt: Runtime;
let dir: string;

beforeAll(async () => {
  rt = await createRuntime({ gpu: dawnGpu() });
  dir = mkdtempSync(join(tmpdir(), 'webode-torch-'));
});
afterAll(() => {
  rt?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface TorchResult {
  solver: string;
  torch: string;
  y: number[];
}

function runPython(mode: 'load' | 'write', stateDict: string, problem: object): TorchResult {
  const problemPath = join(dir, `${mode}-problem.json`);
  writeFileSync(problemPath, JSON.stringify(problem));
  const out = execFileSync(PYTHON, [SCRIPT, mode, stateDict, problemPath], { encoding: 'utf8', timeout: 120_000 });
  const r = JSON.parse(out) as TorchResult;
  console.log(`[pytorch] torch ${r.torch}; ${r.solver}`);
  return r;
}

async function webodeSolve(f: MLP): Promise<Float32Array> {
  const sol = await odeint(f, Y0, T, { method: 'rk38', stepSize: STEP });
  const y = await sol.y.read();
  sol.destroy();
  return y;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('PyTorch round trip (real torch, webode on Dawn)', () => {
  it('python3 imports torch (python3-torch must be installed)', () => {
    const v = execFileSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
    expect(v.length).toBeGreaterThan(0);
  });

  it(`export: a webode MLP (time input, softplus) loads into nn.Sequential; solutions agree to ${TOL} (rk38 / torchdiffeq rk4, h = 1/16)`, async () => {
    const layers = [3, 16, 16, 2];
    const activation: Activation = 'softplus';
    const f = new MLP(rt, { layers, activation, timeInput: true, seed: 11 });
    const sd = await exportStateDict(f);
    expect(sd[STATE_DICT_META]).toMatchObject({ kind: 'mlp', layers, torchActivation: 'Softplus', timeInput: true });
    expect(Object.keys(sd).filter((k) => k !== STATE_DICT_META)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']);
    const path = join(dir, 'exported.json');
    writeFileSync(path, JSON.stringify(sd));
    const torch = runPython('load', path, { y0: Y0, dim: 2, t: T, step: STEP });
    const y = await webodeSolve(f);
    const err = maxAbs(y, torch.y);
    console.log(`[pytorch] export: max |webode − torch float64| = ${err.toExponential(2)} over ${y.length} values (tolerance ${TOL})`);
    expect(err).toBeLessThan(TOL);
    // And back: the export imports into a fresh MLP unchanged.
    const g = new MLP(rt, { layers, activation, timeInput: true, seed: 99 });
    importStateDict(g, JSON.stringify(sd));
    expect(Array.from(await g.readParameters())).toEqual(Array.from(await f.readParameters()));
    f.destroy();
    g.destroy();
  });

  it(`import: a state_dict written by PyTorch (manual_seed 7, tanh) solves in webode as in torch float64, to ${TOL}`, async () => {
    const layers = [2, 32, 2];
    const path = join(dir, 'from-torch.json');
    const torch = runPython('write', path, { seed: 7, layers, torchActivation: 'Tanh', timeInput: false, y0: Y0, dim: 2, t: T, step: STEP });
    const f = new MLP(rt, { layers, activation: 'tanh' });
    importStateDict(f, readFileSync(path, 'utf8'));
    const y = await webodeSolve(f);
    const err = maxAbs(y, torch.y);
    console.log(`[pytorch] import: max |webode − torch float64| = ${err.toExponential(2)} over ${y.length} values (tolerance ${TOL})`);
    expect(err).toBeLessThan(TOL);
    f.destroy();
  });

  it('a NeuralODE with a readout exports as "f.<i>.*" and "readout.*" and imports back', async () => {
    const f = new MLP(rt, { layers: [2, 8, 2], seed: 5 });
    const model = new NeuralODE(f, { readout: new Linear(rt, { inFeatures: 2, outFeatures: 3, seed: 6 }) });
    const sd = await exportStateDict(model);
    expect(Object.keys(sd).sort()).toEqual(['f.0.bias', 'f.0.weight', 'f.2.bias', 'f.2.weight', 'readout.bias', 'readout.weight', STATE_DICT_META].sort());
    expect((sd['readout.weight'] as number[][]).length).toBe(3);
    const copy = new NeuralODE(new MLP(rt, { layers: [2, 8, 2], seed: 50 }), { readout: new Linear(rt, { inFeatures: 2, outFeatures: 3, seed: 60 }) });
    importStateDict(copy, JSON.parse(JSON.stringify(sd)));
    expect(Array.from(await copy.f.readParameters())).toEqual(Array.from(await f.readParameters()));
    expect(Array.from(await copy.readout!.readParameters())).toEqual(Array.from(await model.readout!.readParameters()));
    model.destroy();
    copy.destroy();
  });
});
