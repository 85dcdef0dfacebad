/**
 * Numerical faults that solve-failures.test.ts does not reach: a
 * deterministic step-size underflow in the forward solve (with the finished
 * sample kept and marked), and failures of the backward solve (maxSteps
 * exhausted, non-finite values), which reject with `OdeSolveError` naming
 * every failing sample, its kind and the time it reached, carry the partial
 * `Gradients`, and leave nothing allocated once those are destroyed.
 *
 * Underflow: z' = λ z with λ = −1e8 on [1, 2]. dopri5 is stable only for
 * |h λ| ≲ 3.3, i.e. h ≲ 3.3e-8, while the kernel's step floor near t = 1 is
 * 4·2⁻²³·|t| ≈ 4.8e-7 (src/wgsl/rk_core.wgsl: below it a step no longer moves t
 * in float32). Any step the controller tries near the floor is unstable and
 * rejected, so the sample must fail 'step-underflow' at (or just after)
 * t = 1 (measured: at t = 1, with no step accepted). A second sample with
 * z0 = 0 has f = 0 throughout and must finish with z(2) = 0 exactly.
 *
 * The tests share one runtime (kept on the page), so the adjoint kernel is
 * compiled once: on SwiftShader that is most of the time of this file.
 */
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/index';
import type { WebodeTestHandle } from './harness';
import { useHarness } from './solve-helpers';

declare const webodeTest: WebodeTestHandle;
declare global {
  interface Window {
    numericsRuntime?: Promise<Runtime>;
  }
}

const harness = useHarness();

describe('forward: step-size underflow', () => {
  it("z' = −1e8·z on [1, 2], dopri5: sample 0 fails 'step-underflow' just after t = 1; sample 1 (z0 = 0) finishes and is marked done", async () => {
    const r = await harness().page.evaluate(async () => {
      const { webode, report } = webodeTest;
      const rt = await (window.numericsRuntime ??= webode.createRuntime({ onUncapturedError: (e) => console.error(`uncaptured WebGPU error: ${e.message}`) }));
      const live0 = rt.counters.liveBuffers;
      {
        const { value, gpuErrors } = await webodeTest.errorScopes(rt.device, async () => {
          const f = new webode.MLP(rt, { layers: [1, 1], activation: 'identity' });
          f.setParameters([-1e8, 0]);
          let error = null;
          let out = null;
          try {
            (await webode.odeint(f, [1, 0], [1, 1.5, 2], { method: 'dopri5' })).destroy();
          } catch (e) {
            error = report(e);
            if (e instanceof webode.OdeSolveError) {
              const sol = e.solution as InstanceType<typeof webode.Solution>;
              const s = await sol.stats();
              out = { y: Array.from(await sol.y.read()), status: [...s.status], tReached: Array.from(s.tReached), outputs: Array.from(s.outputsWritten), accepted: Array.from(s.accepted) };
              sol.destroy();
            }
          }
          f.destroy();
          return { error, out, live: rt.counters.liveBuffers - live0 };
        });
        return { ...value, gpuErrors };
      }
    });
    console.log(`[measure] underflow: ${r.error?.message}; ${JSON.stringify(r.out)}`);
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('OdeSolveError');
    expect(r.error!.failures).toHaveLength(1);
    const f = r.error!.failures![0];
    expect([f.sample, f.kind]).toEqual([0, 'step-underflow']);
    expect(f.t).toBeGreaterThanOrEqual(1);
    expect(f.t).toBeLessThan(1.001);
    expect(r.error!.message).toMatch(/solve failed for 1 of 2 samples: sample 0: step-underflow at t = 1/);
    expect(r.out!.status).toEqual(['step-underflow', 'done']);
    expect(r.out!.tReached[1]).toBe(2);
    expect(r.out!.outputs).toEqual([1, 3]);
    // Sample 1's outputs ([T][B][D] = [3][2][1]): z = 0 at every time; sample 0's first output is z0.
    expect([r.out!.y[1], r.out!.y[3], r.out!.y[5]]).toEqual([0, 0, 0]);
    expect(r.out!.y[0]).toBe(1);
    expect(r.live).toBe(0);
  });
});

