/**
 * The per-layer plan of an MLP, computed once from its spec and read by every
 * emitter (the scalar MLP and VJP, the vec4-lane forward and VJP, the
 * workgroup VJP): each Linear layer's widths and θ offsets, how its inputs
 * and outputs are written out (constant indices or a loop), which vectors the
 * sweeps keep, and the floats of private (or workgroup) memory each form of
 * the MLP declares, from one count of its vectors.
 *
 * Parameter layout (PyTorch `nn.Linear`, layer by layer): weight [out, in]
 * row-major, then bias [out].
 */
import { type Activation, gradFromOutput } from './activations';

/** The compile-time description of an MLP. */
export interface MlpSpec {
  /** Widths of the Linear layers: [input, hidden…, output]; input = output (+1 with timeInput). */
  readonly layers: readonly number[];
  readonly activation: Activation;
  readonly timeInput: boolean;
}

/** Offsets of one Linear layer in the flat parameter vector. */
export interface LinearOffsets {
  readonly inWidth: number;
  readonly outWidth: number;
  readonly weight: number;
  readonly bias: number;
}

/** Offsets of every layer, and the total parameter count. */
export function mlpOffsets(layers: readonly number[]): { layers: LinearOffsets[]; count: number } {
  const out: LinearOffsets[] = [];
  let off = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const inWidth = layers[l];
    const outWidth = layers[l + 1];
    out.push({ inWidth, outWidth, weight: off, bias: off + inWidth * outWidth });
    off += inWidth * outWidth + outWidth;
  }
  return { layers: out, count: off };
}

/** WGSL's limit on the function-scope variables of one function (8,192 bytes), in floats. */
export const WGSL_FUNCTION_FLOATS = 2048;

/**
 * Inputs up to this width are summed with constant indices (unrolled) by the
 * one-sample forward: a private-array read with a loop index becomes a gather
 * on SIMD implementations (SwiftShader runs invocations as vector lanes),
 * which costs more than the FMA itself; wider inputs keep the loop (long
 * unrolled bodies compile slowly and help less).
 */
export const UNROLL_MAX_WIDTH = 64;

/**
 * Layers with at most this many outputs (the last layer of a model with a
 * small state) are written out output by output in the lane VJP rather than
 * looped over: every θ index is then a constant, and the backward sweep gives
 * each input its cotangent in one statement (σ' applied in it) instead of
 * accumulating it in memory across the outputs. Wider layers keep their loop
 * (written out, a 50-output layer made the kernel slower on SwiftShader, not
 * faster).
 */
export const LANES_UNROLL_OUTPUTS = 4;

/** One Linear layer as every emitter sees it. */
export interface LayerPlan extends LinearOffsets {
  /** Position in the network (0 reads the state). */
  readonly index: number;
  /** The output layer: no activation, writes f. */
  readonly last: boolean;
  /**
   * Inputs read from a vector (the state or the layer before); with the time
   * input, layer 0's last input is t, a value of its own.
   */
  readonly vectorInputs: number;
  /** The one-sample forward sums the inputs with constant indices (`UNROLL_MAX_WIDTH`). */
  readonly unrolledInputs: boolean;
  /** The lane VJP writes the outputs out one by one instead of looping (`LANES_UNROLL_OUTPUTS`). */
  readonly writtenOut: boolean;
  /** A forward evaluation streams the output layer into this layer's loop (the last hidden layer). */
  readonly streamsOutput: boolean;
}

/** The plan of an MLP (see the file header). */
export interface MlpPlan {
  readonly spec: MlpSpec;
  /** State dimension (the output width). */
  readonly D: number;
  /** Parameter count P. */
  readonly params: number;
  readonly layers: readonly LayerPlan[];
  /** The forward evaluations loop over the layers up to here (exclusive): the output layer is streamed when there is a hidden one. */
  readonly forwardLayers: number;
  /**
   * The lane and workgroup VJPs keep each hidden layer's pre-activations u:
   * σ' needs them (it is not written from the output alone).
   */
  readonly keepPreActivations: boolean;
  /** Units of all hidden layers. */
  readonly hiddenUnits: number;
}

/** The plan of an MLP spec. */
export function mlpPlan(spec: MlpSpec): MlpPlan {
  const { layers: offsets, count } = mlpOffsets(spec.layers);
  const L = offsets.length;
  const stream = L >= 2;
  const layers = offsets.map((o, l): LayerPlan => {
    const vectorInputs = l === 0 && spec.timeInput ? o.inWidth - 1 : o.inWidth;
    return {
      ...o,
      index: l,
      last: l === L - 1,
      vectorInputs,
      unrolledInputs: vectorInputs <= UNROLL_MAX_WIDTH,
      writtenOut: o.outWidth <= LANES_UNROLL_OUTPUTS,
      streamsOutput: stream && l === L - 2,
    };
  });
  return {
    spec,
    D: spec.layers[spec.layers.length - 1],
    params: count,
    layers,
    forwardLayers: stream ? L - 1 : L,
    keepPreActivations: !gradFromOutput(spec.activation),
    hiddenUnits: spec.layers.slice(1, -1).reduce((s, w) => s + w, 0),
  };
}

/** The forms of the VJP, by where their vectors live. */
export type VjpForm = 'scalar' | 'lanes' | 'workgroup';

/**
 * Floats of the vectors one VJP sweep of an MLP keeps, and where:
 *  - every form: the input x_0, each hidden layer's outputs x and cotangents
 *    d (and pre-activations u where kept), the output cotangent d_{L−1};
 *  - 'scalar' (`mlp_vjp`, private arrays of one sample) keeps u for every
 *    activation;
 *  - 'lanes' (`vjp4`, private vec4 arrays, four samples) adds the input
 *    gradient's D accumulators;
 *  - 'workgroup' (`wg_vjp`, workgroup memory, one sample) adds f and the
 *    input gradient.
 */
export function vjpFloats(plan: MlpPlan, form: VjpForm): number {
  const keepU = form === 'scalar' || plan.keepPreActivations;
  const sweep = plan.layers[0].inWidth + (keepU ? 3 : 2) * plan.hiddenUnits + plan.D;
  switch (form) {
    case 'scalar':
      return sweep;
    case 'lanes':
      return 4 * (sweep + plan.D);
    case 'workgroup':
      return sweep + 2 * plan.D;
  }
}

/**
 * Floats of function-scope variables the K-lane forward evaluation declares:
 * per lane, the state, the outputs of every hidden layer that is not
 * streamed, the output and one accumulator.
 */
export function forwardLaneFloats(plan: MlpPlan, lanes: number): number {
  const stored = plan.layers.filter((L) => !L.last && !L.streamsOutput).reduce((s, L) => s + L.outWidth, 0);
  return lanes * (2 * plan.D + stored + 1);
}
