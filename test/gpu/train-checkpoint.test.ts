/**
 * Resumable training in the browser: N iterations, `trainer.checkpoint()`,
 * a JSON round trip (`JSON.stringify` / `JSON.parse`), `Trainer.resume` on a
 * NEW runtime with the data uploaded again, M iterations — against N + M
 * iterations of an uninterrupted trainer (built afresh on the new runtime,
 * after the resumed run). The reference
 * is the uninterrupted computation itself, and the comparison is exact:
 * parameters, optimizer state (SGD momentum; Adam's moments and step count),
 * every iteration's loss and the sampler's draw count must be bit-identical.
 * Also: iterations stay wait-free around a checkpoint (one host wait for the
 * checkpoint itself), and a malformed checkpoint is refused with a
 * ModelFormatError naming the JSON path, before anything is allocated.
 */
import { describe, expect, it } from 'vitest';
import type * as W from '../../src/index';
import type { WebodeTestHandle } from './harness';
import { useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;

const harness = useHarness();
const N = 3;
const M = 2;

type Opt = { kind: 'sgd'; lr: number; momentum: number } | { kind: 'adam'; lr: number };
const OPTIMIZERS: Opt[] = [
  { kind: 'sgd', lr: 0.05, momentum: 0.9 },
  { kind: 'adam', lr: 1e-2 },
];

/** Both optimizers' runs, sharing the two runtimes (and so their compiled pipelines). */
async function roundTrips(opts: Opt[]) {
  return harness().page.evaluate(
    async (args) => {
      const { webode } = webodeTest;
      const { t, y } = (() => {
        const t = Array.from({ length: 30 }, (_, i) => i * 0.1);
        const y: number[] = [];
        for (const s of t) y.push(Math.exp(-0.1 * s) * Math.cos(2 * s), -Math.exp(-0.1 * s) * Math.sin(2 * s));
        return { t, y };
      })();
      type O = (typeof args.opts)[number];
      const setup = (rt: W.Runtime, o: O) => {
        const data = new webode.TrajectoryDataset(rt, t, y, 2);
        const sampler = new webode.WindowSampler(data, { batch: 8, length: 4, seed: 5 });
        const model = new webode.NeuralODE(new webode.MLP(rt, { layers: [2, 16, 2], seed: 4 }), { solver: { rtol: 1e-4, atol: 1e-5 } });
        const optimizer = o.kind === 'adam' ? new webode.Adam(model.parameters, { lr: o.lr }) : new webode.SGD(model.parameters, { lr: o.lr, momentum: o.momentum });
        return { sampler, trainer: new webode.Trainer(model, optimizer, new webode.Loss(rt, 'mse')) };
      };
      const run = async (trainer: W.Trainer, sampler: W.Sampler, n: number) => {
        for (let i = 0; i < n; i++) await trainer.step(sampler.next());
      };
      const uncaptured: string[] = [];
      const onUncapturedError = (e: GPUError) => uncaptured.push(e.message);

      // N iterations and a checkpoint of each, as JSON; then the runtime goes.
      const rtB = await webode.createRuntime({ onUncapturedError });
      const saved: { json: string; checkpointWaits: number }[] = [];
      for (const o of args.opts) {
        const b = setup(rtB, o);
        await run(b.trainer, b.sampler, args.N);
        const w0 = rtB.counters.hostWaits;
        const json = JSON.stringify(await b.trainer.checkpoint(b.sampler));
        saved.push({ json, checkpointWaits: rtB.counters.hostWaits - w0 });
      }
      rtB.destroy();

      const rtC = await webode.createRuntime({ onUncapturedError });
      const out = [];
      for (let k = 0; k < args.opts.length; k++) {
        const { json, checkpointWaits } = saved[k];
        const live0 = rtC.counters.liveBuffers;
        let refused = null;
        try {
          const bad = JSON.parse(json);
          bad.optimizer.state[0] = bad.optimizer.state[0].slice(1);
          webode.Trainer.resume(rtC, bad, { dataset: new webode.TrajectoryDataset(rtC, t, y, 2) });
        } catch (e) {
          refused = { name: (e as Error).constructor.name, argument: (e as W.ArgumentError).argument };
        }
        const leftAfterRefusal = rtC.counters.liveBuffers - live0;
        const resumed = webode.Trainer.resume(rtC, JSON.parse(json), { dataset: new webode.TrajectoryDataset(rtC, t, y, 2) });
        const w1 = rtC.counters.hostWaits;
        if (!resumed.sampler) throw new Error('no sampler');
        await run(resumed.trainer, resumed.sampler, args.M);
        const resumedWaits = rtC.counters.hostWaits - w1;
        const got = await resumed.trainer.checkpoint(resumed.sampler);
        // The uninterrupted run, on the same device as the resumed one (which shares its compiled pipelines).
        const a = setup(rtC, args.opts[k]);
        await run(a.trainer, a.sampler, args.N + args.M);
        const ref = await a.trainer.checkpoint(a.sampler);
        out.push({ ref, got, checkpointWaits, resumedWaits, refused, leftAfterRefusal, bytes: json.length });
      }
      rtC.destroy();
      return { runs: out, uncaptured };
    },
    { opts, N, M },
  );
}

let results: Awaited<ReturnType<typeof roundTrips>> | null = null;

describe('checkpoint, JSON round trip, resume on a new runtime', () => {
  OPTIMIZERS.forEach((opt, k) => {
    it(`${opt.kind}: ${N} + checkpoint + ${M} iterations on a new runtime are bit-identical to ${N + M} uninterrupted`, async () => {
      results ??= await roundTrips(OPTIMIZERS);
      const r = results.runs[k];
      console.log(
        `[checkpoint ${opt.kind}] ${r.bytes} bytes of JSON; losses ${r.ref.ledger.losses.map((l) => l?.toExponential(4)).join(' ')}; ` +
          `host waits: checkpoint ${r.checkpointWaits}, ${M} resumed iterations ${r.resumedWaits}`,
      );
      expect(results.uncaptured).toEqual([]);
      expect(r.checkpointWaits).toBe(1);
      expect(r.resumedWaits).toBe(0);
      expect(r.refused).toEqual({ name: 'ModelFormatError', argument: 'checkpoint.optimizer.state[0]' });
      expect(r.leftAfterRefusal).toBe(1); // the refused call's dataset (one buffer, the caller's), nothing of the trainer
      expect(r.ref.ledger.losses).toHaveLength(N + M);
      for (const l of r.ref.ledger.losses) expect(l).toBeGreaterThan(0);
      expect(r.got.ledger).toEqual(r.ref.ledger);
      expect(r.got.model.mlp.parameters).toEqual(r.ref.model.mlp.parameters);
      expect(r.got.optimizer).toEqual(r.ref.optimizer);
      expect(r.got.optimizer.steps).toBe(N + M);
      expect(r.got.optimizer.state.length).toBe(opt.kind === 'adam' ? 2 : 1);
      expect(r.got.sampler).toEqual({ kind: 'windows', batch: 8, length: 4, seed: 5, draws: N + M });
    });
  });
});
