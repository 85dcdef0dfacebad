/**
 * Page-side operations of the flow-training tests (FlowTrainer, the flows
 * demo's run), merged into the harness's operations by test/gpu/harness.ts.
 * Each runs in the harness's WebGPU error scopes and returns plain data.
 */
import { FlowsRun } from '../../demo/flows';
import * as webode from '../../src/index';
import type { Runtime } from '../../src/index';
import type { TrainOpsContext } from './train-ops';

/** A small flow: MLP [3, 16, 16, 2] tanh with time input, t1 = 0.5, exact trace. */
function smallFlow(r: Runtime, seed: number): { f: webode.MLP; flow: webode.CNF } {
  const f = new webode.MLP(r, { layers: [3, 16, 16, 2], activation: 'tanh', timeInput: true, seed });
  return { f, flow: new webode.CNF(f, { t0: 0, t1: 0.5, trace: 'exact' }) };
}

const SOLVER = { method: 'dopri5', rtol: 1e-5, atol: 1e-5 } as const;

export function flowOps({ calls, scoped }: TrainOpsContext) {
  return {
    /**
     * A few FlowTrainer iterations on `8gaussians` (batch 64): the mean
     * log-likelihood of held-out points before and after, host waits
     * (mapAsync) of the iterations that read nothing, and the loss ring.
     */
    async flowTrainLowers(args: { iterations: number; batch: number; lr: number }) {
      return scoped(async (r) => {
        const { f, flow } = smallFlow(r, 3);
        const data = webode.toyData('8gaussians', 4096, 1);
        const test = webode.toyData('8gaussians', 256, 2);
        const set = new webode.PointDataset(r, data, new Uint8Array(4096), { width: 2, classes: 1 });
        const sampler = new webode.PointSampler(set, { batch: args.batch, seed: 5 });
        const adam = new webode.Adam([f.params], { lr: args.lr });
        const trainer = new webode.FlowTrainer(flow, adam, { solver: SOLVER });
        try {
          const before = await trainer.evaluate(test);
          const waits: number[] = [];
          const counters: number[] = [];
          for (let i = 0; i < args.iterations; i++) {
            const m0 = calls.mapAsync;
            const w0 = r.counters.hostWaits;
            const s = await trainer.step(sampler.next());
            waits.push(calls.mapAsync - m0);
            counters.push(r.counters.hostWaits - w0);
            if (s.hostWaits !== 0) throw new Error(`iteration ${i + 1} reported ${s.hostWaits} host waits`);
          }
          const history = await trainer.readLossHistory();
          const after = await trainer.evaluate(test);
          return {
            before,
            after,
            waits,
            counters,
            losses: Array.from(history.losses),
            forwardNfe: Array.from(history.forwardNfe),
            backwardNfe: Array.from(history.backwardNfe),
          };
        } finally {
          trainer.destroy();
          sampler.destroy();
          set.destroy();
          adam.destroy();
          f.destroy();
        }
      });
    },

    /**
     * One FlowTrainer step (wait-free or waiting) next to the same step done
     * by hand on an identical flow: logProb, backward with dL/dlogp = −1/B,
     * the gradient copied into a second Adam, its step. Returns both
     * parameter vectors, the initial ones, the manual gradient, the
     * trainer's loss and the manual log-likelihoods.
     */
    async flowTrainStep(args: { batch: number; lr: number; waitFree: boolean }) {
      return scoped(async (r) => {
        const a = smallFlow(r, 9);
        const b = smallFlow(r, 9);
        const x = webode.toyData('pinwheel', args.batch, 4);
        const xs = webode.Tensor.fromArray(r, x, [args.batch, 2]);
        const adamA = new webode.Adam([a.f.params], { lr: args.lr });
        const adamB = new webode.Adam([b.f.params], { lr: args.lr });
        const trainer = new webode.FlowTrainer(a.flow, adamA, { solver: SOLVER, waitFree: args.waitFree });
        try {
          const theta0 = await a.f.readParameters();
          const step = await trainer.step({ y0: xs, target: xs }, { readLoss: true });
          const thetaTrainer = await a.f.readParameters();
          const res = await b.flow.logProb(x, SOLVER);
          const logp = await res.logp.read();
          const g = await res.backward(new Float32Array(args.batch).fill(-1 / args.batch));
          const grad = await g.params.read();
          adamB.gradFor(b.f.params).write(grad);
          adamB.step();
          const thetaManual = await b.f.readParameters();
          g.destroy();
          res.destroy();
          return {
            loss: step.loss,
            hostWaits: step.hostWaits,
            logp: Array.from(logp),
            theta0: Array.from(theta0),
            thetaTrainer: Array.from(thetaTrainer),
            thetaManual: Array.from(thetaManual),
            grad: Array.from(grad),
          };
        } finally {
          trainer.destroy();
          adamA.destroy();
          adamB.destroy();
          xs.destroy();
          a.f.destroy();
          b.f.destroy();
        }
      });
    },

    /** Bad FlowTrainer arguments: each case's error (name, argument), and the dispatches and submits they caused. */
    async flowTrainArgErrors() {
      return scoped(async (r) => {
        const { f, flow } = smallFlow(r, 1);
        const other = new webode.MLP(r, { layers: [2, 4, 2] });
        const adam = new webode.Adam([f.params]);
        const wrong = new webode.Adam([other.params]);
        const d0 = r.counters.dispatches;
        const s0 = calls.submit;
        const cases: { name: string; error: { name: string; argument?: string } | null }[] = [];
        const attempt = async (name: string, fn: () => unknown) => {
          try {
            await fn();
            cases.push({ name, error: null });
          } catch (e) {
            cases.push({ name, error: { name: (e as Error).name, argument: (e as webode.ArgumentError).argument } });
          }
        };
        await attempt('flow', () => new webode.FlowTrainer({} as never, adam));
        await attempt('optimizer', () => new webode.FlowTrainer(flow, wrong));
        await attempt('waitFree', () => new webode.FlowTrainer(flow, adam, { waitFree: 'yes' as never }));
        await attempt('solver deferred', () => new webode.FlowTrainer(flow, adam, { solver: { deferred: true } }));
        const t = new webode.FlowTrainer(flow, adam);
        const bad = webode.Tensor.zeros(r, [3]);
        await attempt('batch', () => t.step({ y0: bad, target: bad }));
        await attempt('evaluate chunk', () => t.evaluate([0, 0], { chunk: 0 }));
        await attempt('evaluate points', () => t.evaluate([0, 0, 0]));
        await attempt('loss nll in Trainer', () => {
          const model = new webode.NeuralODE(other);
          return new webode.Trainer(model, new webode.Adam(model.parameters), new webode.Loss(r, 'nll'));
        });
        const nll = new webode.Loss(r, 'nll');
        await attempt('nll target', () => nll.compute(bad, bad));
        nll.destroy();
        const dispatches = r.counters.dispatches - d0;
        const submits = calls.submit - s0;
        t.destroy();
        bad.destroy();
        adam.destroy();
        wrong.destroy();
        other.destroy();
        f.destroy();
        return { cases, dispatches, submits };
      });
    },

    /** The flows demo's run: `iterations` steps, then its density grid and samples. */
    async flowsDemoRun(args: { dataset: webode.ToyDataset; iterations: number }) {
      return scoped(async (r) => {
        const run = new FlowsRun(r, { dataset: args.dataset });
        try {
          for (let i = 0; i < args.iterations; i++) await run.step();
          const h = await run.trainer.readLossHistory();
          const { p } = await run.density();
          const x = await run.samples(500, 3);
          return { losses: Array.from(h.losses), density: Array.from(p), samples: Array.from(x) };
        } finally {
          run.destroy();
        }
      });
    },
  };
}
