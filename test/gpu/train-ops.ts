/**
 * Page-side operations of the training tests (losses, optimizers, Linear,
 * samplers, the trainer, save/load, the demo experiments), merged into the
 * harness's operations by test/gpu/harness.ts. Each runs in the harness's
 * WebGPU error scopes and returns plain data; float arrays travel as base64.
 */
import { CirclesRun, type CirclesConfig, SpiralRun, type SpiralConfig } from '../../demo/experiments';
import { fitTrajectory } from '../../demo/example';
import * as webode from '../../src/index';
import type { Runtime } from '../../src/index';
import { type WireArray, decode, encodeF32 } from './wire';

/** What the harness lends these operations. */
export interface TrainOpsContext {
  readonly calls: { mapAsync: number; submit: number };
  scoped<T>(body: (r: Runtime) => Promise<T>): Promise<T & { gpuErrors: string[] }>;
}

export interface TrainError {
  name: string;
  message: string;
  argument?: string;
}

function errorOf(e: unknown): TrainError {
  if (e instanceof webode.ArgumentError) return { name: e.name, message: e.message, argument: e.argument };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'unknown', message: String(e) };
}

/** Runs `fn`, returning its error (or null). */
async function attempt(fn: () => unknown): Promise<TrainError | null> {
  try {
    await fn();
    return null;
  } catch (e) {
    return errorOf(e);
  }
}

