/**
 * The two experiments of the demo page, as plain functions of a runtime and a
 * configuration, shared by the page (demo/main.ts) and the GPU tests (which
 * train exactly what the page trains):
 *
 * - the spiral: data from dy/dt = A·y³ (A = [[−0.1, 2], [−2, −0.1]], y0 =
 *   [2, 0], 1,000 points on [0, 25], as torchdiffeq's ode_demo); an MLP
 *   learns the vector field from mini-batches of random windows;
 * - concentric circles (Dupont et al. 2019, "Augmented Neural ODEs"): label 0
 *   (−1 in the paper) inside radius r1, label 1 (+1) between r2 and r3; an
 *   ODE block on [0, 1] and a Linear readout, with and without extra zero
 *   dimensions. As in the paper's experiments the readout is regressed onto
 *   the label with MSE by default (with cross-entropy the separable,
 *   augmented model keeps growing its margins, and its flow its NFE);
 *   `loss: 'cross-entropy'` trains a 2-logit readout instead.
 */
import {
  type Activation,
  Adam,
  Linear,
  Loss,
  MLP,
  type MethodName,
  NeuralODE,
  PointDataset,
  PointSampler,
  type Runtime,
  type StepResult,
  TABLEAUX,
  Trainer,
  type TrainerCheckpoint,
  TrajectoryDataset,
  WindowSampler,
  mulberry32,
} from '../src/index';

/** The spiral's system and data, as in the issue (and torchdiffeq's ode_demo). */
export const SPIRAL = {
  A: [
    [-0.1, 2.0],
    [-2.0, -0.1],
  ],
  y0: [2, 0],
  points: 1000,
  tEnd: 25,
  batch: 20,
  window: 10,
} as const;

/** dy/dt = A·y³ (y³ elementwise), in float64. */
export function spiralField(y: readonly number[]): [number, number] {
  const c0 = y[0] ** 3;
  const c1 = y[1] ** 3;
  return [SPIRAL.A[0][0] * c0 + SPIRAL.A[0][1] * c1, SPIRAL.A[1][0] * c0 + SPIRAL.A[1][1] * c1];
}

/**
 * The true trajectory on the grid, by classic RK4 in float64 with 50 substeps
 * per grid interval (h = 5e-4; |f| ≤ 17 on the spiral, so the local error
 * ~ (h·17)^5 is far below float32 round-off).
 */
export function spiralData(): { t: Float64Array; y: Float64Array } {
  const N = SPIRAL.points;
  const t = Float64Array.from({ length: N }, (_, i) => (SPIRAL.tEnd * i) / (N - 1));
  const y = new Float64Array(N * 2);
  let s: number[] = [SPIRAL.y0[0], SPIRAL.y0[1]];
  y[0] = s[0];
  y[1] = s[1];
  const sub = 50;
  for (let i = 1; i < N; i++) {
    const h = (t[i] - t[i - 1]) / sub;
    for (let k = 0; k < sub; k++) {
      const k1 = spiralField(s);
      const k2 = spiralField([s[0] + (h / 2) * k1[0], s[1] + (h / 2) * k1[1]]);
      const k3 = spiralField([s[0] + (h / 2) * k2[0], s[1] + (h / 2) * k2[1]]);
      const k4 = spiralField([s[0] + h * k3[0], s[1] + h * k3[1]]);
      s = [s[0] + (h / 6) * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]), s[1] + (h / 6) * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])];
    }
    y[2 * i] = s[0];
    y[2 * i + 1] = s[1];
  }
  return { t, y };
}

/** Configuration of a spiral run. */
export interface SpiralConfig {
  /** Hidden width of the MLP [2, width, 2]. */
  width: number;
  activation: Activation;
  /** Adam learning rate at the start. */
  lr: number;
  /**
   * Learning rate schedule: `lr` until iteration `decayStart`, then an
   * exponential decay reaching `lrEnd` at `decayEnd` (and staying there).
   */
  lrEnd: number;
  decayStart: number;
  decayEnd: number;
  /** Training loss on the windows. */
  loss: 'mse' | 'l1';
  method: MethodName;
  rtol: number;
  atol: number;
  seed: number;
  /** Training iterations without host waits (the Trainer's default); false: each solve waits for its summary. */
  waitFree: boolean;
}

