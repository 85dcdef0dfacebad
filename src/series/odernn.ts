/**
 * The ODE-RNN encoder of Rubanova et al. (2019), "Latent ODEs for
 * irregularly-sampled time series": each series is read backwards from its
 * last observation; between two observation times the hidden state follows
 * dh/dt = f(h) (an MLP field solved by `odeint` on every sample's own times),
 * and at an observation a GRU update with input [x·m, m] (values and their
 * mask) is applied where any feature of the point is observed. At the first
 * observation a Linear gives [μ, log σ] of q(z0 | x).
 *
 * Gradients: backwards through the chain, BPTT of each GRU update
 * (`GRUCell.backward`) and the adjoint of each ODE segment
 * (`solution.backward`), with dL/dθ of each piece summed on the GPU.
 */
import { accumulateKernel, accumulateWorkgroups, ACCUMULATE_PARAMS } from '../kernels/accumulate';
import { ArgumentError, DestroyedError } from '../errors';
import { MLP } from '../field/mlp';
import type { Activation } from '../mlp/mlp';
import type { Runtime } from '../runtime/runtime';
import { Tensor } from '../runtime/tensor';
import { odeint } from '../solver/odeint';
import type { OdeintOptions } from '../solver/options';
import type { Solution } from '../solver/solution';
import type { BackwardOptions } from '../gradients/adjoint';
import { Linear } from '../train/linear';
import { UniformCache, checkInt, finiteFloat32, lengthOf } from '../train/common';
import { GRUCell, type RecurrentSequence } from './cells';

/** Options of `new OdeRnnEncoder(runtime, options)`. */
export interface OdeRnnOptions {
  /** Features per observation D. */
  inputSize: number;
  /** Hidden state width H (the ODE's state and the GRU's hidden size). */
  hiddenSize: number;
  /** Latent width L: the output is [μ (L), log σ (L)] per series. */
  latentSize: number;
  /** Hidden widths of the ODE field's MLP [H, …, H]. Default [2H]. */
  fieldHidden?: readonly number[];
  /** Activation of the field. Default 'tanh'. */
  activation?: Activation;
  /** Seed of the three modules' default initialisations. Default 0. */
  seed?: number;
}

/** A batch of irregular series. */
export interface OdeRnnInput {
  /** B rows of T strictly increasing times (each series' own observation grid). */
  times: readonly ArrayLike<number>[];
  /** Values [T][B][D]. */
  values: ArrayLike<number>;
  /** Mask [T][B][D] (1 observed, 0 missing) or [T][B] (per time point). Default all observed. */
  mask?: ArrayLike<number>;
  /** Options of every ODE segment's solve (and, for the backward, of its adjoint). Default dopri5, rtol 1e-6, atol 1e-7. */
  solver?: OdeintOptions;
}

interface Step {
  /** The ODE segment from the previous (later) observation; none for the last observation. */
  readonly sol: Solution | null;
  /** The state the GRU update starts from (the segment's end, or zeros). */
  readonly hOde: Tensor;
  readonly seq: RecurrentSequence;
}

/** An encoding: the output tensors and what the backward needs (free with `destroy()`). */
export class OdeRnnEncoding {
  /** [μ, log σ] per series, [B, 2L]. */
  readonly output: Tensor;
  /** The hidden state at each series' first observation, [B, H]. */
  readonly hidden: Tensor;
  /** Series B. */
  readonly batch: number;
  /** Host waits of the encoding (one per ODE segment's solve). */
  readonly hostWaits: number;
  /** @internal Steps in the order they ran (last observation first). */
  readonly steps: readonly Step[];
  /** @internal */
  readonly backwardOptions: BackwardOptions;
  private readonly owned: Tensor[];
  private alive = true;

  /** @internal */
  constructor(
    /** The encoder that made it. */
    readonly encoder: OdeRnnEncoder,
    parts: { output: Tensor; hidden: Tensor; batch: number; hostWaits: number; steps: Step[]; owned: Tensor[]; backwardOptions: BackwardOptions },
  ) {
    this.output = parts.output;
    this.hidden = parts.hidden;
    this.batch = parts.batch;
    this.hostWaits = parts.hostWaits;
    this.steps = parts.steps;
    this.owned = parts.owned;
    this.backwardOptions = parts.backwardOptions;
  }

