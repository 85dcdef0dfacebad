/**
 * The parts of a training checkpoint any trainer shares: the optimizer
 * (options with the current learning rate, step count, momentum or Adam
 * moments), the mini-batch sampler's random stream (its seed and the number
 * of draws made: a draw is a pure function of both), and the ledger of
 * iterations and losses. Each has a plain JSON form, checked field by field
 * when read back (a `ModelFormatError` names the JSON path at fault), and a
 * restore that rebuilds the object on any runtime so the next iteration is
 * the one an uninterrupted run would have taken, bit for bit.
 *
 * `Trainer.checkpoint` / `Trainer.resume` put these together with the model;
 * other trainers do the same with their own model part.
 */
import { ArgumentError } from '../errors';
import type { Tensor } from '../runtime/tensor';
import { PointDataset, PointSampler, type Sampler, TrajectoryDataset, WindowSampler } from './data';
import { Adam, type AdamOptions, type Optimizer, SGD, type SGDOptions } from './optim';
import { fail, integer, numbers, record } from './serialize';

/** The `format` of a training checkpoint. */
export const CHECKPOINT_FORMAT = 'webode-checkpoint';
/** The checkpoint format version this webode writes (and the newest it reads). */
export const CHECKPOINT_VERSION = 1;

/** An optimizer in a checkpoint. */
export interface OptimizerCheckpoint {
  /** Which optimizer. */
  kind: 'sgd' | 'adam';
  /** The constructor's options, `lr` as it was at the checkpoint. */
  options: SGDOptions | AdamOptions;
  /** Steps taken (Adam's bias correction and SGD's first momentum step depend on it). */
  steps: number;
  /** The state, tensor by tensor: SGD's momentum buffer, or Adam's first then second moments; none for plain SGD. */
  state: number[][];
}

/** A mini-batch sampler in a checkpoint: its options and the draws made (the next draw's number). */
export type SamplerCheckpoint = WindowSamplerCheckpoint | PointSamplerCheckpoint;

/** A `WindowSampler` in a checkpoint. */
export interface WindowSamplerCheckpoint {
  /** Random windows of a trajectory. */
  kind: 'windows';
  /** Windows per batch. */
  batch: number;
  /** Points per window. */
  length: number;
  /** Seed of the draws. */
  seed: number;
  /** Draws made: the next draw's number. */
  draws: number;
}

/** A `PointSampler` in a checkpoint. */
export interface PointSamplerCheckpoint {
  /** Random labelled points. */
  kind: 'points';
  /** Points per batch. */
  batch: number;
  /** State dimension of the padded points. */
  stateDim: number;
  /** Seed of the draws. */
  seed: number;
  /** Draws made: the next draw's number. */
  draws: number;
}

/** The iterations done and the loss of each (null where it was not kept or not finite). */
export interface LedgerCheckpoint {
  /** Iterations done. */
  iteration: number;
  /** The iteration of `losses[0]` (1 for the first). */
  first: number;
  /** The losses of iterations first, first + 1, … */
  losses: (number | null)[];
}

/** What a trainer reads from the GPU for an optimizer's checkpoint, in order (one wait for all). */
export function optimizerSources(opt: Optimizer): { buffer: GPUBuffer; bytes: number }[] {
  return opt.stateSources;
}

/** The checkpoint of `opt` from the bytes of `optimizerSources(opt)`, in the same order. */
export function optimizerCheckpoint(opt: Optimizer, data: readonly ArrayBuffer[]): OptimizerCheckpoint {
  return { kind: opt.kind, options: opt.options, steps: opt.steps, state: data.map((d) => Array.from(new Float32Array(d))) };
}

/**
 * A new optimizer over `params` in the checkpoint's state. Everything is
 * checked (sizes against `params`) before the optimizer is created.
 */