export const SPIRAL_DEFAULTS: SpiralConfig = {
  width: 50,
  activation: 'relu',
  lr: 2e-2,
  lrEnd: 2e-4,
  decayStart: 800,
  decayEnd: 2000,
  loss: 'mse',
  method: 'dopri5',
  rtol: 1e-5,
  atol: 1e-6,
  seed: 1,
  waitFree: true,
};

/** What the demo stores of a spiral run (in IndexedDB): its configuration and the trainer's checkpoint. */
export interface SpiralSave {
  config: SpiralConfig;
  checkpoint: TrainerCheckpoint;
  /** Date.now() when it was taken. */
  savedAt: number;
}

/** A spiral training run: model, data, sampler and trainer on one runtime. */
export class SpiralRun {
  readonly config: SpiralConfig;
  readonly data: { t: Float64Array; y: Float64Array };
  readonly model: NeuralODE;
  readonly dataset: TrajectoryDataset;
  readonly sampler: WindowSampler;
  readonly trainer: Trainer;
  readonly optimizer: Adam;
  readonly loss: Loss;

  /** A new run, or (with `resume`) one that continues a saved run exactly where it stopped. */
  constructor(rt: Runtime, config: Partial<SpiralConfig> = {}, resume?: TrainerCheckpoint) {
    this.config = { ...SPIRAL_DEFAULTS, ...config };
    const c = this.config;
    this.data = spiralData();
    if (resume) {
      this.dataset = new TrajectoryDataset(rt, this.data.t, this.data.y, 2);
      try {
        const r = Trainer.resume(rt, resume, { dataset: this.dataset });
        if (!(r.sampler instanceof WindowSampler) || !(r.trainer.optimizer instanceof Adam)) {
          r.trainer.destroy();
          r.sampler?.destroy();
          throw new Error('demo: not a checkpoint of the spiral (windows and Adam)');
        }
        this.trainer = r.trainer;
        this.sampler = r.sampler;
        this.model = r.trainer.model;
        this.optimizer = r.trainer.optimizer;
        this.loss = r.trainer.loss;
      } catch (e) {
        this.dataset.destroy();
        throw e;
      }
      return;
    }
    const f = new MLP(rt, { layers: [2, c.width, 2], activation: c.activation, seed: c.seed });
    this.model = new NeuralODE(f, { solver: solverOptions(c) });
    this.dataset = new TrajectoryDataset(rt, this.data.t, this.data.y, 2);
    this.sampler = new WindowSampler(this.dataset, { batch: SPIRAL.batch, length: SPIRAL.window, seed: c.seed });
    this.optimizer = new Adam(this.model.parameters, { lr: c.lr });
    this.loss = new Loss(rt, c.loss);
    this.trainer = new Trainer(this.model, this.optimizer, this.loss, { waitFree: c.waitFree });
  }

  /** The run's state to store: configuration and the trainer's checkpoint (one host wait). */
  async save(): Promise<SpiralSave> {
    return { config: { ...this.config }, checkpoint: await this.trainer.checkpoint(this.sampler), savedAt: Date.now() };
  }

  /** Changes the solver or learning rate between iterations. */
  configure(change: Partial<Pick<SpiralConfig, 'lr' | 'lrEnd' | 'method' | 'rtol' | 'atol'>>): void {
    Object.assign(this.config, change);
    this.model.solver = solverOptions(this.config);
  }

  /** The learning rate of iteration i (0-based). */
  learningRate(i: number): number {
    const c = this.config;
    const x = Math.min(Math.max(i - c.decayStart, 0) / Math.max(1, c.decayEnd - c.decayStart), 1);
    return c.lr * (c.lrEnd / c.lr) ** x;
  }

  /** One training iteration on a fresh mini-batch. */
  step(readLoss = false): Promise<StepResult> {
    this.optimizer.lr = this.learningRate(this.trainer.iteration);
    return this.trainer.step(this.sampler.next(), { readLoss });
  }

