// webode in Node, on Dawn (the `webgpu` npm package): solve a batch, take its
// gradients by the adjoint method, and train a few iterations — no browser.
//
//   npm install webode webgpu        (in this repository: npm ci && npm run build)
//   node examples/spiral-node.mjs
//
// Dawn needs a Vulkan driver: a GPU's, Mesa's lavapipe (Debian: libvulkan1
// mesa-vulkan-drivers) or, set in VK_ICD_FILENAMES, the SwiftShader ICD that
// ships with Chromium (/usr/lib/chromium/vk_swiftshader_icd.json on Debian).
import { create, globals } from 'webgpu';
import { Adam, Loss, MLP, NeuralODE, Tensor, Trainer, createRuntime, odeint } from 'webode';

Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as in a browser
const rt = await createRuntime({ gpu: create([]) });

// A batch of 256 states through f(t, z) = MLP(z), outputs at 11 times.
const f = new MLP(rt, { layers: [2, 50, 2], activation: 'tanh', seed: 1 });
const B = 256;
const y0 = Float32Array.from({ length: 2 * B }, (_, i) => Math.sin(1 + i));
const t = Array.from({ length: 11 }, (_, k) => k / 10);
const sol = await odeint(f, y0, t, { method: 'dopri5', rtol: 1e-6, atol: 1e-7 });
console.log('forward:', sol.summary);

// dL/dy0 and dL/dθ of L = mean(y²) by the adjoint method.
const y = await sol.y.read();
const g = await sol.backward(y.map((v) => (2 * v) / y.length));
console.log('|dL/dθ|₂ =', Math.hypot(...(await g.params.read())), g.summary);
g.destroy();
sol.destroy();

// Fit the field to a rotation y(t) = R(t) y0 for 100 Adam iterations.
const rotation = t.flatMap((s) =>
  Array.from({ length: B }, (_, b) => [
    y0[2 * b] * Math.cos(s) + y0[2 * b + 1] * Math.sin(s),
    -y0[2 * b] * Math.sin(s) + y0[2 * b + 1] * Math.cos(s),
  ]).flat(),
);
const batch = { y0: Tensor.fromArray(rt, y0, [B, 2]), target: Tensor.fromArray(rt, rotation, [t.length, B, 2]), t: Float64Array.from(t) };
const model = new NeuralODE(f, { solver: { rtol: 1e-5, atol: 1e-6 } });
const trainer = new Trainer(model, new Adam(model.parameters, { lr: 1e-2 }), new Loss(rt, 'mse'));
for (let i = 1; i <= 100; i++) {
  const step = await trainer.step(batch, { readLoss: i % 25 === 0 || i === 1 });
  if (step.loss !== null) console.log(`iteration ${i}: loss ${step.loss.toExponential(3)}`);
}
trainer.destroy();
rt.destroy();