export function restoreOptimizer(params: readonly Tensor[], json: unknown, path = 'checkpoint.optimizer'): Optimizer {
  const o = record(json, path);
  const kind = o.kind;
  if (kind !== 'sgd' && kind !== 'adam') fail(`${path}.kind`, kind, "'sgd' or 'adam'");
  const options = record(o.options, `${path}.options`);
  const steps = integer(o.steps, `${path}.steps`, 0);
  if (!Array.isArray(o.state)) fail(`${path}.state`, o.state, 'an array of state arrays');
  const perTensor = kind === 'adam' ? 2 : options.momentum ? 1 : 0;
  const want = params.length * perTensor;
  if (o.state.length !== want) fail(`${path}.state`, `${o.state.length} arrays`, `${want} arrays (${perTensor} per parameter tensor)`);
  const state = o.state.map((v: unknown, k: number) => {
    const p = params[Math.floor(k / Math.max(perTensor, 1))];
    return numbers(v, `${path}.state[${k}]`, p.size, `the size of parameter tensor '${p.label}'`);
  });
  let opt: Optimizer;
  try {
    opt = kind === 'adam' ? new Adam(params, options as AdamOptions) : new SGD(params, options as unknown as SGDOptions);
  } catch (e) {
    if (e instanceof ArgumentError) fail(`${path}.${e.argument}`, e.received, e.expected);
    throw e;
  }
  opt.loadState(state, steps);
  return opt;
}

/** The checkpoint of a sampler (a `WindowSampler` or a `PointSampler`). */
export function samplerCheckpoint(sampler: Sampler): SamplerCheckpoint {
  if (sampler instanceof WindowSampler) {
    return { kind: 'windows', batch: sampler.batchSize, length: sampler.length, seed: sampler.seed, draws: sampler.draws };
  }
  if (sampler instanceof PointSampler) {
    return { kind: 'points', batch: sampler.batchSize, stateDim: sampler.stateDim, seed: sampler.seed, draws: sampler.draws };
  }
  throw new ArgumentError('sampler', sampler, 'a WindowSampler or a PointSampler (whose random stream a checkpoint can hold)');
}

/** A new sampler over `dataset` whose next draw is the checkpoint's next draw. */
export function restoreSampler(dataset: TrajectoryDataset | PointDataset, json: unknown, path = 'checkpoint.sampler'): WindowSampler | PointSampler {
  const s = record(json, path);
  const batch = integer(s.batch, `${path}.batch`, 1);
  const seed = integer(s.seed, `${path}.seed`, 0);
  const draws = integer(s.draws, `${path}.draws`, 0);
  let out: WindowSampler | PointSampler;
  if (s.kind === 'windows') {
    if (!(dataset instanceof TrajectoryDataset)) throw new ArgumentError('options.dataset', dataset, 'the TrajectoryDataset the windows were drawn from');
    out = new WindowSampler(dataset, { batch, length: integer(s.length, `${path}.length`, 2), seed });
  } else if (s.kind === 'points') {
    if (!(dataset instanceof PointDataset)) throw new ArgumentError('options.dataset', dataset, 'the PointDataset the points were drawn from');
    out = new PointSampler(dataset, { batch, stateDim: integer(s.stateDim, `${path}.stateDim`, 1), seed });
  } else {
    return fail(`${path}.kind`, s.kind, "'windows' or 'points'");
  }
  out.draws = draws;
  return out;
}

/**
 * Iterations done and their losses, kept on the host from the trainer's GPU
 * loss ring at each checkpoint; losses older than the ring that were not
 * collected in time are null.
 */
export class TrainingLedger {
  /** The iteration of `losses[0]`. */
  first = 1;
  readonly losses: (number | null)[] = [];

  /** The last iteration whose loss is recorded (first − 1 when none). */
  get recorded(): number {
    return this.first - 1 + this.losses.length;
  }

  /** Records the losses of iterations `from`, from + 1, …; iterations skipped since `recorded` get null. */
  append(from: number, values: ArrayLike<number>): void {
    while (this.recorded < from - 1) this.losses.push(null);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      this.losses.push(Number.isFinite(v) ? v : null);
    }
  }

  toJSON(iteration: number): LedgerCheckpoint {
    return { iteration, first: this.first, losses: [...this.losses] };
  }

  /** A ledger from its checkpoint (checked). */
  static from(json: unknown, path = 'checkpoint.ledger'): { ledger: TrainingLedger; iteration: number } {
    const l = record(json, path);
    const iteration = integer(l.iteration, `${path}.iteration`, 0);
    const first = integer(l.first, `${path}.first`, 1);
    if (!Array.isArray(l.losses)) fail(`${path}.losses`, l.losses, 'an array of losses');
    if (first - 1 + l.losses.length > iteration) fail(`${path}.losses`, `${l.losses.length} losses from ${first}`, `losses up to iteration ${iteration}`);
    const ledger = new TrainingLedger();
    ledger.first = first;
    l.losses.forEach((v: unknown, i: number) => {
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) fail(`${path}.losses[${i}]`, v, 'a finite number or null');
      ledger.losses.push(v);
    });
    return { ledger, iteration };
  }
}
