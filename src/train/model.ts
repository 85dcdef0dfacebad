/**
 * `NeuralODE`: the model a `Trainer` trains — an ODE block (an `MLP` vector
 * field integrated by `odeint`) and, for classification, a `Linear` readout
 * of the final state. It holds the solver options used for training and
 * prediction, and the integration times used when a batch brings none.
 */
import type { BackwardOptions } from '../gradients/adjoint';
import { ArgumentError, DestroyedError } from '../errors';
import { MLP } from '../field/mlp';
import { odeint } from '../solver/odeint';
import { type OdeintOptions, validateTimes } from '../solver/options';
import type { Solution } from '../solver/solution';
import { Tensor } from '../runtime/tensor';
import { checkInt, finiteFloat32, lengthOf } from './common';
import { Linear } from './linear';

/** Options of `new NeuralODE(f, options)`. */
export interface NeuralODEOptions {
  /** A readout after the ODE block (its inFeatures must be the state dimension). */
  readout?: Linear | null;
  /** Integration times for batches without their own (classification). Default [0, 1]. */
  t?: ArrayLike<number>;
  /** Options of the forward solves. Default: dopri5, rtol 1e-6, atol 1e-7 (odeint's defaults). */
  solver?: OdeintOptions;
  /** Options of the adjoint solves. Default: those of the forward solve. */
  backward?: BackwardOptions;
  /**
   * Width of the data points (≤ the state dimension); `predict` pads points
   * with zeros up to the state dimension (an augmented Neural ODE). Default:
   * the state dimension.
   */
  inputDim?: number;
}

/** The result of `NeuralODE.predict`. */
export interface Prediction {
  /** [B][outFeatures] readout outputs, or [B][D] final states without a readout. */
  readonly output: Tensor;
  /** The solve behind it (trajectories in `solution.y`, statistics in `solution.summary`). */
  readonly solution: Solution;
  /** Frees both. */
  destroy(): void;
}

/** An ODE block with an optional linear readout. */
export class NeuralODE {
  /** The vector field (the ODE block). */
  readonly f: MLP;
  /** The Linear readout after the ODE block, or null. */
  readonly readout: Linear | null;
  /** Width of the points `predict` takes (zero-padded to the state dimension). */
  readonly inputDim: number;
  /** Forward solver options (mutable: a demo may change the method or tolerance between steps). */
  solver: OdeintOptions;
  /** Adjoint solver options (mutable). */
  backward: BackwardOptions;
  private times: Float64Array;

  constructor(f: MLP, options: NeuralODEOptions = {}) {
    if (!(f instanceof MLP)) throw new ArgumentError('f', f, 'an MLP');
    if (f.isDestroyed) throw new DestroyedError('MLP');
    if (typeof options !== 'object' || options === null) throw new ArgumentError('options', options, 'an object');
    const readout = options.readout ?? null;
    if (readout !== null) {
      if (!(readout instanceof Linear)) throw new ArgumentError('options.readout', readout, 'a Linear layer');
      if (readout.runtime !== f.runtime) throw new ArgumentError('options.readout', readout, 'a layer on the runtime of f');
      if (readout.inFeatures !== f.stateDim) {
        throw new ArgumentError(
          'options.readout',
          `Linear(${readout.inFeatures} → ${readout.outFeatures})`,
          `a Linear with inFeatures = ${f.stateDim} (the state dimension)`,
        );
      }
    }
    this.inputDim = checkInt('options.inputDim', options.inputDim ?? f.stateDim, 1);
    if (this.inputDim > f.stateDim) {
      throw new ArgumentError('options.inputDim', this.inputDim, `at most the state dimension ${f.stateDim}`);
    }
    this.f = f;
    this.readout = readout;
    this.times = validateTimes(options.t ?? [0, 1]);
    this.solver = { ...(options.solver ?? {}) };
    this.backward = { ...(options.backward ?? {}) };
  }

  /** The runtime of the vector field. */
  get runtime() {
    return this.f.runtime;
  }

  /** State dimension D of the ODE block. */
  get stateDim(): number {
    return this.f.stateDim;
  }

  /** Integration times used when a batch has none. */
  get t(): Float64Array {
    return this.times;
  }
  /** Sets the integration times (checked: finite, strictly monotonic). */
  set t(value: ArrayLike<number>) {
    this.times = validateTimes(value);
  }

  /** The trainable tensors, in a fixed order: the vector field's, then the readout's. */
  get parameters(): Tensor[] {
    return this.readout ? [this.f.params, this.readout.params] : [this.f.params];
  }

  /** Parameters in total. */
  get parameterCount(): number {
    return this.f.parameterCount + (this.readout?.parameterCount ?? 0);
  }

  /** `odeint(f, y0, t ?? this.t, this.solver)`. */
  solve(y0: Tensor | ArrayLike<number>, t?: ArrayLike<number>): Promise<Solution> {
    return odeint(this.f, y0, t ?? this.times, this.solver);
  }

  /**
   * Runs the model on points: x holds B rows of `inputDim` values (padded
   * with zeros to the state dimension) or is a [B][D] tensor of initial
   * states. Returns the readout's outputs (or the final states) on the GPU.
   */
  async predict(x: Tensor | ArrayLike<number>, t?: ArrayLike<number>): Promise<Prediction> {
    const rt = this.runtime;
    const D = this.stateDim;
    let y0: Tensor;
    if (x instanceof Tensor) {
      if (x.size === 0 || x.size % D !== 0) throw new ArgumentError('x', x, `a tensor of B×${D} initial states`);
      y0 = x;
    } else {
      const n = lengthOf(x);
      const W = this.inputDim;
      if (n <= 0 || n % W !== 0) throw new ArgumentError('x', x, `a non-empty array of points with ${W} values each`);
      const src = finiteFloat32('x', x, n);
      const B = n / W;
      const padded = new Float32Array(B * D);
      for (let b = 0; b < B; b++) padded.set(src.subarray(b * W, (b + 1) * W), b * D);
      y0 = Tensor.fromArray(rt, padded, [B, D], 'predict y0');
    }
    try {
      const solution = await this.solve(y0, t);
      const B = solution.batch;
      const T = solution.t.length;
      let output: Tensor;
      if (this.readout) {
        output = Tensor.zeros(rt, [B, this.readout.outFeatures], 'predict output');
        const encoder = rt.device.createCommandEncoder({ label: 'predict readout' });
        const pass = encoder.beginComputePass({ label: 'predict readout' });
        this.readout.recordForward(pass, { x: solution.y, xOffset: (T - 1) * B * D, batch: B, y: output });
        pass.end();
        rt.submit([encoder.finish()]);
      } else {
        output = Tensor.zeros(rt, [B, D], 'predict output');
        const encoder = rt.device.createCommandEncoder({ label: 'predict final state' });
        encoder.copyBufferToBuffer(solution.y.buffer, (T - 1) * B * D * 4, output.buffer, 0, B * D * 4);
        rt.submit([encoder.finish()]);
      }
      return {
        output,
        solution,
        destroy() {
          output.destroy();
          solution.destroy();
        },
      };
    } finally {
      if (y0 !== x) y0.destroy();
    }
  }

  /** Frees the vector field and the readout. */
  destroy(): void {
    this.f.destroy();
    this.readout?.destroy();
  }
}