describe('backward failures', () => {
  /**
   * A forward solve of [2, 8, 2] on B = 3, then backward under `kind`'s fault
   * with the adjoint kernel `kernel`; returns the error and the partial gradients.
   */
  async function failingBackward(kind: 'max-steps' | 'nonfinite', kernel: 'invocation' | 'lanes' | 'workgroup') {
    return harness().page.evaluate(async (k, kern) => {
      const { webode, report } = webodeTest;
      const rt = await (window.numericsRuntime ??= webode.createRuntime({ onUncapturedError: (e) => console.error(`uncaptured WebGPU error: ${e.message}`) }));
      {
        const { value, gpuErrors } = await webodeTest.errorScopes(rt.device, async () => {
          const f = new webode.MLP(rt, { layers: [2, 8, 2], seed: 3 });
          const sol = await webode.odeint(f, [0.5, -0.5, 1, 0.25, -1, 0.75], [0, 0.5, 1], { method: 'dopri5' });
          const live0 = rt.counters.liveBuffers;
          if (k === 'nonfinite') {
            const p = await f.readParameters();
            p[3] = NaN; // a first-layer weight: f is NaN everywhere
            f.setParameters(p);
          }
          let error = null;
          let partial = null;
          try {
            (await sol.backward(new Float32Array(18).fill(1), k === 'max-steps' ? { maxSteps: 1, kernel: kern } : { kernel: kern })).destroy();
          } catch (e) {
            error = report(e);
            if (e instanceof webode.OdeSolveError) {
              const g = e.solution as InstanceType<typeof webode.Gradients>;
              partial = { y0: g.y0.shape, params: g.params.shape, isGradients: g instanceof webode.Gradients };
              g.destroy();
            }
          }
          const leaked = rt.counters.liveBuffers - live0;
          sol.destroy();
          f.destroy();
          return { error, partial, leaked };
        });
        return { ...value, gpuErrors };
      }
    }, kind, kernel);
  }

  const KERNELS = ['invocation', 'lanes', 'workgroup'] as const;

  it.each(KERNELS)("maxSteps: 1 for the reverse solve over two segments (kernel '%s'): OdeSolveError, every sample 'max-steps' between t = 1 and t = 0, partial Gradients", async (kernel) => {
    const r = await failingBackward('max-steps', kernel);
    console.log(`[measure] backward max-steps (${kernel}): ${r.error?.message}`);
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('OdeSolveError');
    expect(r.error!.failures!.map((f) => [f.sample, f.kind])).toEqual([
      [0, 'max-steps'],
      [1, 'max-steps'],
      [2, 'max-steps'],
    ]);
    for (const f of r.error!.failures!) {
      expect(f.t).toBeLessThan(1);
      expect(f.t).toBeGreaterThan(0);
    }
    expect(r.partial).toEqual({ y0: [3, 2], params: [42], isGradients: true });
    expect(r.leaked).toBe(0);
  });

  it.each(KERNELS)("parameters made NaN after the forward solve (kernel '%s'): OdeSolveError, every sample 'nonfinite' at t = 1 (where the reverse solve starts)", async (kernel) => {
    const r = await failingBackward('nonfinite', kernel);
    console.log(`[measure] backward nonfinite (${kernel}): ${r.error?.message}`);
    expect(r.gpuErrors).toEqual([]);
    expect(r.error?.name).toBe('OdeSolveError');
    expect(r.error!.failures).toEqual([0, 1, 2].map((sample) => ({ sample, kind: 'nonfinite', t: 1 })));
    expect(r.partial?.isGradients).toBe(true);
    expect(r.leaked).toBe(0);
  });
});
