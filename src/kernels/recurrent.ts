/**
 * The recurrent-cell kernels: recurrent.wgsl (the forward over a sequence
 * and backpropagation through time, one workgroup per sample with the time
 * loop inside) and recurrent-params.wgsl (dL/dθ from the gate cotangents the
 * backward leaves behind). Two definitions because one shared bind group
 * would need nine storage buffers per stage, one more than WebGPU's default
 * limit of eight. The compile-time spec is the cell kind and the two widths;
 * batch, steps and which optional inputs exist are uniforms.
 *
 * Parameter layout (PyTorch's GRUCell / RNNCell, `named_parameters()` order):
 * weight_ih [G·H][I], weight_hh [G·H][H], bias_ih [G·H], bias_hh [G·H], with
 * G = 3 gate blocks (r, z, n) for the GRU and 1 for the RNN.
 */
import recurrentSource from './recurrent.wgsl?raw';
import recurrentParamsSource from './recurrent-params.wgsl?raw';
import { StructLayout, fillTemplate } from '../wgsl/layout';
import { defineKernel, storage, uniform } from '../wgsl/kernel';

/** The cells there are kernels for. */
export type CellKind = 'gru' | 'rnn';

/** The compile-time spec of a recurrent cell. */
export interface RecurrentSpec {
  /** The cell: `'gru'` (3 gate blocks r, z, n) or `'rnn'` (tanh, one block). */
  readonly cell: CellKind;
  /** Input width I (1 … 1024). */
  readonly inputSize: number;
  /** Hidden width H (1 … 256). */
  readonly hiddenSize: number;
}

/** Invocations per workgroup of the dL/dθ kernel (the sequence kernels use one per hidden unit). */
export const RECURRENT_PARAMS_WORKGROUP = 64;

/** The largest hidden size: one workgroup of H invocations per sample (WebGPU's default limit is 256). */
export const MAX_HIDDEN_SIZE = 256;
/** The largest input size: x_t is staged in workgroup memory with h and the gate cotangents (≤ 9 KiB of the 16 KiB). */
export const MAX_INPUT_SIZE = 1024;

export const RECURRENT_PARAMS = new StructLayout('RecurrentParams', [
  ['batch', 'u32'],
  ['steps', 'u32'],
  /** RECURRENT_FLAGS: which optional inputs are bound. */
  ['flags', 'u32'],
  /** First element of dL/dh_{T−1} in gin (FLAG_GRAD_LAST). */
  ['last_offset', 'u32'],
] as const);

/** Bits of RecurrentParams.flags (their WGSL constants are generated from this table). */
export const RECURRENT_FLAGS = {
  /** h0 is bound (otherwise h0 = 0). */
  h0: 1,
  /** mask [T][B] is bound (otherwise every step updates). */
  mask: 2,
  /** gin holds dL/dh_t for every step, [T][B][H]. */
  gradAll: 4,
  /** gin holds dL/dh_{T−1} only, [B][H]. */
  gradLast: 8,
} as const;

/** Gate blocks of the weight matrices: r, z, n for the GRU, one for the RNN. */
export function cellGates(cell: CellKind): number {
  return cell === 'gru' ? 3 : 1;
}

/** Parameters of a cell: G·H·(I + H + 2). */
export function recurrentParameterCount(spec: RecurrentSpec): number {
  return cellGates(spec.cell) * spec.hiddenSize * (spec.inputSize + spec.hiddenSize + 2);
}

/**
 * Gate cotangents kept per step and sample: the GRU's r, z, the input part
 * of n and the hidden part of n (which r scales), so 4H; the RNN's one, H.
 */
export function gateColumns(spec: RecurrentSpec): number {
  return spec.cell === 'gru' ? 4 * spec.hiddenSize : spec.hiddenSize;
}

/** The WGSL constants both modules share: widths, parameter offsets, flag bits, cotangent columns. */
function layoutWgsl(spec: RecurrentSpec): string {
  const I = spec.inputSize;
  const H = spec.hiddenSize;
  const G = cellGates(spec.cell);
  const flags = Object.entries(RECURRENT_FLAGS)
    .map(([k, v]) => `const FLAG_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}: u32 = ${v}u;`)
    .join('\n');
  return `const I: u32 = ${I}u;
const H: u32 = ${H}u;
const GRU: bool = ${spec.cell === 'gru'};
/** Gate blocks per weight matrix. */
const G: u32 = ${G}u;
/** Gate cotangents per step and sample. */
const DA: u32 = ${gateColumns(spec)}u;
/** Offsets of weight_ih, weight_hh, bias_ih, bias_hh in θ, and its length. */
const W_IH: u32 = 0u;
const W_HH: u32 = ${G * H * I}u;
const B_IH: u32 = ${G * H * (I + H)}u;
const B_HH: u32 = ${G * H * (I + H + 1)}u;
const NP: u32 = ${recurrentParameterCount(spec)}u;
${flags}

// The cotangent column of the pre-activation that row \`row\` of W_ih (or of
// W_hh) feeds: the same for both, except the GRU's n rows, whose hidden part
// W_hn h + b_hn is scaled by r and has its own column after the input part.
fn ih_col(row: u32) -> u32 { return row; }
fn hh_col(row: u32) -> u32 {
  if (GRU && row >= 2u * H) { return row + H; }
  return row;
}`;
}

/** The forward and backward over a sequence (one workgroup per sample). */
export const recurrentKernel = defineKernel({
  name: 'recurrent',
  bindings: (spec: RecurrentSpec) => ({
    P: uniform(RECURRENT_PARAMS),
    /** θ in PyTorch's order (constant indices checked at compile time). */
    theta: storage('read', 'f32', recurrentParameterCount(spec)),
    /** Inputs [T][B][I]. */
    x: storage('read'),
    /** Initial state [B][H] (FLAG_H0). */
    h0: storage('read'),
    /** Per-step, per-sample mask [T][B] (FLAG_MASK). */
    mask: storage('read'),
    /** Hidden states [T][B][H]: written by the forward, read by the backward. */
    hs: storage('read_write'),
    /** dL/dh: [T][B][H] (FLAG_GRAD_ALL) and/or [B][H] for the last step from P.last_offset (FLAG_GRAD_LAST). */
    gin: storage('read'),
    /** Gate cotangents [T][B][DA], then dL/dh0 [B][H]. */
    work: storage('read_write'),
    /** dL/dx [T][B][I]. */
    gx: storage('read_write'),
  }),
  entryPoints: ['forward', 'backward'],
  wgsl: (spec: RecurrentSpec, decls) => fillTemplate(recurrentSource, { BINDINGS: decls, LAYOUT: layoutWgsl(spec) }),
});

/** dL/dθ from the backward's gate cotangents (one invocation per parameter). */
export const recurrentParamsKernel = defineKernel({
  name: 'recurrent-params',
  bindings: () => ({
    P: uniform(RECURRENT_PARAMS),
    x: storage('read'),
    h0: storage('read'),
    hs: storage('read'),
    work: storage('read'),
    gtheta: storage('read_write'),
  }),
  entryPoints: ['params'],
  wgsl: (spec: RecurrentSpec, decls) =>
    fillTemplate(recurrentParamsSource, { BINDINGS: decls, LAYOUT: layoutWgsl(spec), WG: RECURRENT_PARAMS_WORKGROUP }),
});

/** Workgroups of the dL/dθ kernel. */
export function recurrentParamsWorkgroups(spec: RecurrentSpec): number {
  return Math.ceil(recurrentParameterCount(spec) / RECURRENT_PARAMS_WORKGROUP);
}
