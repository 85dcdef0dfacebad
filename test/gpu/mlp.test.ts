/**
 * `MLP.forward` against the float64 CPU reference, for every activation, with
 * and without the time input (tanh on every shape, the others on four). The shapes take the K-lane kernel (K samples per
 * invocation, src/kernels/lanes.ts) with K = 16, 8 and 4, and the one-sample
 * kernel where lanes would not fit WGSL's 8 KiB of function variables. The
 * batches are not multiples of K: the tail lanes of the last invocation
 * re-read the last sample and must write nothing (checked with a sentinel in
 * the last test).
 *
 * Tolerance: 2e-5 relative (norm-wise). The kernel runs in float32 on the same
 * float32 parameters; a dot product of n terms of size ~1 accumulates about
 * sqrt(n)·6e-8 of round-off per layer (n = 512: ~1.4e-6), and tanh/exp/log of
 * WGSL are specified to a few ulp, so 2e-5 leaves a wide margin while any
 * wrong weight, offset, lane or activation shows up at 1e-2 or more.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EVAL_PARAMS, forwardShape, forwardWorkgroups, mlpForwardKernel, mlpForwardSpec } from '../../src/kernels/mlp-forward';
import { kernelWgsl } from '../../src/wgsl/kernel';
import { lanesFor } from '../../src/mlp/lanes';
import { ACTIVATIONS, type Activation } from '../../src/mlp/mlp';
import { type Harness, openHarness } from './browser';
import { makeProblem, relError } from './problems';
import { decode, encodeF32 } from './wire';

let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

const TOLERANCE = 2e-5;

const SHAPES: { layers: number[]; timeInput: boolean }[] = [
  { layers: [2, 16, 2], timeInput: false },
  { layers: [3, 16, 2], timeInput: true },
  { layers: [4, 24, 12, 3], timeInput: true },
  { layers: [5, 5], timeInput: false },
  { layers: [2, 64, 2], timeInput: false },
  { layers: [3, 64, 2], timeInput: true },
  { layers: [4, 64, 64, 4], timeInput: false },
  { layers: [5, 64, 64, 4], timeInput: true },
  { layers: [2, 512, 2], timeInput: false },
  { layers: [3, 512, 2], timeInput: true },
];

/**
 * The shapes the other activations run: one hidden layer with the time input,
 * two hidden layers (narrow and 64 wide) and the widest hidden layer without
 * it; the activation is one function of the pre-activation whatever the
 * shape, tanh runs every shape, and the last test every lane count.
 */
const ACTIVATION_SHAPES = [SHAPES[1], SHAPES[2], SHAPES[7], SHAPES[8]];

/** Not multiples of any K: one sample, a partial vec4 group, many invocations and a partial last one. */
const BATCHES = [1, 7, 1003];

/** The largest relative error of `MLP.forward` against float64 over the batch. */
async function forwardError(layers: number[], activation: Activation, timeInput: boolean, B: number): Promise<number> {
  // Scale y0 to reach the saturating and negative ranges of every activation.
  const p = makeProblem({ layers, activation, timeInput, B, y0Scale: 3, seed: layers.length * 7 + B });
  const t = 0.75;
  const r = await h.call('forward', { mlp: p.mlp, params: encodeF32(p.params), z: encodeF32(p.y0), t });
  expect(r.gpuErrors).toEqual([]);
  const want: number[] = [];
  for (let b = 0; b < p.B; b++) want.push(...p.rhs(t, Array.from(p.y0.subarray(b * p.D, (b + 1) * p.D))));
  return relError(decode(r.y), want);
}

for (const activation of ACTIVATIONS) {
  it(`${activation}: forward kernel matches the float64 reference`, async () => {
    for (const { layers, timeInput } of activation === 'tanh' ? SHAPES : ACTIVATION_SHAPES) {
      for (const B of BATCHES) {
        const err = await forwardError(layers, activation, timeInput, B);
        expect(err, `${activation} [${layers}] timeInput=${timeInput} B=${B}`).toBeLessThan(TOLERANCE);
      }
    }
  });
}

