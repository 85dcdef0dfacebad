/**
 * Datasets uploaded to the GPU once, and samplers that draw mini-batches from
 * them on the GPU (minibatch.wgsl): random windows of a trajectory for
 * time-series fitting, random labelled points for classification. A draw is
 * a pure function of (seed, draw number, sample), so a run is reproducible
 * and no generator state lives on the GPU.
 */
import { MINIBATCH_PARAMS, type MinibatchEntry, minibatchKernel, minibatchWorkgroups } from '../kernels/minibatch';
import type { BoundKernel } from '../runtime/kernel';
import { ArgumentError, DestroyedError } from '../errors';
import type { Runtime } from '../runtime/runtime';
import { validateTimes } from '../solver/options';
import { Tensor } from '../runtime/tensor';
import { checkInt, checkWorkgroups, finiteFloat32, lengthOf } from './common';

/** A mini-batch on the GPU, as `Trainer.step` takes it. */
export interface Batch {
  /** Initial states [B][D]. */
  readonly y0: Tensor;
  /**
   * Targets: [T][B][D] states at the output times (or [B][D] final states)
   * for a regression loss, [B] class indices for cross-entropy, [B][C]
   * values for a regression on a readout.
   */
  readonly target: Tensor;
  /** Output times of the solve; omitted when the model's own times apply (classification). */
  readonly t?: Float64Array;
  /** The dataset index each sample was drawn from, [B] (window starts or point indices). */
  readonly index?: Tensor;
}

/** Something that hands out batches (`Trainer.fit` draws from it). */
export interface Sampler {
  /** The next batch (its tensors may be overwritten by the following call). */
  next(): Batch;
}

/** Relative tolerance on the spacing of a trajectory's time grid. */
const GRID_TOLERANCE = 1e-5;

/** A trajectory y(t_0 … t_{N−1}) of a D-dimensional state, on the GPU. */
export class TrajectoryDataset {
  /** The runtime the data is on. */
  readonly runtime: Runtime;
  /** The time grid (uniform). */
  readonly t: Float64Array;
  /** State dimension D. */
  readonly dim: number;
  /** Number of time points N. */
  readonly length: number;
  private dataTensor: Tensor | null;

  /**
   * @param t N ≥ 2 increasing, evenly spaced times
   * @param y N·dim values, row n the state at t[n]
   */
  constructor(runtime: Runtime, t: ArrayLike<number>, y: ArrayLike<number>, dim: number) {
    checkInt('dim', dim, 1);
    const times = validateTimes(t);
    const N = times.length;
    if (N < 2) throw new ArgumentError('t', t, 'at least two times');
    const h = (times[N - 1] - times[0]) / (N - 1);
    for (let i = 1; i < N; i++) {
      const step = times[i] - times[i - 1];
      if (Math.abs(step - h) > GRID_TOLERANCE * Math.abs(h)) {
        throw new ArgumentError(
          't',
          t,
          `evenly spaced times (windows share one time grid); t[${i}] − t[${i - 1}] = ${step}, the mean spacing is ${h}`,
        );
      }
    }
    const values = finiteFloat32('y', y, N * dim);
    runtime.check();
    this.runtime = runtime;
    this.t = times;
    this.dim = dim;
    this.length = N;
    this.dataTensor = Tensor.fromArray(runtime, values, [N, dim], 'trajectory data');
  }

  /** The states [N][D] on the GPU. */
  get data(): Tensor {
    if (!this.dataTensor) throw new DestroyedError('TrajectoryDataset');
    return this.dataTensor;
  }

  /** Frees the data on the GPU. Idempotent. */
  destroy(): void {
    this.dataTensor?.destroy();
    this.dataTensor = null;
  }
}

/** Labelled points x_n ∈ R^width with class labels 0 … classes−1, on the GPU. */
export class PointDataset {
  /** The runtime the data is on. */
  readonly runtime: Runtime;
  /** Values per point. */
  readonly width: number;
  /** Number of classes. */
  readonly classes: number;
  /** Number of points N. */
  readonly size: number;
  private dataTensor: Tensor | null;
  private labelTensor: Tensor | null;

