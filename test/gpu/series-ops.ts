/**
 * Page-side operations of the recurrent-cell tests, merged into the
 * harness's operations by test/gpu/harness.ts. Each runs in the harness's
 * WebGPU error scopes and returns plain data; float arrays travel as base64.
 */
import * as webode from '../../src/index';
import type { Runtime } from '../../src/index';
import { type WireArray, decode, encodeF32 } from './wire';

export interface SeriesOpsContext {
  readonly calls: { mapAsync: number; submit: number };
  scoped<T>(body: (r: Runtime) => Promise<T>): Promise<T & { gpuErrors: string[] }>;
}

export interface CellRunArgs {
  cell: 'gru' | 'rnn';
  inputSize: number;
  hiddenSize: number;
  params: WireArray;
  x: WireArray;
  steps: number;
  batch: number;
  h0?: WireArray;
  mask?: WireArray;
  gradHidden?: WireArray;
  gradLast?: WireArray;
  /** Pass the inputs as tensors instead of arrays. */
  asTensors?: boolean;
}

function errorOf(e: unknown): { name: string; message: string; argument?: string } {
  if (e instanceof webode.ArgumentError) return { name: e.name, message: e.message, argument: e.argument };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'unknown', message: String(e) };
}

export function seriesOps(ctx: SeriesOpsContext) {
  const { scoped, calls } = ctx;
  const make = (r: Runtime, a: { cell: 'gru' | 'rnn'; inputSize: number; hiddenSize: number }) =>
    a.cell === 'gru' ? new webode.GRUCell(r, a) : new webode.RNNCell(r, a);
  return {
    /** A cell's forward and (with cotangents) backward; counts host waits and submits up to the first read. */
    async cellRun(a: CellRunArgs) {
      return scoped(async (r) => {
        const cell = make(r, a);
        const made: webode.Tensor[] = [];
        const arg = (w: WireArray | undefined, shape: number[]) => {
          if (!w) return undefined;
          const v = decode(w);
          if (!a.asTensors) return v;
          const t = webode.Tensor.fromArray(r, v, shape);
          made.push(t);
          return t;
        };
        try {
          cell.setParameters(decode(a.params));
          const { steps: T, batch: B, inputSize: I, hiddenSize: H } = a;
          const waits0 = r.counters.hostWaits;
          const maps0 = calls.mapAsync;
          const submits0 = calls.submit;
          const dispatches0 = r.counters.dispatches;
          const seq = cell.forward({ x: arg(a.x, [T, B, I]) as webode.Tensor, steps: T, batch: B, h0: arg(a.h0, [B, H]), mask: arg(a.mask, [T, B]) });
          const grads =
            a.gradHidden || a.gradLast ? cell.backward(seq, { gradHidden: arg(a.gradHidden, [T, B, H]), gradLast: arg(a.gradLast, [B, H]) }) : null;
          const last = seq.last();
          const before = {
            hostWaits: r.counters.hostWaits - waits0,
            mapAsync: calls.mapAsync - maps0,
            submits: calls.submit - submits0,
            dispatches: r.counters.dispatches - dispatches0,
          };
          const out = {
            ...before,
            hidden: encodeF32(await seq.hidden.read()),
            last: encodeF32(await last.read()),
            gParams: grads ? encodeF32(await grads.params.read()) : null,
            gInputs: grads ? encodeF32(await grads.inputs.read()) : null,
            gH0: grads ? encodeF32(await grads.h0.read()) : null,
          };
          last.destroy();
          grads?.destroy();
          seq.destroy();
          return out;
        } finally {
          for (const t of made) t.destroy();
          cell.destroy();
        }
      });
    },

    /** Argument and lifecycle errors of the cells, each with the submits it made (none expected). */
    async cellErrors() {
      return scoped(async (r) => {
        const out: Record<string, { name: string; message: string; argument?: string; submits: number } | null> = {};
        const attempt = async (key: string, fn: () => unknown) => {
          const s0 = calls.submit;
          try {
            await fn();
            out[key] = null;
          } catch (e) {
            out[key] = { ...errorOf(e), submits: calls.submit - s0 };
          }
        };
        const gru = new webode.GRUCell(r, { inputSize: 2, hiddenSize: 3 });
        const other = new webode.GRUCell(r, { inputSize: 2, hiddenSize: 3 });
        await attempt('hiddenSize0', () => new webode.GRUCell(r, { inputSize: 2, hiddenSize: 0 }));
        await attempt('hiddenSize300', () => new webode.RNNCell(r, { inputSize: 2, hiddenSize: 300 }));
        await attempt('inputSize', () => new webode.RNNCell(r, { inputSize: 1.5, hiddenSize: 3 }));
        await attempt('xLength', () => gru.forward({ x: new Float32Array(11), steps: 3, batch: 2 }));
        await attempt('xNaN', () => gru.forward({ x: [0, 0, 0, NaN], steps: 1, batch: 2 }));
        await attempt('steps0', () => gru.forward({ x: [], steps: 0, batch: 2 }));
        await attempt('h0Length', () => gru.forward({ x: new Float32Array(12), steps: 3, batch: 2, h0: [1, 2] }));
        await attempt('maskRange', () => gru.forward({ x: new Float32Array(12), steps: 3, batch: 2, mask: [1, 1, 0, 2, 1, 1] }));
        await attempt('params', () => gru.setParameters([1, 2, 3]));
        const seq = gru.forward({ x: new Float32Array(12), steps: 3, batch: 2 });
        await attempt('noCotangents', () => gru.backward(seq, {}));
        await attempt('gradLastLength', () => gru.backward(seq, { gradLast: [1] }));
        await attempt('otherCell', () => other.backward(seq, { gradLast: new Float32Array(6) }));
        gru.setParameters(new Float32Array(gru.parameterCount));
        await attempt('staleSequence', () => gru.backward(seq, { gradLast: new Float32Array(6) }));
        seq.destroy();
        await attempt('destroyedSequence', () => gru.backward(seq, { gradLast: new Float32Array(6) }));
        gru.destroy();
        await attempt('destroyedCell', () => gru.forward({ x: new Float32Array(12), steps: 3, batch: 2 }));
        other.destroy();
        const g = new webode.GRUCell(r, { inputSize: 4, hiddenSize: 5 });
        const n = new webode.RNNCell(r, { inputSize: 4, hiddenSize: 5 });
        const parameterCounts = { gru: g.parameterCount, rnn: n.parameterCount };
        g.destroy();
        n.destroy();
        return { errors: out, parameterCounts };
      });
    },
  };
}