  /**
   * Integrates the learned field from y0 over the whole grid and returns the
   * trajectory and its mean squared error against the data (all 1,000 points).
   */
  async evaluate(): Promise<{ y: Float32Array; mse: number; nfe: number }> {
    const sol = await this.model.solve(SPIRAL.y0, this.data.t);
    try {
      const y = await sol.y.read();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += (y[i] - this.data.y[i]) ** 2;
      return { y, mse: s / y.length, nfe: sol.summary.nfe };
    } finally {
      sol.destroy();
    }
  }

  /** The learned vector field on an n×n grid over [−lim, lim]², row-major points (one host wait). */
  async field(n: number, lim: number): Promise<{ points: Float32Array; values: Float32Array }> {
    const points = new Float32Array(n * n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        points[2 * (i * n + j)] = -lim + (2 * lim * j) / (n - 1);
        points[2 * (i * n + j) + 1] = lim - (2 * lim * i) / (n - 1);
      }
    }
    const out = this.model.f.forward(points);
    try {
      return { points, values: await out.read() };
    } finally {
      out.destroy();
    }
  }

  destroy(): void {
    this.trainer.destroy();
    this.optimizer.destroy();
    this.loss.destroy();
    this.sampler.destroy();
    this.dataset.destroy();
    this.model.destroy();
  }
}

function solverOptions(c: { method: MethodName; rtol: number; atol: number }) {
  // Fixed-step methods get a step of a tenth of the data's spacing over the window.
  return !TABLEAUX[c.method].adaptive ? { method: c.method, stepSize: 0.02 } : { method: c.method, rtol: c.rtol, atol: c.atol };
}

/** The circles data: radii of Dupont et al. (inner disk r < r1, annulus r2 < r < r3). */
export const CIRCLES = { r1: 0.5, r2: 1.0, r3: 1.5 } as const;

/**
 * n points, half inside the disk (label 0) and half in the annulus (label 1),
 * uniform in area, from a seeded generator.
 */
export function circlesData(n: number, seed: number): { x: Float32Array; labels: Uint8Array } {
  const rng = mulberry32(seed);
  const x = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const outer = i % 2 === 1;
    const [lo, hi] = outer ? [CIRCLES.r2, CIRCLES.r3] : [0, CIRCLES.r1];
    const r = Math.sqrt(lo * lo + (hi * hi - lo * lo) * rng());
    const a = 2 * Math.PI * rng();
    x[2 * i] = r * Math.cos(a);
    x[2 * i + 1] = r * Math.sin(a);
    labels[i] = outer ? 1 : 0;
  }
  return { x, labels };
}

/** Configuration of a circles run. */
export interface CirclesConfig {
  /** Extra zero dimensions of the state (0: a plain Neural ODE). */
  augment: number;
  width: number;
  activation: Activation;
  lr: number;
  /** Adam's L2 weight decay. */
  weightDecay: number;
  /**
   * 'cross-entropy': a readout to 2 logits; 'mse': a readout to 1 value
   * regressed onto the label (0 inside, 1 outside: Dupont et al.'s −1/+1 up to
   * the readout's affine map), classified at 0.5.
   */
  loss: 'cross-entropy' | 'mse';
  method: MethodName;
  rtol: number;
  atol: number;
  seed: number;
  /** Training iterations without host waits (the Trainer's default); false: each solve waits for its summary. */
  waitFree: boolean;
  batch: number;
  points: number;
}

export const CIRCLES_DEFAULTS: CirclesConfig = {
  augment: 0,
  width: 32,
  activation: 'tanh',
  lr: 1e-2,
  weightDecay: 0,
  loss: 'mse',
  method: 'dopri5',
  rtol: 1e-3,
  atol: 1e-4,
  seed: 1,
  waitFree: true,
  batch: 128,
  points: 1024,
};