it('widths at the limits compile and match: K shrinks with the hidden widths, then one sample per invocation', async () => {
  // [layers, K]: at the limits of each lane count (forwardLaneFloats of src/mlp/plan.ts ≤ 2,048) and of validateMlpOptions.
  const cases: [number[], number][] = [
    [[2, 681, 2], 16], // the widest single hidden layer MLP accepts; streamed, so no array
    [[2, 123, 5, 2], 16], // exactly 2,048 floats at K = 16
    [[4, 128, 128, 4], 8],
    [[2, 340, 340, 2], 4],
    [[200, 200, 200], 4],
    [[2, 510, 170, 2], 1], // K = 4 would need 2,060 floats
    [[1000, 1000], 1],
  ];
  for (const [layers, lanes] of cases) {
    expect(lanesFor(layers), `[${layers}]`).toBe(lanes);
    const err = await forwardError(layers, 'tanh', false, 37);
    expect(err, `[${layers}] K=${lanes}`).toBeLessThan(TOLERANCE);
  }
});

it('a NaN parameter gives NaN outputs for every activation (lanes and tail included)', async () => {
  const layers = [2, 64, 2];
  expect(lanesFor(layers)).toBeGreaterThan(1);
  for (const activation of ACTIVATIONS) {
    const p = makeProblem({ layers, activation, B: 7, seed: 3 });
    p.params[2 * 64] = NaN; // the bias of the first hidden unit: every output depends on it
    const r = await h.call('forward', { mlp: p.mlp, params: encodeF32(p.params), z: encodeF32(p.y0), t: 0 });
    expect(r.gpuErrors).toEqual([]);
    expect(Array.from(decode(r.y)).every(Number.isNaN), activation).toBe(true);
  }
});

it('the tail lanes write nothing past the batch', async () => {
  // MLP.forward's output holds exactly B·D floats, so a stray write past it
  // would be dropped by WebGPU's bounds checks; here the same kernel (same
  // WGSL, same dispatch) writes into a buffer with room for K more samples,
  // filled with a sentinel that must survive.
  const spec = { layers: [2, 64, 2], activation: 'tanh', timeInput: false } as const;
  const { lanes } = forwardShape(spec);
  expect(lanes).toBeGreaterThan(1);
  const SENTINEL = 12345.5;
  for (const B of BATCHES) {
    const p = makeProblem({ layers: [...spec.layers], B, seed: 5 });
    const args = {
      code: kernelWgsl(mlpForwardKernel, mlpForwardSpec(spec)),
      workgroups: forwardWorkgroups(mlpForwardSpec(spec), B),
      uniform: Array.from(new Uint8Array(EVAL_PARAMS.pack({ batch: B, t: 0 }))),
      theta: Array.from(p.params),
      z: Array.from(p.y0),
      outLength: (B + lanes) * p.D,
      sentinel: SENTINEL,
    };
    const r = await h.page.evaluate(async (a) => {
      const adapter = await navigator.gpu.requestAdapter();
      const device = await adapter!.requestDevice();
      try {
        device.pushErrorScope('validation');
        const upload = (data: ArrayBufferView, usage: number) => {
          const b = device.createBuffer({ size: data.byteLength, usage: usage | GPUBufferUsage.COPY_DST });
          device.queue.writeBuffer(b, 0, data);
          return b;
        };
        const storage = GPUBufferUsage.STORAGE;
        const out = upload(new Float32Array(a.outLength).fill(a.sentinel), storage | GPUBufferUsage.COPY_SRC);
        const buffers = [
          upload(Uint8Array.from(a.uniform), GPUBufferUsage.UNIFORM),
          upload(Float32Array.from(a.theta), storage),
          upload(Float32Array.from(a.z), storage),
          out,
        ];
        const pipeline = device.createComputePipeline({
          layout: 'auto',
          compute: { module: device.createShaderModule({ code: a.code }), entryPoint: 'forward' },
        });
        const bindGroup = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
        const readback = device.createBuffer({ size: a.outLength * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(a.workgroups);
        pass.end();
        encoder.copyBufferToBuffer(out, 0, readback, 0, a.outLength * 4);
        device.queue.submit([encoder.finish()]);
        await readback.mapAsync(GPUMapMode.READ);
        const y = Array.from(new Float32Array(readback.getMappedRange()));
        const error = await device.popErrorScope();
        return { y, error: error?.message ?? null };
      } finally {
        device.destroy();
      }
    }, args);
    expect(r.error).toBeNull();
    const want: number[] = [];
    for (let b = 0; b < B; b++) want.push(...p.rhs(0, Array.from(p.y0.subarray(b * p.D, (b + 1) * p.D))));
    expect(relError(r.y.slice(0, B * p.D), want), `B=${B}`).toBeLessThan(TOLERANCE);
    expect(r.y.slice(B * p.D), `B=${B}`).toEqual(new Array(lanes * p.D).fill(SENTINEL));
  }
});
