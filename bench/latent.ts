/**
 * Table 12, section `latent` (opt-in: `node bench/run.mjs latent`): a latent
 * ODE trained on Rubanova et al.'s periodic toy with irregular per-series
 * times, by webode and by PyTorch + torchdiffeq (bench/latent_peer.py) in the
 * same run — same sizes, same initial parameters (webode's, exported), same
 * data (generated here), the same ε every iteration (webode's PCG draws,
 * recomputed on the host), the same iterations and Adam — and the
 * interpolation and extrapolation errors and iterations per second of both.
 *
 * Three steps, as the torchdiffeq section (bench/torchdiffeq.ts):
 *   1. `latentRequest` (page) builds the data and the model and returns them
 *      as JSON for the peer;
 *   2. bench/run.mjs runs the peer while the page is idle;
 *   3. `latentSection` (page) trains webode on the kept problem and prints both.
 */
import { Adam, LatentODE, LatentTrainer, type Runtime, type SeriesBatch, latentNoise, periodicSeries } from '../src/index';
import { type SectionResult, sig } from './table';
import { progress } from './timing';

/** The problem's sizes and training settings. */
const SETUP = {
  batch: 16,
  points: 100,
  seed: 1,
  obsDim: 1,
  latentDim: 4,
  encoderHidden: 20,
  fieldHidden: [20, 20],
  activation: 'elu' as const,
  obsStd: 0.05,
  iterations: 400,
  lr: 0.01,
  klWeight: 1,
  klWarmup: 100,
  rtol: 1e-5,
  atol: 1e-6,
  noiseSeed: 7,
  samples: 8,
  predictSeed: 11,
};

interface WireSeries {
  batch: number;
  length: number;
  dim: number;
  times: number[][];
  values: number[];
  mask: number[];
}

const wire = (s: SeriesBatch): WireSeries => ({
  batch: s.batch,
  length: s.length,
  dim: s.dim,
  times: s.times.map((t) => Array.from(t)),
  values: Array.from(s.values),
  mask: Array.from(s.mask),
});

export interface LatentRequest {
  readonly threads: number;
  readonly config: { obsDim: number; latentDim: number; encoderHidden: number; fieldLayers: number[]; activation: string; obsStd: number };
  readonly params: { gru: number[]; head: number[]; field: number[]; decoder: number[] };
  readonly train: WireSeries;
  readonly heldOut: WireSeries;
  readonly extrapolation: WireSeries;
  readonly iterations: number;
  readonly lr: number;
  readonly klWeight: number;
  readonly klWarmup: number;
  readonly rtol: number;
  readonly atol: number;
  readonly method: 'dopri5';
  readonly eps: number[][];
  readonly predictEps: number[][];
}

export type LatentAnswer =
  | {
      readonly available: true;
      readonly torch: string;
      readonly torchdiffeq: string;
      readonly python: string;
      readonly threads: number;
      readonly trainSeconds: number;
      readonly itPerSec: number;
      readonly losses: number[];
      readonly nll: number[];
      readonly kl: number[];
      readonly interpolationMse: number;
      readonly extrapolationMse: number;
    }
  | { readonly available: false; readonly reason: string };

function dataset() {
  return periodicSeries({ batch: SETUP.batch, points: SETUP.points, seed: SETUP.seed });
}

function makeModel(rt: Runtime): LatentODE {
  return new LatentODE(rt, {
    obsDim: SETUP.obsDim,
    latentDim: SETUP.latentDim,
    encoderHidden: SETUP.encoderHidden,
    fieldHidden: SETUP.fieldHidden,
    activation: SETUP.activation,
    obsStd: SETUP.obsStd,
    seed: 0,
    solver: { rtol: SETUP.rtol, atol: SETUP.atol },
  });
}

/** Step 1: the data, webode's initial parameters and its noise, for the peer. */
export async function latentRequest(rt: Runtime): Promise<LatentRequest> {
  const ds = dataset();
  const model = makeModel(rt);
  try {
    const B = SETUP.batch;
    const L = SETUP.latentDim;
    // The trainer's iteration k draws ε_i = latentNoise(seed, k, i); predict draws sample s from draw 0.
    const eps = Array.from({ length: SETUP.iterations }, (_, k) => Array.from({ length: B * L }, (_, i) => latentNoise(SETUP.noiseSeed, k + 1, i)));
    const predictEps = Array.from({ length: SETUP.samples }, (_, s) => Array.from({ length: B * L }, (_, i) => latentNoise(SETUP.predictSeed, 0, s * B * L + i)));
    return {
      threads: 1,
      config: {
        obsDim: SETUP.obsDim,
        latentDim: L,
        encoderHidden: SETUP.encoderHidden,
        fieldLayers: [L, ...SETUP.fieldHidden, L],
        activation: SETUP.activation,
        obsStd: SETUP.obsStd,
      },
      params: {
        gru: Array.from(await model.encoder.params.read()),
        head: Array.from(await model.head.params.read()),
        field: Array.from(await model.f.params.read()),
        decoder: Array.from(await model.decoder.params.read()),
      },
      train: wire(ds.observed),
      heldOut: wire(ds.heldOut),
      extrapolation: wire(ds.extrapolation),
      iterations: SETUP.iterations,
      lr: SETUP.lr,
      klWeight: SETUP.klWeight,
      klWarmup: SETUP.klWarmup,
      rtol: SETUP.rtol,
      atol: SETUP.atol,
      method: 'dopri5',
      eps,
      predictEps,
    };
  } finally {
    model.destroy();
  }
}