  /**
   * @param x N·width coordinates, row-major
   * @param labels N class indices, integers in [0, classes)
   */
  constructor(runtime: Runtime, x: ArrayLike<number>, labels: ArrayLike<number>, options: { width: number; classes: number }) {
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { width, classes }');
    const width = checkInt('options.width', options.width, 1);
    const classes = checkInt('options.classes', options.classes, 1);
    const N = lengthOf(labels);
    if (N < 1) throw new ArgumentError('labels', labels, 'a non-empty array of class indices');
    if (lengthOf(x) !== N * width) throw new ArgumentError('x', x, `${N}·${width} = ${N * width} coordinates (one row per label)`);
    // Labels are stored as float32: exact for integers below 2^24.
    if (N >= 2 ** 24) throw new ArgumentError('labels', labels, 'fewer than 2^24 points');
    const lab = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      const v = labels[i];
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new ArgumentError(`labels[${i}]`, v, `an integer class index in [0, ${classes})`);
      }
      lab[i] = v;
    }
    const values = finiteFloat32('x', x, N * width);
    runtime.check();
    this.runtime = runtime;
    this.width = width;
    this.classes = classes;
    this.size = N;
    this.dataTensor = Tensor.fromArray(runtime, values, [N, width], 'point data');
    this.labelTensor = Tensor.fromArray(runtime, lab, [N], 'point labels');
  }

  /** The points [N][width] on the GPU. */
  get data(): Tensor {
    if (!this.dataTensor) throw new DestroyedError('PointDataset');
    return this.dataTensor;
  }

  /** The labels [N] on the GPU (class indices as float32). */
  get labels(): Tensor {
    if (!this.labelTensor) throw new DestroyedError('PointDataset');
    return this.labelTensor;
  }

  /** Frees the data on the GPU. Idempotent. */
  destroy(): void {
    this.dataTensor?.destroy();
    this.labelTensor?.destroy();
    this.dataTensor = null;
    this.labelTensor = null;
  }
}

/** What a sampler kernel needs besides its own tensors. */
interface DrawSpec {
  readonly entry: MinibatchEntry;
  readonly data: Tensor;
  readonly labels: GPUBuffer;
  readonly range: number;
  readonly length: number;
  readonly width: number;
  readonly dim: number;
}

/** The GPU side shared by both samplers: output tensors, uniform, bind group. */
abstract class GpuSampler implements Sampler {
  /** The runtime the batches are drawn on. */
  readonly runtime: Runtime;
  /** Samples per batch B. */
  readonly batchSize: number;
  /** Seed of the draws (a draw is a function of the seed and its number). */
  readonly seed: number;
  /** Draws made so far; the next draw has this number. */
  draws = 0;
  protected readonly y0: Tensor;
  protected readonly target: Tensor;
  protected readonly index: Tensor;
  private readonly uniform: GPUBuffer;
  private readonly sampler: BoundKernel<MinibatchEntry>;
  private readonly spec: DrawSpec;
  private destroyed = false;

