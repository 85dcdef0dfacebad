/**
 * The README's training example, kept here so the type checker sees it:
 * fit an MLP vector field to a trajectory y(t) (D = 2) and save the model.
 */
import { Adam, Loss, MLP, NeuralODE, Trainer, TrajectoryDataset, WindowSampler, createRuntime, saveModel } from '../src/index';

export async function readmeExample(t: Float64Array, y: Float64Array): Promise<string> {
  const rt = await createRuntime();
  // Data: a trajectory y(t_n), n = 0 … N−1, D = 2, on an evenly spaced grid.
  const data = new TrajectoryDataset(rt, t, y, 2); // uploaded once
  const batches = new WindowSampler(data, { batch: 20, length: 10, seed: 1 });

  const f = new MLP(rt, { layers: [2, 50, 2], activation: 'relu' });
  const model = new NeuralODE(f, { solver: { method: 'dopri5', rtol: 1e-5, atol: 1e-6 } });
  const trainer = new Trainer(model, new Adam(model.parameters, { lr: 1e-2 }), new Loss(rt, 'mse'));

  await trainer.fit(batches, {
    iterations: 2000,
    progressEvery: 50, // the only iterations that read the loss
    onProgress: (p) => console.log(p.iteration, p.loss, p.itPerSec, p.forwardNfe, p.backwardNfe),
  });
  const sol = await model.solve([2, 0], t); // the learned trajectory, on the GPU
  const json = JSON.stringify(await saveModel(model)); // architecture + parameters
  sol.destroy();
  rt.destroy();
  return json;
}