/** Mean squared error of `pred` against the masked values of `target` ([T][B][D] both). */
function maskedMse(pred: Float32Array, target: SeriesBatch): number {
  let s = 0;
  let n = 0;
  for (let k = 0; k < target.values.length; k++) {
    if (target.mask[k] === 0) continue;
    s += (pred[k] - target.values[k]) ** 2;
    n++;
  }
  return s / n;
}

const mean = (v: readonly number[] | Float32Array) => Array.from(v).reduce((a, x) => a + x, 0) / Math.max(1, v.length);

/** Step 3: webode trains the same model on the same data; both are printed. */
export async function latentSection(rt: Runtime, answer: LatentAnswer | undefined): Promise<SectionResult> {
  const ds = dataset();
  const model = makeModel(rt);
  const opt = new Adam(model.parameters, { lr: SETUP.lr });
  const trainer = new LatentTrainer(model, opt, { klWeight: SETUP.klWeight, klWarmup: SETUP.klWarmup, seed: SETUP.noiseSeed });
  const data = model.upload(ds.observed);
  try {
    const waits0 = rt.counters.hostWaits;
    const t0 = performance.now();
    for (let k = 0; k < SETUP.iterations; k++) {
      await trainer.step(data);
      if ((k + 1) % 50 === 0) progress(`latent: webode iteration ${k + 1}`);
    }
    const last = await trainer.readLoss();
    const seconds = (performance.now() - t0) / 1000;
    const trainWaits = rt.counters.hostWaits - waits0;
    const history = await trainer.readHistory();
    const opts = { samples: SETUP.samples, seed: SETUP.predictSeed };
    const interp = await model.predict(ds.observed, { ...opts, times: ds.heldOut.times });
    const extra = await model.predict(ds.observed, { ...opts, times: ds.extrapolation.times });
    const webode = {
      itPerSec: SETUP.iterations / seconds,
      seconds,
      trainWaits,
      lastLoss: last.loss,
      meanLastLoss: mean(history.loss.slice(-10)),
      interpolationMse: maskedMse(interp.mean, ds.heldOut),
      extrapolationMse: maskedMse(extra.mean, ds.extrapolation),
      losses: Array.from(history.loss),
    };
    const peer: LatentAnswer = answer ?? { available: false, reason: 'no answer passed to the page' };
    const rows: string[][] = [
      [
        'webode (WebGPU)',
        sig(webode.itPerSec),
        sig(webode.meanLastLoss),
        sig(webode.interpolationMse),
        sig(webode.extrapolationMse),
        `${trainWaits} (${SETUP.iterations} iterations + 1 read)`,
      ],
    ];
    if (peer.available) {
      rows.push([
        `torchdiffeq ${peer.torchdiffeq}, PyTorch ${peer.torch} (CPU, ${peer.threads} thread)`,
        sig(peer.itPerSec),
        sig(mean(peer.losses.slice(-10))),
        sig(peer.interpolationMse),
        sig(peer.extrapolationMse),
        '—',
      ]);
    } else {
      rows.push([`torchdiffeq unavailable: ${peer.reason}`, '', '', '', '', '']);
    }
    return {
      data: { setup: SETUP, webode, peer },
      tables: [
        {
          id: '12',
          title: `Latent ODE on the periodic toy: B = ${SETUP.batch} irregular series, ${SETUP.iterations} Adam iterations (lr ${SETUP.lr}), same initial parameters, data and ε`,
          columns: ['', 'iterations/s', 'loss (mean of last 10)', 'interpolation MSE', 'extrapolation MSE', 'host waits'],
          rows,
          notes: [
            `Data: periodicSeries (Rubanova et al.'s toy: sin(2π f t) + c, f ~ U[0.4, 0.8]) with ${SETUP.points} grid times on (0, 5], seed ${SETUP.seed}; each series keeps half of its grid points in the observed window t ≤ 2.5 (${ds.observed.length} padded steps). Interpolation: the held-out grid points of that window; extrapolation: every grid point in (2.5, 5]; both against the noise-free values, from the mean of ${SETUP.samples} z0 samples.`,
            `Model: GRU encoder (hidden ${SETUP.encoderHidden}) run backwards over [x·m, m, t], Linear → μ, log σ (L = ${SETUP.latentDim}), f = MLP [${[SETUP.latentDim, ...SETUP.fieldHidden, SETUP.latentDim].join(', ')}] ${SETUP.activation}, Linear decoder, obs std ${SETUP.obsStd}, KL warm-up over ${SETUP.klWarmup} iterations; dopri5 rtol ${SETUP.rtol}, atol ${SETUP.atol}, adjoint gradients on both sides.`,
            'webode solves each series at its own times (per-sample output times, per-sample step control); torchdiffeq solves the batch over the union of its times with one step size for the batch. webode: wait-free iterations (the clock stops after one final read); torchdiffeq: odeint_adjoint + loss.backward() + Adam.step() per iteration, run by bench/run.mjs while the page is idle.',
          ],
        },
      ],
    };
  } finally {
    data.destroy();
    trainer.destroy();
    opt.destroy();
    model.destroy();
  }
}