/** A circles training run (plain or augmented). */
export class CirclesRun {
  readonly config: CirclesConfig;
  readonly data: { x: Float32Array; labels: Uint8Array };
  readonly model: NeuralODE;
  readonly dataset: PointDataset;
  readonly sampler: PointSampler;
  readonly trainer: Trainer;
  readonly optimizer: Adam;
  readonly loss: Loss;

  constructor(rt: Runtime, config: Partial<CirclesConfig> = {}) {
    this.config = { ...CIRCLES_DEFAULTS, ...config };
    const c = this.config;
    const D = 2 + c.augment;
    this.data = circlesData(c.points, c.seed);
    const f = new MLP(rt, { layers: [D, c.width, D], activation: c.activation, seed: c.seed });
    const readout = new Linear(rt, { inFeatures: D, outFeatures: c.loss === 'mse' ? 1 : 2, seed: c.seed + 1 });
    this.model = new NeuralODE(f, { readout, inputDim: 2, t: [0, 1], solver: solverOptions(c) });
    this.dataset = new PointDataset(rt, this.data.x, this.data.labels, { width: 2, classes: 2 });
    this.sampler = new PointSampler(this.dataset, { batch: c.batch, stateDim: D, seed: c.seed });
    this.optimizer = new Adam(this.model.parameters, { lr: c.lr, weightDecay: c.weightDecay });
    this.loss = new Loss(rt, c.loss);
    this.trainer = new Trainer(this.model, this.optimizer, this.loss, { waitFree: c.waitFree });
  }

  configure(change: Partial<Pick<CirclesConfig, 'lr' | 'method' | 'rtol' | 'atol'>>): void {
    Object.assign(this.config, change);
    this.model.solver = solverOptions(this.config);
    this.optimizer.lr = this.config.lr;
  }

  step(readLoss = false): Promise<StepResult> {
    return this.trainer.step(this.sampler.next(), { readLoss });
  }

  /**
   * Classifies points (B×2 values): a score in [0, 1] per point (the
   * probability of label 1, or the clamped regression output), above 0.5 for
   * label 1, and the solve's function-evaluation counts.
   */
  async classify(x: Float32Array): Promise<{ p1: Float32Array; maxNfe: number; nfe: number }> {
    const pred = await this.model.predict(x);
    try {
      const out = await pred.output.read();
      const B = x.length / 2;
      const p1 = new Float32Array(B);
      for (let b = 0; b < B; b++) {
        p1[b] = this.config.loss === 'mse' ? Math.min(1, Math.max(0, out[b])) : 1 / (1 + Math.exp(out[2 * b] - out[2 * b + 1]));
      }
      return { p1, maxNfe: pred.solution.summary.maxNfe, nfe: pred.solution.summary.nfe };
    } finally {
      pred.destroy();
    }
  }

  /** Accuracy on the whole dataset and the forward NFE of that solve. */
  async accuracy(): Promise<{ accuracy: number; maxNfe: number; meanNfe: number }> {
    const { p1, maxNfe, nfe } = await this.classify(this.data.x);
    let right = 0;
    for (let i = 0; i < p1.length; i++) if ((p1[i] > 0.5 ? 1 : 0) === this.data.labels[i]) right++;
    return { accuracy: right / p1.length, maxNfe, meanNfe: nfe / p1.length };
  }

  /**
   * Trajectories of `x` (B×2 points) through the flow at `frames` times in
   * [0, 1]: [frames][B][D] states.
   */
  async flow(x: Float32Array, frames: number): Promise<Float32Array> {
    const t = Array.from({ length: frames }, (_, i) => i / (frames - 1));
    const D = this.model.stateDim;
    const B = x.length / 2;
    const y0 = new Float32Array(B * D);
    for (let b = 0; b < B; b++) y0.set(x.subarray(2 * b, 2 * b + 2), b * D);
    const sol = await this.model.solve(y0, t);
    try {
      return await sol.y.read();
    } finally {
      sol.destroy();
    }
  }

  destroy(): void {
    this.trainer.destroy();
    this.optimizer.destroy();
    this.loss.destroy();
    this.sampler.destroy();
    this.dataset.destroy();
    this.model.destroy();
  }
}
