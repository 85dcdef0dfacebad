/**
 * Page-side operations of the latent-ODE tests (masked losses, the latent ODE),
 * merged into the harness's operations by test/gpu/harness.ts. Each runs in
 * the harness's WebGPU error scopes and returns plain data; float arrays
 * travel as base64.
 */
import * as webode from '../../src/index';
import type { Runtime } from '../../src/index';
import { type WireArray, decode, encodeF32 } from './wire';

/** What the harness lends these operations. */
export interface LatentOpsContext {
  readonly calls: { mapAsync: number; submit: number };
  scoped<T>(body: (r: Runtime) => Promise<T>): Promise<T & { gpuErrors: string[] }>;
}

export function latentOps(ctx: LatentOpsContext) {
  const { scoped, calls } = ctx;
  return {
    /** A masked loss on the GPU: its gradient (written over −7s from `gradOffset` on) and value. */
    async maskedLoss(args: {
      kind: webode.MaskedLossKind;
      std?: number;
      pred: WireArray;
      target: WireArray;
      mask: WireArray;
      scale?: number;
      predOffset?: number;
      gradOffset?: number;
      gradSize?: number;
      count: number;
    }) {
      return scoped(async (r) => {
        const p = decode(args.pred);
        const pred = webode.Tensor.fromArray(r, p, [p.length], 'test pred');
        const target = webode.Tensor.fromArray(r, decode(args.target), [decode(args.target).length], 'test target');
        const mask = webode.Tensor.fromArray(r, decode(args.mask), [decode(args.mask).length], 'test mask');
        const gradSize = args.gradSize ?? p.length;
        const grad = webode.Tensor.fromArray(r, new Float32Array(gradSize).fill(-7), [gradSize], 'test grad');
        const loss = new webode.Loss(r, args.kind, args.std === undefined ? {} : { std: args.std });
        try {
          const m0 = calls.mapAsync;
          const encoder = r.device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          loss.record(pass, { pred, target, mask, grad, count: args.count, scale: args.scale, predOffset: args.predOffset, gradOffset: args.gradOffset });
          pass.end();
          r.submit([encoder.finish()]);
          const mapsBeforeRead = calls.mapAsync - m0;
          const value = await loss.read();
          return { grad: encodeF32(await grad.read()), value, mapsBeforeRead };
        } finally {
          for (const t of [pred, target, mask, grad]) t.destroy();
          loss.destroy();
        }
      });
    },
    /**
     * One latent-ODE iteration with a fixed ε and SGD at lr 0 (parameters
     * unchanged): the objective's terms and the gradient of every tensor.
     */
    async latentGradients(args: {
      model: webode.LatentODEOptions;
      params: { gru: WireArray; head: WireArray; field: WireArray; decoder: WireArray };
      series: WireSeries;
      eps: WireArray;
      klWeight: number;
    }) {
      return scoped(async (r) => {
        const model = new webode.LatentODE(r, args.model);
        const opt = new webode.SGD(model.parameters, { lr: 0 });
        const trainer = new webode.LatentTrainer(model, opt, { klWeight: args.klWeight });
        const data = model.upload(seriesOf(args.series));
        try {
          model.encoder.setParameters(decode(args.params.gru));
          model.head.setParameters(decode(args.params.head));
          model.f.setParameters(decode(args.params.field));
          model.decoder.setParameters(decode(args.params.decoder));
          const res = await trainer.step(data, { readLoss: true, eps: decode(args.eps) });
          const grads = await Promise.all(opt.grads.map(async (g) => encodeF32(await g.read())));
          return { loss: res.loss, hostWaits: res.hostWaits, grads };
        } finally {
          data.destroy();
          trainer.destroy();
          opt.destroy();
          model.destroy();
        }
      });
    },

    /**
     * Latent-ODE training: host waits and map calls of iterations without a
     * loss read, then one read, the history ring, and a prediction with
     * z0 samples at observed and extrapolation times.
     */
    async latentTraining(args: { model: webode.LatentODEOptions; series: WireSeries; iterations: number; lr: number; klWarmup: number; samples: number; times: number[][] }) {
      return scoped(async (r) => {
        const model = new webode.LatentODE(r, args.model);
        const opt = new webode.Adam(model.parameters, { lr: args.lr });
        const trainer = new webode.LatentTrainer(model, opt, { klWarmup: args.klWarmup, seed: 5 });
        const series = seriesOf(args.series);
        const data = model.upload(series);
        try {
          const rows: { hostWaits: number; maps: number }[] = [];
          for (let i = 0; i < args.iterations; i++) {
            const m0 = calls.mapAsync;
            const res = await trainer.step(data);
            rows.push({ hostWaits: res.hostWaits, maps: calls.mapAsync - m0 });
          }
          const m0 = calls.mapAsync;
          const w0 = r.counters.hostWaits;
          const last = await trainer.readLoss();
          const readMaps = calls.mapAsync - m0;
          const readWaits = r.counters.hostWaits - w0;
          const history = await trainer.readHistory();
          const eps = trainer.lastEps ? encodeF32(await trainer.lastEps.read()) : null;
          const params = {
            field: encodeF32(await model.f.params.read()),
            decoder: encodeF32(await model.decoder.params.read()),
          };
          const p = await model.predict(series, { samples: args.samples, times: args.times, seed: 3 });
          return {
            rows,
            eps,
            last,
            readMaps,
            readWaits,
            history: { first: history.first, loss: Array.from(history.loss), nll: Array.from(history.nll), kl: Array.from(history.kl), beta: Array.from(history.beta) },
            params,
            prediction: { mean: encodeF32(p.mean), std: encodeF32(p.std), draws: encodeF32(p.draws), z0: encodeF32(p.z0), samples: p.samples },
          };
        } finally {
          data.destroy();
          trainer.destroy();
          opt.destroy();
          model.destroy();
        }
      });
    },
    /** Argument errors of the latent pieces: each thrown before any GPU work (no submit). */
    async latentErrors(args: { series: WireSeries }) {
      return scoped(async (r) => {
        const out: Record<string, { name: string; argument?: string } | null> = {};
        const attempt = async (key: string, fn: () => unknown) => {
          const s0 = calls.submit;
          try {
            await fn();
            out[key] = null;
          } catch (e) {
            out[key] = e instanceof webode.ArgumentError ? { name: e.name, argument: e.argument } : { name: e instanceof Error ? e.name : String(e) };
          }
          if (calls.submit !== s0) out[`${key} submitted`] = { name: 'submitted' };
        };
        const series = seriesOf(args.series);
        const model = new webode.LatentODE(r, { obsDim: 1, latentDim: 2, encoderHidden: 4, fieldHidden: [8] });
        const opt = new webode.Adam(model.parameters, { lr: 0.01 });
        const trainer = new webode.LatentTrainer(model, opt);
        const t = webode.Tensor.zeros(r, [8], 'errors tensor');
        const g = webode.Tensor.zeros(r, [8], 'errors gradient');
        const data = model.upload(series);
        try {
          const mse = new webode.Loss(r, 'masked-mse');
          await attempt('mask missing', () => {
            const enc = r.device.createCommandEncoder();
            const pass = enc.beginComputePass();
            try {
              mse.record(pass, { pred: t, target: t, grad: g, count: 8 });
            } finally {
              pass.end();
            }
          });
          mse.destroy();
          await attempt('std of mse', () => new webode.Loss(r, 'mse', { std: 1 }));
          await attempt('std zero', () => new webode.Loss(r, 'gaussian-nll', { std: 0 }));
          const f = new webode.MLP(r, { layers: [2, 4, 2] });
          const m = new webode.NeuralODE(f);
          const adam = new webode.Adam(m.parameters);
          const nll = new webode.Loss(r, 'gaussian-nll');
          await attempt('masked loss in Trainer', () => new webode.Trainer(m, adam, nll));
          nll.destroy();
          adam.destroy();
          f.destroy();
          await attempt('odernn', () => new webode.LatentODE(r, { obsDim: 1, latentDim: 2, encoder: 'odernn' }));
          await attempt('dim', () => model.upload({ ...series, dim: 2 }));
          await attempt('times', () => model.upload({ ...series, times: series.times.map((row) => Float64Array.from(row).reverse()) }));
          await attempt('mask value', () => model.upload({ ...series, mask: Float32Array.from(series.mask, (v, k) => (k === 0 ? 2 : v)) }));
          await attempt('predict times', () => model.predict(series, { times: series.times.map(() => [1, 0.5]) }));
          await attempt('eps', () => trainer.step(data, { eps: [1, 2, 3] }));
          const other = new webode.Adam([model.f.params]);
          await attempt('optimizer', () => new webode.LatentTrainer(model, other));
          other.destroy();
          return { out };
        } finally {
          data.destroy();
          t.destroy();
          g.destroy();
          trainer.destroy();
          opt.destroy();
          model.destroy();
        }
      });
    },
  };
}

/** A `SeriesBatch` on the wire. */
export interface WireSeries {
  batch: number;
  length: number;
  dim: number;
  times: number[][];
  values: WireArray;
  mask: WireArray;
  counts: number[];
}

export function seriesOf(w: WireSeries): webode.SeriesBatch {
  return {
    batch: w.batch,
    length: w.length,
    dim: w.dim,
    times: w.times.map((t) => Float64Array.from(t)),
    values: Float32Array.from(decode(w.values)),
    mask: Float32Array.from(decode(w.mask)),
    counts: Int32Array.from(w.counts),
  };
}

/** The wire form of a `SeriesBatch` (Node side). */
export function wireSeries(s: webode.SeriesBatch): WireSeries {
  return {
    batch: s.batch,
    length: s.length,
    dim: s.dim,
    times: s.times.map((t) => Array.from(t)),
    values: encodeF32(s.values),
    mask: encodeF32(s.mask),
    counts: Array.from(s.counts),
  };
}