  /** @internal */
  check(): void {
    if (!this.alive) throw new DestroyedError('OdeRnnEncoding');
  }

  /** True after `destroy()`. */
  get isDestroyed(): boolean {
    return !this.alive;
  }

  /** Frees the outputs and every segment's solution and state. Idempotent. */
  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    this.output.destroy();
    for (const s of this.steps) {
      s.seq.destroy();
      s.sol?.destroy();
    }
    for (const t of this.owned) t.destroy();
  }
}

/** dL/dθ of the encoder's three modules (new tensors; free them with `destroy()`). */
export interface OdeRnnGradients {
  /** dL/dθ of the ODE field (MLP order). */
  readonly field: Tensor;
  /** dL/dθ of the GRU (PyTorch GRUCell order). */
  readonly cell: Tensor;
  /** dL/dθ of the readout (weight [2L][H], bias [2L]). */
  readonly readout: Tensor;
  /** Host waits of the backward (one per segment's adjoint solve). */
  readonly hostWaits: number;
  /** Frees the three tensors. */
  destroy(): void;
}

const DEFAULT_SOLVER: OdeintOptions = { method: 'dopri5', rtol: 1e-6, atol: 1e-7 };

/** The ODE-RNN encoder: an MLP field, a GRUCell over [x, mask] and a Linear to [μ, log σ]. */
export class OdeRnnEncoder {
  /** The runtime of the three modules. */
  readonly runtime: Runtime;
  /** The ODE field f(h), an MLP [H, …fieldHidden, H]. */
  readonly field: MLP;
  /** The GRU update, input [x·m, m] (2D), hidden H. */
  readonly cell: GRUCell;
  /** The readout H → 2L: [μ, log σ]. */
  readonly readout: Linear;
  /** Features per observation D. */
  readonly inputSize: number;
  /** Hidden width H. */
  readonly hiddenSize: number;
  /** Latent width L. */
  readonly latentSize: number;
  private readonly uniforms: UniformCache;

