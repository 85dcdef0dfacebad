/**
 * Page-side operations of the latent-ODE tests (masked losses, the latent ODE),
 * merged into the harness's operations by test/gpu/harness.ts. Each runs in
 * the harness's WebGPU error scopes and returns plain data; float arrays
 * travel as base64.
 */
import * as webode from '../../src/index';
import type { Runtime } from '../../src/index';
import { type WireArray, decode, encodeF32 } from './wire';

/** What the harness lends these operations. */
export interface LatentOpsContext {
  readonly calls: { mapAsync: number; submit: number };
  scoped<T>(body: (r: Runtime) => Promise<T>): Promise<T & { gpuErrors: string[] }>;
}

export function latentOps(ctx: LatentOpsContext) {
  const { scoped, calls } = ctx;
  return {
    /** A masked loss on the GPU: its gradient (written over −7s from `gradOffset` on) and value. */
    async maskedLoss(args: {
      kind: webode.MaskedLossKind;
      std?: number;
      pred: WireArray;
      target: WireArray;
      mask: WireArray;
      scale?: number;
      predOffset?: number;
      gradOffset?: number;
      gradSize?: number;
      count: number;
    }) {
      return scoped(async (r) => {
        const p = decode(args.pred);
        const pred = webode.Tensor.fromArray(r, p, [p.length], 'test pred');
        const target = webode.Tensor.fromArray(r, decode(args.target), [decode(args.target).length], 'test target');
        const mask = webode.Tensor.fromArray(r, decode(args.mask), [decode(args.mask).length], 'test mask');
        const gradSize = args.gradSize ?? p.length;
        const grad = webode.Tensor.fromArray(r, new Float32Array(gradSize).fill(-7), [gradSize], 'test grad');
        const loss = new webode.Loss(r, args.kind, args.std === undefined ? {} : { std: args.std });
        try {
          const m0 = calls.mapAsync;
          const encoder = r.device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          loss.record(pass, { pred, target, mask, grad, count: args.count, scale: args.scale, predOffset: args.predOffset, gradOffset: args.gradOffset });
          pass.end();
          r.submit([encoder.finish()]);
          const mapsBeforeRead = calls.mapAsync - m0;
          const value = await loss.read();
          return { grad: encodeF32(await grad.read()), value, mapsBeforeRead };
        } finally {
          for (const t of [pred, target, mask, grad]) t.destroy();
          loss.destroy();
        }
      });
    },
  };
}
