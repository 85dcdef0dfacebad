/**
 * The README's training example, shown there verbatim from the import on
 * (test/unit/readme-example.test.ts keeps the two equal) and run as printed
 * by test/gpu/readme-example.test.ts on the spiral data of torchdiffeq's
 * ode_demo. `webode` resolves to src/index.ts here (tsconfig paths, Vite alias).
 */
// README: begin
import { Adam, createRuntime, Loss, MLP, NeuralODE, saveModel, Trainer, TrajectoryDataset, WindowSampler } from 'webode';

/** Fits an MLP vector field to a trajectory y(t_n) (D = 2, y0 = y[0..1]); returns the learned trajectory and the model. */
export async function fitTrajectory(t: Float64Array, y: Float64Array): Promise<{ learned: Float32Array; json: string }> {
  const rt = await createRuntime();
  const data = new TrajectoryDataset(rt, t, y, 2); // uploaded once
  const batches = new WindowSampler(data, { batch: 40, length: 10, seed: 1 }); // 40 random windows of 10 points

  const f = new MLP(rt, { layers: [2, 100, 2], activation: 'relu', seed: 1 });
  const model = new NeuralODE(f, { solver: { method: 'dopri5', rtol: 1e-5, atol: 1e-6 } });
  const adam = new Adam(model.parameters, { lr: 2e-2 });
  const trainer = new Trainer(model, adam, new Loss(rt, 'mse'));

  await trainer.fit(batches, {
    iterations: 2000,
    progressEvery: 50, // the only iterations that read the loss
    onProgress: (p) => {
      // lr 2e-2 up to iteration 800, then exponential decay to 2e-4 at 2,000
      adam.lr = 2e-2 * 0.01 ** Math.min(Math.max(p.iteration - 800, 0) / 1200, 1);
      console.log(p.iteration, p.loss, p.itPerSec, p.forwardNfe, p.backwardNfe);
    },
  });
  const sol = await model.solve([y[0], y[1]], t); // the learned trajectory, on the GPU
  const learned = await sol.y.read();
  const json = JSON.stringify(await saveModel(model)); // architecture + parameters
  sol.destroy();
  rt.destroy();
  return { learned, json };
}
// README: end