  constructor(runtime: Runtime, options: OdeRnnOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ArgumentError('options', options, 'an object { inputSize, hiddenSize, latentSize, fieldHidden?, activation?, seed? }');
    }
    const D = checkInt('inputSize', options.inputSize, 1);
    const H = checkInt('hiddenSize', options.hiddenSize, 1);
    const L = checkInt('latentSize', options.latentSize, 1);
    const seed = options.seed ?? 0;
    const hidden = options.fieldHidden ?? [2 * H];
    if (!Array.isArray(hidden)) throw new ArgumentError('fieldHidden', hidden, 'an array of hidden widths');
    this.runtime = runtime;
    this.inputSize = D;
    this.hiddenSize = H;
    this.latentSize = L;
    const made: { destroy(): void }[] = [];
    try {
      this.field = new MLP(runtime, { layers: [H, ...hidden, H], activation: options.activation ?? 'tanh', seed });
      made.push(this.field);
      this.cell = new GRUCell(runtime, { inputSize: 2 * D, hiddenSize: H, seed: seed + 1 });
      made.push(this.cell);
      this.readout = new Linear(runtime, { inFeatures: H, outFeatures: 2 * L, seed: seed + 2 });
      made.push(this.readout);
    } catch (e) {
      for (const m of made) m.destroy();
      throw e;
    }
    this.uniforms = new UniformCache(runtime, 'ode-rnn');
  }

  /**
   * Encodes a batch of series: [μ, log σ] per series. Every ODE segment is
   * one `odeint` (one host wait each); the GRU updates and the readout only
   * submit.
   */
  async encode(input: OdeRnnInput): Promise<OdeRnnEncoding> {
    const rt = this.runtime;
    rt.check();
    if (this.cell.isDestroyed) throw new DestroyedError('OdeRnnEncoder');
    if (typeof input !== 'object' || input === null) throw new ArgumentError('input', input, 'an object { times, values, mask?, solver? }');
    const { times } = input;
    if (!Array.isArray(times) || times.length < 1) throw new ArgumentError('times', times, 'B ≥ 1 rows of T times');
    const B = times.length;
    const T = lengthOf(times[0]);
    if (T < 1) throw new ArgumentError('times[0]', times[0], 'T ≥ 1 times');
    const rows = times.map((r, b) => {
      const row = finiteFloat32(`times[${b}]`, r, T);
      for (let i = 1; i < T; i++) {
        if (!(row[i] > row[i - 1])) throw new ArgumentError(`times[${b}][${i}]`, row[i], `a time after times[${b}][${i - 1}] = ${row[i - 1]} (rows strictly increasing)`);
      }
      return row;
    });
    const D = this.inputSize;
    const H = this.hiddenSize;
    const values = finiteFloat32('values', input.values, T * B * D);
    const maskLength = lengthOf(input.mask);
    let mask: Float32Array;
    if (input.mask === undefined) mask = new Float32Array(T * B * D).fill(1);
    else if (maskLength === T * B * D) mask = finiteFloat32('mask', input.mask, T * B * D);
    else if (maskLength === T * B) {
      const m = finiteFloat32('mask', input.mask, T * B);
      mask = new Float32Array(T * B * D);
      for (let k = 0; k < T * B; k++) mask.fill(m[k], k * D, (k + 1) * D);
    } else throw new ArgumentError('mask', input.mask, `${T * B * D} values [T][B][D] or ${T * B} values [T][B]`);
    const bad = mask.findIndex((m) => m !== 0 && m !== 1);
    if (bad >= 0) throw new ArgumentError(`mask[${bad}]`, mask[bad], '0 or 1');
    const solver = { ...DEFAULT_SOLVER, ...(input.solver ?? {}) };
    const backwardOptions: BackwardOptions = { rtol: solver.rtol, atol: solver.atol, method: solver.method };

    const waits0 = rt.counters.hostWaits;
    const owned: Tensor[] = [];
    const steps: Step[] = [];
    try {
      let h = Tensor.zeros(rt, [B, H], 'ode-rnn initial state');
      owned.push(h);
      for (let i = T - 1; i >= 0; i--) {
        let sol: Solution | null = null;
        let hOde = h;
        if (i < T - 1) {
          sol = await odeint(this.field, h, rows.map((r) => [r[i + 1], r[i]]), solver);
          hOde = Tensor.zeros(rt, [B, H], 'ode-rnn segment end');
          owned.push(hOde);
          const encoder = rt.device.createCommandEncoder({ label: 'ode-rnn segment end' });
          encoder.copyBufferToBuffer(sol.y.buffer, B * H * 4, hOde.buffer, 0, B * H * 4);
          rt.submit([encoder.finish()]);
        }
        // GRU input [x·m, m] and the point's sample mask (any feature observed).
        const x = new Float32Array(B * 2 * D);
        const any = new Float32Array(B);
        for (let b = 0; b < B; b++) {
          for (let d = 0; d < D; d++) {
            const m = mask[(i * B + b) * D + d];
            x[b * 2 * D + d] = values[(i * B + b) * D + d] * m;
            x[b * 2 * D + D + d] = m;
            if (m > 0) any[b] = 1;
          }
        }
        const seq = this.cell.forward({ x, steps: 1, batch: B, h0: hOde, mask: any });
        steps.push({ sol, hOde, seq });
        h = seq.hidden;
      }
      const output = this.readout.forward(h);
      return new OdeRnnEncoding(this, { output, hidden: h, batch: B, hostWaits: rt.counters.hostWaits - waits0, steps, owned, backwardOptions });
    } catch (e) {
      for (const s of steps) {
        s.seq.destroy();
        s.sol?.destroy();
      }
      for (const t of owned) t.destroy();
      throw e;
    }
  }

  /**
   * Gradients of a loss through an encoding from dL/d[μ, log σ] ([B][2L]
   * values or a tensor): dL/dθ of the field, the GRU and the readout. One
   * host wait per ODE segment (its adjoint solve).
   */
  async backward(enc: OdeRnnEncoding, gradOutput: Tensor | ArrayLike<number>): Promise<OdeRnnGradients> {
    const rt = this.runtime;
    rt.check();
    if (!(enc instanceof OdeRnnEncoding) || enc.encoder !== this) throw new ArgumentError('enc', enc, "an OdeRnnEncoding from this encoder's encode");
    enc.check();
    const B = enc.batch;
    const H = this.hiddenSize;
    const n = B * 2 * this.latentSize;
    let gOut: Tensor;
    const temp: Tensor[] = [];
    if (gradOutput instanceof Tensor) {
      gradOutput.checkUsableOn(rt, 'gradOutput');
      if (gradOutput.size !== n) throw new ArgumentError('gradOutput', gradOutput, `a tensor of ${n} values [B][2L]`);
      gOut = gradOutput;
    } else {
      gOut = Tensor.fromArray(rt, finiteFloat32('gradOutput', gradOutput, n), [B, 2 * this.latentSize], 'ode-rnn dL/dout');
      temp.push(gOut);
    }
    const waits0 = rt.counters.hostWaits;
    const field = Tensor.zeros(rt, [this.field.parameterCount], 'ode-rnn field dL/dθ');
    const cell = Tensor.zeros(rt, [this.cell.parameterCount], 'ode-rnn cell dL/dθ');
    const readout = Tensor.zeros(rt, [this.readout.parameterCount], 'ode-rnn readout dL/dθ');
    const result = [field, cell, readout];
    try {
      let gh = Tensor.zeros(rt, [B, H], 'ode-rnn dL/dh');
      temp.push(gh);
      {
        const encoder = rt.device.createCommandEncoder({ label: 'ode-rnn readout backward' });
        const pass = encoder.beginComputePass({ label: 'ode-rnn readout backward' });
        this.readout.recordBackward(pass, { x: enc.hidden, batch: B, gy: gOut, gx: gh, gtheta: readout });
        pass.end();
        rt.submit([encoder.finish()]);
      }
      for (let k = enc.steps.length - 1; k >= 0; k--) {
        const step = enc.steps[k];
        const g = this.cell.backward(step.seq, { gradLast: gh });
        this.accumulate(g.params, cell);
        if (step.sol) {
          const dLdy = Tensor.zeros(rt, [2, B, H], 'ode-rnn segment cotangent');
          temp.push(dLdy);
          const encoder = rt.device.createCommandEncoder({ label: 'ode-rnn segment cotangent' });
          encoder.copyBufferToBuffer(g.h0.buffer, 0, dLdy.buffer, B * H * 4, B * H * 4);
          rt.submit([encoder.finish()]);
          g.destroy();
          const gs = await step.sol.backward(dLdy, enc.backwardOptions);
          this.accumulate(gs.params, field);
          gh = gs.y0;
          temp.push(gs.y0);
          gs.params.destroy();
          gs.t.destroy();
        } else {
          g.destroy();
        }
      }
      return {
        field,
        cell,
        readout,
        hostWaits: rt.counters.hostWaits - waits0,
        destroy() {
          for (const t of result) t.destroy();
        },
      };
    } catch (e) {
      for (const t of result) t.destroy();
      throw e;
    } finally {
      for (const t of temp) t.destroy();
    }
  }

  /** Records and submits acc += x on the GPU. */
  private accumulate(x: Tensor, acc: Tensor): void {
    const rt = this.runtime;
    const encoder = rt.device.createCommandEncoder({ label: 'ode-rnn accumulate' });
    const pass = encoder.beginComputePass({ label: 'ode-rnn accumulate' });
    rt.kernel(accumulateKernel, null)
      .bind({ P: this.uniforms.get(ACCUMULATE_PARAMS.pack({ n: acc.size })), x: x.buffer, acc: acc.buffer }, 'ode-rnn accumulate bind group')
      .dispatch(pass, 'accumulate', accumulateWorkgroups(acc.size));
    pass.end();
    rt.submit([encoder.finish()]);
  }

  /** Frees the three modules. Idempotent. */
  destroy(): void {
    this.field.destroy();
    this.cell.destroy();
    this.readout.destroy();
    this.uniforms.destroy();
  }
}