  protected constructor(rt: Runtime, spec: DrawSpec, batch: number, seed: number, targetShape: readonly number[]) {
    checkWorkgroups(rt, 'options.batch', batch, minibatchWorkgroups(batch), 'a batch');
    this.runtime = rt;
    this.batchSize = batch;
    this.seed = seed;
    this.spec = spec;
    this.y0 = Tensor.zeros(rt, [batch, spec.dim], `${spec.entry} batch y0`);
    this.target = Tensor.zeros(rt, targetShape, `${spec.entry} batch target`);
    this.index = Tensor.zeros(rt, [batch], `${spec.entry} batch index`);
    this.uniform = rt.createBuffer(`${spec.entry} sampler params`, MINIBATCH_PARAMS.byteSize, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.sampler = rt.kernel(minibatchKernel, null).bind(
      { P: this.uniform, data: spec.data.buffer, labels: spec.labels, y0: this.y0.buffer, targets: this.target.buffer, index: this.index.buffer },
      `${spec.entry} sampler bind group`,
    );
  }

  protected abstract batch(): Batch;

  /**
   * Records the next draw into `pass` (no submit) and returns the batch it
   * fills. The draw number is written to the sampler's uniform now, so
   * submit before recording the next draw. The batch's tensors belong to the
   * sampler and are overwritten by the next draw.
   */
  record(pass: GPUComputePassEncoder): Batch {
    if (this.destroyed) throw new DestroyedError('sampler');
    const rt = this.runtime;
    rt.check();
    const s = this.spec;
    rt.device.queue.writeBuffer(
      this.uniform,
      0,
      MINIBATCH_PARAMS.pack({
        seed: this.seed,
        draw: this.draws,
        batch: this.batchSize,
        range: s.range,
        length: s.length,
        width: s.width,
        dim: s.dim,
      }),
    );
    this.sampler.dispatch(pass, s.entry, minibatchWorkgroups(this.batchSize));
    this.draws++;
    return this.batch();
  }

  /** Draws the next batch on the GPU (one submit, no host wait). */
  next(): Batch {
    const rt = this.runtime;
    if (this.destroyed) throw new DestroyedError('sampler');
    const encoder = rt.device.createCommandEncoder({ label: `sample ${this.spec.entry}` });
    const pass = encoder.beginComputePass({ label: `sample ${this.spec.entry}` });
    const batch = this.record(pass);
    pass.end();
    rt.submit([encoder.finish()]);
    return batch;
  }

  /** Starts the sequence of draws again (same seed: the same batches). */
  reset(): void {
    this.draws = 0;
  }

  /** Frees the batch tensors and the sampler's uniform (not the dataset). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.y0.destroy();
    this.target.destroy();
    this.index.destroy();
    this.runtime.destroyBuffer(this.uniform);
    this.onDestroy();
  }

  protected onDestroy(): void {}
}

/** Options of `new WindowSampler(dataset, options)`. */
export interface WindowSamplerOptions {
  /** Windows per batch B. */
  batch: number;
  /** Time points per window L (≥ 2): the solve's outputs. */
  length: number;
  /** Seed of the draws. Default 0. */
  seed?: number;
}

/**
 * Random windows of a trajectory: each sample starts at a random time point
 * s and spans L points. A batch has y0 = y[s] ([B][D]), the target
 * y[s … s+L−1] ([L][B][D], the layout of `sol.y`) and t = the first L times
 * of the grid: the windows share one time grid, as in torchdiffeq's
 * ode_demo, which assumes an autonomous vector field.
 */
export class WindowSampler extends GpuSampler {
  /** The trajectory the windows come from. */
  readonly dataset: TrajectoryDataset;
  /** Points per window L. */
  readonly length: number;
  private readonly times: Float64Array;

  constructor(dataset: TrajectoryDataset, options: WindowSamplerOptions) {
    if (!(dataset instanceof TrajectoryDataset)) throw new ArgumentError('dataset', dataset, 'a TrajectoryDataset');
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { batch, length, seed? }');
    const batch = checkInt('options.batch', options.batch, 1);
    const length = checkInt('options.length', options.length, 2);
    if (length > dataset.length) throw new ArgumentError('options.length', length, `at most the trajectory's ${dataset.length} points`);
    const seed = checkInt('options.seed', options.seed ?? 0, 0);
    const rt = dataset.runtime;
    rt.check();
    const labels = rt.createBuffer('window sampler unused labels', 16, GPUBufferUsage.STORAGE);
    const D = dataset.dim;
    super(
      rt,
      { entry: 'windows', data: dataset.data, labels, range: dataset.length - length + 1, length, width: D, dim: D },
      batch,
      seed >>> 0,
      [length, batch, D],
    );
    this.unusedLabels = labels;
    this.dataset = dataset;
    this.length = length;
    this.times = dataset.t.slice(0, length);
  }

  private readonly unusedLabels: GPUBuffer;

  protected batch(): Batch {
    return { y0: this.y0, target: this.target, t: this.times, index: this.index };
  }

  protected override onDestroy(): void {
    this.runtime.destroyBuffer(this.unusedLabels);
  }
}

/** Options of `new PointSampler(dataset, options)`. */
export interface PointSamplerOptions {
  /** Points per batch B. */
  batch: number;
  /**
   * State dimension D of the ODE block (≥ the points' width): the points are
   * padded with D − width zeros, an augmented Neural ODE (Dupont et al. 2019).
   * Default: the points' width.
   */
  stateDim?: number;
  /** Seed of the draws. Default 0. */
  seed?: number;
}

/** Random labelled points: y0 = [x, 0 … 0] ([B][D]) and target = the labels ([B]). */
export class PointSampler extends GpuSampler {
  /** The points drawn from. */
  readonly dataset: PointDataset;
  /** State dimension D of the padded points. */
  readonly stateDim: number;

  constructor(dataset: PointDataset, options: PointSamplerOptions) {
    if (!(dataset instanceof PointDataset)) throw new ArgumentError('dataset', dataset, 'a PointDataset');
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object { batch, stateDim?, seed? }');
    const batch = checkInt('options.batch', options.batch, 1);
    const stateDim = checkInt('options.stateDim', options.stateDim ?? dataset.width, dataset.width);
    const seed = checkInt('options.seed', options.seed ?? 0, 0);
    const rt = dataset.runtime;
    rt.check();
    super(
      rt,
      { entry: 'points', data: dataset.data, labels: dataset.labels.buffer, range: dataset.size, length: 1, width: dataset.width, dim: stateDim },
      batch,
      seed >>> 0,
      [batch],
    );
    this.dataset = dataset;
    this.stateDim = stateDim;
  }

  protected batch(): Batch {
    return { y0: this.y0, target: this.target, index: this.index };
  }
}
