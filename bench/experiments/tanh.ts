/**
 * Experiment: accuracy of the builtin tanh (as the library clamps it) and of
 * the fast rational tanh on this adapter, against float64 Math.tanh, on a
 * dense grid of float32 inputs; and the CPU float32 emulation of the latter.
 */
import type { Table } from './forward';
import { type Gpu, buffer, compile, readback, runN } from './gpu';
import { activationCode, fastTanhCpu } from './variants';

export async function tanhSection(gpu: Gpu, log: (m: string) => void): Promise<{ tables: Table[]; data: unknown }> {
  const { device } = gpu;
  const N = 1 << 20;
  // x = ±10^u, u uniform in [−8, 1.2], plus a uniform grid on [−10, 10].
  const xs = new Float32Array(N);
  for (let i = 0; i < N / 2; i++) xs[i] = (i % 2 ? -1 : 1) * 10 ** (-8 + (9.2 * i) / (N / 2));
  for (let i = N / 2; i < N; i++) xs[i] = -10 + (20 * (i - N / 2)) / (N / 2);
  const code = [
    '@group(0) @binding(0) var<storage, read> xs: array<f32>;',
    '@group(0) @binding(1) var<storage, read_write> ys: array<f32>;',
    'fn builtin_act(x: f32) -> f32 { return tanh(clamp(x, -9.1, 9.1)); }',
    activationCode('fast'),
    '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {',
    `  let i = g.x; if (i >= ${N}u) { return; }`,
    '  ys[2u * i] = builtin_act(xs[i]);',
    '  ys[2u * i + 1u] = act(xs[i]);',
    '}',
  ].join('\n');
  const { pipeline } = await compile(device, 'tanh accuracy', code, 'main');
  const xb = buffer(device, 'xs', xs.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, xs);
  const yb = buffer(device, 'ys', 2 * xs.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const bg = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [xb, yb].map((b, binding) => ({ binding, resource: { buffer: b } })),
  });
  await runN(device, pipeline, bg, N / 64, 1);
  const ys = await readback(device, yb, 2 * xs.byteLength);
  xb.destroy();
  yb.destroy();
  const stats = () => ({ rel: 0, relAt: 0, abs: 0, absAt: 0 });
  const s = { builtin: stats(), fast: stats(), fastCpu: stats() };
  const upd = (st: ReturnType<typeof stats>, x: number, y: number) => {
    const r = Math.tanh(x);
    const a = Math.abs(y - r);
    if (a / Math.abs(r) > st.rel) [st.rel, st.relAt] = [a / Math.abs(r), x];
    if (a > st.abs) [st.abs, st.absAt] = [a, x];
  };
  for (let i = 0; i < N; i++) {
    if (xs[i] === 0) continue;
    upd(s.builtin, xs[i], ys[2 * i]);
    upd(s.fast, xs[i], ys[2 * i + 1]);
    upd(s.fastCpu, xs[i], fastTanhCpu(xs[i]));
  }
  log(`tanh: ${JSON.stringify(s)}`);
  const row = (name: string, st: ReturnType<typeof stats>) => [name, st.rel.toExponential(2), st.relAt.toPrecision(4), st.abs.toExponential(2), st.absAt.toPrecision(4)];
  return {
    tables: [
      {
        title: `tanh accuracy vs float64, ${N} inputs (|x| from 1e-8 to 16, and a uniform grid on [-10, 10])`,
        columns: ['tanh', 'max rel err', 'at x', 'max abs err', 'at x'],
        rows: [row('builtin tanh(clamp(x, ±9.1)) (GPU)', s.builtin), row('fast rational 13/6 (GPU)', s.fast), row('fast rational 13/6 (CPU f32 emulation)', s.fastCpu)],
        notes: ['float32 ulp(1)/2 = 5.96e-8.'],
      },
    ],
    data: s,
  };
}