export function trainOps(ctx: TrainOpsContext) {
  const { scoped, calls } = ctx;
  return {
    /** The README's training example (demo/example.ts), run as printed on the given trajectory. */
    async readmeExample(args: { t: WireArray; y: WireArray }) {
      return scoped(async () => {
        const t0 = performance.now();
        const { learned, json } = await fitTrajectory(Float64Array.from(decode(args.t)), Float64Array.from(decode(args.y)));
        return { learned: encodeF32(learned), jsonLength: json.length, ms: performance.now() - t0 };
      });
    },

    /** A loss on the GPU: its gradient tensor and value. */
    async trainLoss(args: {
      kind: webode.LossKind;
      pred: WireArray;
      target: WireArray;
      classes?: number;
      predOffset?: number;
      gradOffset?: number;
      gradSize?: number;
      count: number;
    }) {
      return scoped(async (r) => {
        const pred = webode.Tensor.fromArray(r, decode(args.pred), [decode(args.pred).length], 'test pred');
        const target = webode.Tensor.fromArray(r, decode(args.target), [decode(args.target).length], 'test target');
        const grad = webode.Tensor.fromArray(r, new Float32Array(args.gradSize ?? pred.size).fill(-7), [args.gradSize ?? pred.size], 'test grad');
        const loss = new webode.Loss(r, args.kind);
        try {
          const m0 = calls.mapAsync;
          const encoder = r.device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          loss.record(pass, {
            pred,
            target,
            grad,
            count: args.count,
            classes: args.classes,
            predOffset: args.predOffset,
            gradOffset: args.gradOffset,
          });
          pass.end();
          r.submit([encoder.finish()]);
          const mapsBeforeRead = calls.mapAsync - m0;
          const value = await loss.read();
          return { grad: encodeF32(await grad.read()), value, mapsBeforeRead };
        } finally {
          for (const t of [pred, target, grad]) t.destroy();
          loss.destroy();
        }
      });
    },

    /** Optimizer steps: parameters after every step, gradients given per step and tensor. */
    async trainOptim(args: {
      sgd?: webode.SGDOptions;
      adam?: webode.AdamOptions;
      params: WireArray[];
      grads: WireArray[][];
      lrPerStep?: number[];
    }) {
      return scoped(async (r) => {
        const params = args.params.map((p, i) => webode.Tensor.fromArray(r, decode(p), [decode(p).length], `param ${i}`));
        const opt = args.sgd ? new webode.SGD(params, args.sgd) : new webode.Adam(params, args.adam);
        try {
          const m0 = calls.mapAsync;
          const after: WireArray[][] = [];
          const reads: Float32Array[][] = [];
          for (let s = 0; s < args.grads.length; s++) {
            args.grads[s].forEach((g, i) => opt.grads[i].write(decode(g)));
            if (args.lrPerStep) opt.lr = args.lrPerStep[s];
            opt.step();
            const row: Float32Array[] = [];
            for (const p of params) row.push(await p.read());
            reads.push(row);
          }
          for (const row of reads) after.push(row.map((a) => encodeF32(a)));
          return { after, steps: opt.steps, maps: calls.mapAsync - m0 };
        } finally {
          opt.destroy();
          for (const p of params) p.destroy();
        }
      });
    },

    /** Linear forward and backward on given tensors. */
    async trainLinear(args: {
      inFeatures: number;
      outFeatures: number;
      params: WireArray;
      x: WireArray;
      xOffset: number;
      batch: number;
      gy: WireArray;
      gxSize: number;
      gxOffset: number;
    }) {
      return scoped(async (r) => {
        const lin = new webode.Linear(r, { inFeatures: args.inFeatures, outFeatures: args.outFeatures });
        const x = webode.Tensor.fromArray(r, decode(args.x), [decode(args.x).length], 'x');
        const gy = webode.Tensor.fromArray(r, decode(args.gy), [decode(args.gy).length], 'gy');
        const y = webode.Tensor.zeros(r, [args.batch, args.outFeatures], 'y');
        const gx = webode.Tensor.fromArray(r, new Float32Array(args.gxSize).fill(-7), [args.gxSize], 'gx');
        const gtheta = webode.Tensor.zeros(r, [lin.parameterCount], 'gtheta');
        try {
          lin.setParameters(decode(args.params));
          const encoder = r.device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          lin.recordForward(pass, { x, xOffset: args.xOffset, batch: args.batch, y });
          lin.recordBackward(pass, { x, xOffset: args.xOffset, batch: args.batch, gy, gx, gxOffset: args.gxOffset, gtheta });
          pass.end();
          r.submit([encoder.finish()]);
          const viaForward = lin.forward(decode(args.x).subarray(args.xOffset, args.xOffset + args.batch * args.inFeatures));
          const out = {
            y: encodeF32(await y.read()),
            yForward: encodeF32(await viaForward.read()),
            gx: encodeF32(await gx.read()),
            gtheta: encodeF32(await gtheta.read()),
          };
          viaForward.destroy();
          return out;
        } finally {
          for (const t of [x, gy, y, gx, gtheta]) t.destroy();
          lin.destroy();
        }
      });
    },

    /**
     * One trainer iteration with SGD at lr = 0 (parameters unchanged), so the
     * optimizer's gradient tensors hold dL/dθ of the ODE block and of the
     * readout: the chain ODE → Linear → loss through the cotangent buffer.
     */
    async trainChain(args: {
      mlp: webode.MLPOptions;
      mlpParams: WireArray;
      readout: { outFeatures: number; params: WireArray } | null;
      y0: WireArray;
      target: WireArray;
      t: number[];
      solver: webode.OdeintOptions;
      loss: webode.LossKind;
    }) {
      return scoped(async (r) => {
        const f = new webode.MLP(r, args.mlp);
        f.setParameters(decode(args.mlpParams));
        let readout: webode.Linear | null = null;
        if (args.readout) {
          readout = new webode.Linear(r, { inFeatures: f.stateDim, outFeatures: args.readout.outFeatures });
          readout.setParameters(decode(args.readout.params));
        }
        const model = new webode.NeuralODE(f, { readout, solver: args.solver, t: args.t });
        const opt = new webode.SGD(model.parameters, { lr: 0 });
        const loss = new webode.Loss(r, args.loss);
        const trainer = new webode.Trainer(model, opt, loss);
        const y0 = webode.Tensor.fromArray(r, decode(args.y0), [decode(args.y0).length], 'y0');
        const target = webode.Tensor.fromArray(r, decode(args.target), [decode(args.target).length], 'target');
        try {
          const res = await trainer.step({ y0, target, t: Float64Array.from(args.t) }, { readLoss: true });
          return {
            loss: res.loss,
            gf: encodeF32(await opt.grads[0].read()),
            gr: readout ? encodeF32(await opt.grads[1].read()) : null,
            paramsAfter: encodeF32(await f.readParameters()),
          };
        } finally {
          trainer.destroy();
          opt.destroy();
          loss.destroy();
          model.destroy();
          y0.destroy();
          target.destroy();
        }
      });
    },

    /** Draws batches from a trajectory or point dataset with a seed. */
    async trainSampler(args: {
      kind: 'windows' | 'points';
      data: WireArray;
      t?: number[];
      labels?: number[];
      width: number;
      classes?: number;
      batch: number;
      length?: number;
      stateDim?: number;
      seed: number;
      draws: number;
    }) {
      return scoped(async (r) => {
        const data = decode(args.data);
        const draws: { y0: WireArray; target: WireArray; index: WireArray }[] = [];
        let maps = 0;
        if (args.kind === 'windows') {
          const ds = new webode.TrajectoryDataset(r, args.t ?? [], data, args.width);
          const s = new webode.WindowSampler(ds, { batch: args.batch, length: args.length ?? 2, seed: args.seed });
          try {
            const read: Float32Array[][] = [];
            for (let k = 0; k < args.draws; k++) {
              const m1 = calls.mapAsync;
              const b = s.next();
              maps += calls.mapAsync - m1;
              read.push([await b.y0.read(), await b.target.read(), b.index ? await b.index.read() : new Float32Array(0)]);
            }
            for (const [y0, target, index] of read) draws.push({ y0: encodeF32(y0), target: encodeF32(target), index: encodeF32(index) });
            return { draws, t: Array.from(s.next().t ?? []), mapsPerDraw: maps };
          } finally {
            s.destroy();
            ds.destroy();
          }
        }
        const ds = new webode.PointDataset(r, data, args.labels ?? [], { width: args.width, classes: args.classes ?? 2 });
        const s = new webode.PointSampler(ds, { batch: args.batch, stateDim: args.stateDim, seed: args.seed });
        try {
          for (let k = 0; k < args.draws; k++) {
            const m1 = calls.mapAsync;
            const b = s.next();
            maps += calls.mapAsync - m1;
            draws.push({ y0: encodeF32(await b.y0.read()), target: encodeF32(await b.target.read()), index: encodeF32(b.index ? await b.index.read() : []) });
          }
          return { draws, t: [], mapsPerDraw: maps };
        } finally {
          s.destroy();
          ds.destroy();
        }
      });
    },

    /**
     * Host waits of training iterations, counted on GPUBuffer.mapAsync itself,
     * against the waits the iteration and its solves report.
     */
    async trainWaits(args: { iterations: number; readLossEvery: number; circles: boolean; waitFree: boolean; batchShared?: boolean }) {
      return scoped(async (r) => {
        const run = args.circles ? new CirclesRun(r, { batch: 32, waitFree: args.waitFree }) : new SpiralRun(r, { waitFree: args.waitFree });
        if (args.batchShared) run.model.solver = { ...run.model.solver, stepControl: 'batch' };
        try {
          await run.step(); // compile the pipelines outside the count
          const rows: { maps: number; solveWaits: number; reported: number; readLoss: boolean; submits: number }[] = [];
          for (let i = 0; i < args.iterations; i++) {
            const readLoss = args.readLossEvery > 0 && (i + 1) % args.readLossEvery === 0;
            const m0 = calls.mapAsync;
            const s0 = calls.submit;
            const res = await run.step(readLoss);
            rows.push({
              maps: calls.mapAsync - m0,
              solveWaits: res.forward.hostWaits + res.backward.hostWaits,
              reported: res.hostWaits,
              readLoss,
              submits: calls.submit - s0,
            });
          }
          return { rows };
        } finally {
          run.destroy();
        }
      });
    },

    /**
     * Trains the demo's spiral for `iterations` and evaluates the full
     * trajectory every `evalEvery` iterations.
     */
    async trainSpiral(args: { config: Partial<SpiralConfig>; iterations: number; evalEvery: number; stopBelow?: number }) {
      return scoped(async (r) => {
        const run = new SpiralRun(r, args.config);
        try {
          const evals: { iteration: number; mse: number; ms: number }[] = [];
          const t0 = performance.now();
          let waits = 0;
          let i = 0;
          while (i < args.iterations) {
            const res = await run.step();
            i++;
            waits += res.hostWaits;
            if (i % args.evalEvery === 0 || i === args.iterations) {
              const e = await run.evaluate();
              evals.push({ iteration: i, mse: e.mse, ms: performance.now() - t0 });
              if (args.stopBelow !== undefined && e.mse < args.stopBelow) break;
            }
          }
          const hist = await run.trainer.readLossHistory();
          const sum = (x: Uint32Array) => x.reduce((a, b) => a + b, 0);
          // Diagnostics: relative error of the learned field on the data, and of the trajectory, by time range.
          const ranges = [0, 2, 5, 10, 15, 25];
          const fieldOut = run.model.f.forward(Float32Array.from(run.data.y));
          const fl = await fieldOut.read();
          fieldOut.destroy();
          const final = await run.evaluate();
          const diag = ranges.slice(1).map((hi, k) => {
            const lo = ranges[k];
            let fe = 0;
            let fn = 0;
            let te = 0;
            let cnt = 0;
            run.data.t.forEach((tt, n) => {
              if (tt < lo || tt >= hi) return;
              const [a, b] = [run.data.y[2 * n], run.data.y[2 * n + 1]];
              const c0 = a ** 3;
              const c1 = b ** 3;
              const f0 = -0.1 * c0 + 2 * c1;
              const f1 = -2 * c0 - 0.1 * c1;
              fe += Math.hypot(fl[2 * n] - f0, fl[2 * n + 1] - f1);
              fn += Math.hypot(f0, f1);
              te += (final.y[2 * n] - a) ** 2 + (final.y[2 * n + 1] - b) ** 2;
              cnt++;
            });
            return { range: `${lo}-${hi}`, fieldRel: fe / fn, trajMse: te / (2 * cnt) };
          });
          return {
            diag,
            evals,
            iterations: i,
            ms: performance.now() - t0,
            meanForwardNfe: sum(hist.forwardNfe) / i,
            meanBackwardNfe: sum(hist.backwardNfe) / i,
            meanWaits: waits / i,
            curve: Array.from({ length: Math.ceil(hist.losses.length / 100) }, (_, k) => {
              const part = hist.losses.subarray(k * 100, (k + 1) * 100);
              return part.reduce((a, b) => a + b, 0) / part.length;
            }),
            firstLosses: Array.from(hist.losses.subarray(0, 20)),
            lastLosses: Array.from(hist.losses.subarray(Math.max(0, hist.losses.length - 20))),
          };
        } finally {
          run.destroy();
        }
      });
    },

    /** Trains plain and augmented circles models side by side for the same iterations. */
    async trainCircles(args: { configs: Partial<CirclesConfig>[]; iterations: number; evalEvery: number }) {
      return scoped(async (r) => {
        const runs = args.configs.map((c) => new CirclesRun(r, c));
        try {
          const out = runs.map(() => ({
            evals: [] as { iteration: number; accuracy: number; maxNfe: number; meanNfe: number }[],
            trainForwardNfe: 0,
            trainBackwardNfe: 0,
            ms: 0,
            losses: [] as number[],
          }));
          for (let i = 1; i <= args.iterations; i++) {
            for (let k = 0; k < runs.length; k++) {
              const t0 = performance.now();
              await runs[k].step();
              out[k].ms += performance.now() - t0;
              if (i % args.evalEvery === 0 || i === args.iterations) {
                const a = await runs[k].accuracy();
                out[k].evals.push({ iteration: i, ...a });
              }
            }
          }
          for (let k = 0; k < runs.length; k++) {
            const hist = await runs[k].trainer.readLossHistory();
            out[k].losses = Array.from(hist.losses);
            out[k].trainForwardNfe = hist.forwardNfe.reduce((a, b) => a + b, 0);
            out[k].trainBackwardNfe = hist.backwardNfe.reduce((a, b) => a + b, 0);
          }
          return { runs: out };
        } finally {
          for (const run of runs) run.destroy();
        }
      });
    },

    /** Save → load round trip, and the errors of malformed files and state_dicts. */
    async trainSaveLoad(args: { stateDict: Record<string, unknown>; malformed: { name: string; json: unknown }[]; malformedStateDicts: { name: string; json: unknown }[] }) {
      return scoped(async (r) => {
        const run = new CirclesRun(r, { augment: 1, batch: 16 });
        try {
          await run.step();
          await run.step();
          const saved = await webode.saveModel(run.model);
          const text = JSON.stringify(saved);
          const loaded = webode.loadModel(r, text);
          const x = new Float32Array([0.1, 0.2, 1.2, -0.3, -0.7, 1.1]);
          const a = await run.model.predict(x);
          const b = await loaded.predict(x);
          const ya = await a.output.read();
          const yb = await b.output.read();
          a.destroy();
          b.destroy();
          const sameParams = Array.from(await loaded.f.readParameters()).every((v, i) => v === saved.mlp.parameters[i]);
          // Malformed files: loadParameters into the trained model must throw and leave it unchanged.
          const before = Array.from(await run.model.f.readParameters());
          const readout = run.model.readout;
          if (!readout) throw new Error('the circles model has a readout');
          const beforeR = Array.from(await readout.readParameters());
          const errors: { name: string; error: TrainError | null }[] = [];
          for (const m of args.malformed) {
            errors.push({ name: m.name, error: await attempt(() => webode.loadParameters(run.model, m.json)) });
          }
          const after = Array.from(await run.model.f.readParameters());
          const afterR = Array.from(await readout.readParameters());
          const untouched = before.every((v, i) => v === after[i]) && beforeR.every((v, i) => v === afterR[i]);
          const loadModelErrors: { name: string; error: TrainError | null }[] = [];
          for (const m of args.malformed) {
            const live0 = r.counters.liveBuffers;
            const made: webode.NeuralODE[] = [];
            const error = await attempt(() => made.push(webode.loadModel(r, m.json)));
            if (error) {
              loadModelErrors.push({ name: m.name, error: r.counters.liveBuffers === live0 ? error : { name: 'leak', message: 'buffers leaked' } });
            } else {
              loadModelErrors.push({ name: m.name, error: null });
              for (const model of made) model.destroy();
            }
          }
          // PyTorch state_dict import into an MLP [2, 16, 16, 2].
          const f = new webode.MLP(r, { layers: [2, 16, 16, 2], activation: 'tanh' });
          webode.importStateDict(f, JSON.stringify(args.stateDict));
          const imported = encodeF32(await f.readParameters());
          const f0 = Array.from(await f.readParameters());
          const stateDictErrors: { name: string; error: TrainError | null }[] = [];
          for (const m of args.malformedStateDicts) {
            stateDictErrors.push({ name: m.name, error: await attempt(() => webode.importStateDict(f, m.json)) });
          }
          const f1 = Array.from(await f.readParameters());
          const stateDictUntouched = f0.every((v, i) => v === f1[i]);
          // A Linear layer from a prefixed state_dict.
          const lin = new webode.Linear(r, { inFeatures: 2, outFeatures: 3 });
          webode.importStateDict(lin, { 'fc.weight': [[1, 2], [3, 4], [5, 6]], 'fc.bias': [7, 8, 9], 'odefunc.net.0.weight': [[0]] }, { prefix: 'fc.' });
          const linParams = Array.from(await lin.readParameters());
          f.destroy();
          lin.destroy();
          loaded.destroy();
          return {
            format: saved.format,
            version: saved.version,
            ya: Array.from(ya),
            yb: Array.from(yb),
            sameParams,
            errors,
            untouched,
            loadModelErrors,
            imported,
            stateDictErrors,
            stateDictUntouched,
            linParams,
            savedKeys: Object.keys(saved),
          };
        } finally {
          run.destroy();
        }
      });
    },

    /** `Trainer.fit` on the spiral: progress reports, early stop, the loss ring. */
    async trainFit(args: { iterations: number; progressEvery: number; stopAt: number }) {
      return scoped(async (r) => {
        const run = new SpiralRun(r);
        try {
          const reports: webode.Progress[] = [];
          const m0 = calls.mapAsync;
          const res = await run.trainer.fit(run.sampler, {
            iterations: args.iterations,
            progressEvery: args.progressEvery,
            onProgress: (p) => {
              reports.push(p);
              return p.iteration < args.stopAt;
            },
          });
          const maps = calls.mapAsync - m0;
          const hist = await run.trainer.readLossHistory();
          const again = await run.trainer.readLossHistory();
          return { res, reports, maps, history: { first: hist.first, losses: Array.from(hist.losses) }, again: again.losses.length };
        } finally {
          run.destroy();
        }
      });
    },

    /**
     * The same training run twice, wait-free and waiting (same seeds): a few
     * good iterations, one whose y0 has a NaN (the forward solve fails), one
     * whose target has a NaN (the gradient solve fails), good ones after
     * each. The wait-free trainer reads nothing until the checks; returns
     * its TrainingErrors and host waits (mapAsync counted around its own
     * steps), the waiting trainer's errors (by iteration of the plan), and
     * both trainers' parameters and Adam step counts at every check.
     */
    async trainWaitFree(args: { plan: ('good' | 'bad-y0' | 'bad-target' | 'check')[] }) {
      return scoped(async (r) => {
        const B = 4;
        const D = 2;
        const t = Float64Array.from([0, 0.1, 0.2]);
        const T = t.length;
        const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed + 1.7 * i) * 0.8);
        const good = { y0: webode.Tensor.fromArray(r, values(B * D, 1), [B, D]), target: webode.Tensor.fromArray(r, values(T * B * D, 2), [T, B, D]) };
        const y0Nan = values(B * D, 1);
        y0Nan[2 * D] = NaN;
        const targetNan = values(T * B * D, 2);
        targetNan[(2 * B + 1) * D] = NaN;
        const badY0 = { y0: webode.Tensor.fromArray(r, y0Nan, [B, D]), target: good.target };
        const badTarget = { y0: good.y0, target: webode.Tensor.fromArray(r, targetNan, [T, B, D]) };
        const make = (waitFree: boolean) => {
          const f = new webode.MLP(r, { layers: [2, 16, 2], activation: 'tanh', seed: 3 });
          const model = new webode.NeuralODE(f, { t, solver: { rtol: 1e-5, atol: 1e-6 } });
          const optimizer = new webode.Adam(model.parameters, { lr: 1e-2 });
          const loss = new webode.Loss(r, 'mse');
          const trainer = new webode.Trainer(model, optimizer, loss, { waitFree });
          return { f, optimizer, loss, trainer };
        };
        const runs = [make(true), make(false)];
        const checks: { trainingError: TrainError & { iteration?: number; phase?: string; failure?: webode.SampleFailure; failing?: number; skipped?: number } | null; maps: number; params: number[][]; steps: number[]; loss: number }[] = [];
        const waitingErrors: { iteration: number; error: TrainError }[] = [];
        try {
          let maps = 0;
          let iteration = 0;
          for (const what of args.plan) {
            if (what === 'check') {
              let trainingError = null;
              let loss = NaN;
              try {
                loss = await runs[0].trainer.readLoss();
              } catch (e) {
                trainingError = e instanceof webode.TrainingError
                  ? { ...errorOf(e), iteration: e.iteration, phase: e.phase, failure: e.failure, failing: e.failing, skipped: e.skipped }
                  : errorOf(e);
              }
              const params = await Promise.all(runs.map(async (x) => Array.from(await x.f.readParameters())));
              checks.push({ trainingError, maps, params, steps: runs.map((x) => x.optimizer.steps), loss });
              maps = 0;
              continue;
            }
            iteration++;
            const batch = what === 'good' ? good : what === 'bad-y0' ? badY0 : badTarget;
            const m0 = calls.mapAsync;
            await runs[0].trainer.step(batch);
            maps += calls.mapAsync - m0;
            try {
              await runs[1].trainer.step(batch);
            } catch (e) {
              waitingErrors.push({ iteration, error: errorOf(e) });
            }
          }
          return { checks, waitingErrors };
        } finally {
          for (const x of runs) {
            x.trainer.destroy();
            x.optimizer.destroy();
            x.loss.destroy();
            x.f.destroy();
          }
          good.y0.destroy();
          good.target.destroy();
          badY0.y0.destroy();
          badTarget.target.destroy();
        }
      });
    },

    /** Argument errors of the training API, each thrown before any GPU work. */
    async trainArgErrors() {
      return scoped(async (r) => {
        const f = new webode.MLP(r, { layers: [2, 8, 2] });
        const lin = new webode.Linear(r, { inFeatures: 3, outFeatures: 2 });
        const t3 = webode.Tensor.zeros(r, [3], 't3');
        const d0 = r.counters.dispatches;
        const s0 = calls.submit;
        const cases: { name: string; error: TrainError | null }[] = [];
        const add = async (name: string, fn: () => unknown) => cases.push({ name, error: await attempt(fn) });
        await add('loss kind', () => new webode.Loss(r, 'hinge' as webode.LossKind));
        await add('sgd lr', () => new webode.SGD([f.params], { lr: -1 }));
        await add('sgd nesterov', () => new webode.SGD([f.params], { lr: 0.1, nesterov: true }));
        await add('adam betas', () => new webode.Adam([f.params], { betas: [0.9, 1] }));
        await add('adam params', () => new webode.Adam([], {}));
        await add('linear width', () => new webode.Linear(r, { inFeatures: 0, outFeatures: 2 }));
        await add('readout width', () => new webode.NeuralODE(f, { readout: lin }));
        await add('trajectory uneven', () => new webode.TrajectoryDataset(r, [0, 1, 3], [0, 0, 0, 0, 0, 0], 2));
        await add('labels', () => new webode.PointDataset(r, [0, 0, 1, 1], [0, 2], { width: 2, classes: 2 }));
        await add('window length', () => {
          const ds = new webode.TrajectoryDataset(r, [0, 1], [0, 0, 1, 1], 2);
          try {
            return new webode.WindowSampler(ds, { batch: 2, length: 3 });
          } finally {
            ds.destroy();
          }
        });
        await add('trainer optimizer', () => {
          const m = new webode.NeuralODE(f);
          const opt = new webode.SGD([lin.params], { lr: 0.1 });
          const loss = new webode.Loss(r, 'mse');
          try {
            return new webode.Trainer(m, opt, loss);
          } finally {
            opt.destroy();
            loss.destroy();
          }
        });
        await add('loss sizes', () => {
          const loss = new webode.Loss(r, 'mse');
          const t2 = webode.Tensor.zeros(r, [2]);
          const enc = r.device.createCommandEncoder();
          const pass = enc.beginComputePass();
          try {
            loss.record(pass, { pred: t3, target: t3, grad: t2, count: 3 });
          } finally {
            pass.end();
            loss.destroy();
            t2.destroy();
          }
        });
        await add('trainer target', async () => {
          const m = new webode.NeuralODE(f);
          const opt = new webode.SGD(m.parameters, { lr: 0.1 });
          const loss = new webode.Loss(r, 'mse');
          const tr = new webode.Trainer(m, opt, loss);
          const y0 = webode.Tensor.zeros(r, [2, 2]);
          try {
            await tr.step({ y0, target: t3, t: Float64Array.from([0, 1]) });
          } finally {
            y0.destroy();
            tr.destroy();
            opt.destroy();
            loss.destroy();
          }
        });
        for (const [name, options] of [
          ['trainer waitFree', { waitFree: 'yes' }],
          ['trainer dispatchBudget', { dispatchBudget: 0 }],
        ] as const) {
          await add(name, () => {
            const m = new webode.NeuralODE(f);
            const opt = new webode.SGD(m.parameters, { lr: 0.1 });
            const loss = new webode.Loss(r, 'mse');
            try {
              return new webode.Trainer(m, opt, loss, options as webode.TrainerOptions);
            } finally {
              opt.destroy();
              loss.destroy();
            }
          });
        }
        const dispatches = r.counters.dispatches - d0;
        const submits = calls.submit - s0;
        f.destroy();
        lin.destroy();
        t3.destroy();
        return { cases, dispatches, submits };
      });
    },
  };
}
