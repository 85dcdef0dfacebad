/**
 * Float64 CPU reference of the ODE-RNN encoder (Rubanova et al. 2019), apart
 * from src/series/odernn.ts: each series is read backwards from its last
 * observation; h starts at 0 at t[T−1]; between t[i+1] and t[i] h follows
 * dh/dt = f(h) (an MLP, solved by the accurate float64 dopri5 of
 * test/reference/solve.ts), then at t[i] a GRU update with input [x_i, m_i]
 * applied where any feature of the point is observed (sample mask
 * max_d m_i[d]); at t[0], [μ, log σ] = W h + b.
 *
 * Layouts: times [B][T] (each row strictly increasing), values and mask
 * [T][B][D]; parameters: the MLP's (reference/mlp.ts order), the GRU's
 * (reference/cells.ts), the Linear's (weight [2L][H], bias [2L]).
 */
import { cellStep } from './cells';
import { type ReferenceActivation, mlpForward } from './mlp';
import { solveAccurate } from './solve';

export interface ReferenceOdeRnn {
  D: number;
  H: number;
  L: number;
  T: number;
  B: number;
  /** MLP layers [H, …, H]. */
  layers: number[];
  activation: ReferenceActivation;
  field: ArrayLike<number>;
  cell: ArrayLike<number>;
  readout: ArrayLike<number>;
  times: ArrayLike<number>;
  values: ArrayLike<number>;
  mask: ArrayLike<number>;
}

/** The final hidden states [B][H] and the outputs [B][2L] in float64. */
export function referenceOdeRnn(s: ReferenceOdeRnn): { h: Float64Array; out: Float64Array } {
  const { D, H, L, T, B } = s;
  const hOut = new Float64Array(B * H);
  const out = new Float64Array(B * 2 * L);
  const f = (_t: number, y: readonly number[]) => Array.from(mlpForward(s.layers, s.activation, false, s.field, 0, y));
  for (let b = 0; b < B; b++) {
    let h: Float64Array = new Float64Array(H);
    for (let i = T - 1; i >= 0; i--) {
      if (i < T - 1) {
        const sol = solveAccurate(f, Array.from(h), [s.times[b * T + i + 1], s.times[b * T + i]], 1e-12, 1e-12);
        h = Float64Array.from(sol[1]);
      }
      const input = new Float64Array(2 * D);
      let any = 0;
      for (let d = 0; d < D; d++) {
        const m = s.mask[(i * B + b) * D + d];
        input[d] = s.values[(i * B + b) * D + d] * m;
        input[D + d] = m;
        any = Math.max(any, m);
      }
      const c = cellStep('gru', 2 * D, H, s.cell, input, 0, h);
      if (any > 0) h = c;
    }
    hOut.set(h, b * H);
    for (let o = 0; o < 2 * L; o++) {
      let acc = s.readout[2 * L * H + o];
      for (let k = 0; k < H; k++) acc += s.readout[o * H + k] * h[k];
      out[b * 2 * L + o] = acc;
    }
  }
  return { h: hOut, out };
}
