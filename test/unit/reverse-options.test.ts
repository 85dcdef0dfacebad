/**
 * The options of a reverse solve (adjoint, flow backward) from those asked
 * for and the forward solve's resolved options.
 */
import { expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { resolveOptions, reverseSolveOptions } from '../../src/solver/options';

const WORK = { batch: 8, flopsPerEvaluation: 400, adapter: 'gpu' } as const;
const adaptiveForward = (() => {
  const { tableau: _, ...o } = resolveOptions({ method: 'tsit5', rtol: 1e-5, atol: 1e-6, maxSteps: 500, controller: 'I' }, WORK);
  return o;
})();
const fixedForward = (() => {
  const { tableau: _, ...o } = resolveOptions({ method: 'rk4', stepSize: 0.05 }, WORK);
  return o;
})();

it('defaults to the forward solve\'s method, tolerances, maxSteps and controller', () => {
  const r = reverseSolveOptions({}, adaptiveForward);
  expect(r).toMatchObject({ method: 'tsit5', rtol: 1e-5, atol: 1e-6, maxSteps: 500, stepSize: undefined, firstStep: undefined, stepsPerDispatch: undefined });
  expect(r.controller).toEqual(adaptiveForward.controller);
  const resolved = resolveOptions(r, WORK);
  expect(resolved.controllerValues).toEqual(adaptiveForward.controllerValues);
});

it('keeps what is asked for', () => {
  const r = reverseSolveOptions({ method: 'dopri5', rtol: 1e-4, firstStep: 0.01, stepsPerDispatch: 3, controller: 'PI', dispatchBudget: 9, deferred: true }, adaptiveForward);
  expect(r).toMatchObject({ method: 'dopri5', rtol: 1e-4, atol: 1e-6, firstStep: 0.01, stepsPerDispatch: 3, controller: 'PI', dispatchBudget: 9, deferred: true });
});

it('a fixed-step reverse method takes the forward step size unless given', () => {
  expect(reverseSolveOptions({}, fixedForward).stepSize).toBe(0.05);
  expect(reverseSolveOptions({ stepSize: 0.01 }, fixedForward).stepSize).toBe(0.01);
  // An adaptive reverse solve of a fixed-step forward one: no step size carried over.
  expect(() => resolveOptions(reverseSolveOptions({ method: 'dopri5' }, fixedForward), WORK)).not.toThrow();
  // A fixed-step reverse solve of an adaptive forward one needs its own.
  expect(() => resolveOptions(reverseSolveOptions({ method: 'rk4' }, adaptiveForward), WORK)).toThrow(ArgumentError);
});

it('a step size given for an adaptive reverse method is rejected, not dropped', () => {
  const e = (() => {
    try {
      resolveOptions(reverseSolveOptions({ stepSize: 0.1 }, adaptiveForward), WORK);
    } catch (err) {
      return err;
    }
    return null;
  })();
  expect(e).toBeInstanceOf(ArgumentError);
  expect((e as ArgumentError).argument).toBe('options.stepSize');
});
