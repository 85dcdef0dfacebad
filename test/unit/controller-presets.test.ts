/**
 * The named controllers `'PI'` and `'I'` resolve to exactly the settings
 * they stand for (the kernels' exponents included), in odeint's options and
 * backward's; anything else is an ArgumentError naming `options.controller`.
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { CONTROLLERS, DEFAULT_CONTROLLER, controllerSettings, resolveController, resolveOptions } from '../../src/solver/options';

const work = { batch: 8, flopsPerEvaluation: 400, adapter: 'gpu' } as const;

describe('named controllers', () => {
  it("'PI' is the default, 'I' is pcoeff 0, icoeff 1 with the default limits", () => {
    expect(CONTROLLERS.PI).toEqual(DEFAULT_CONTROLLER);
    expect(CONTROLLERS.I).toEqual({ ...DEFAULT_CONTROLLER, pcoeff: 0, icoeff: 1 });
    expect(controllerSettings(undefined)).toEqual(DEFAULT_CONTROLLER);
    expect(controllerSettings({ safety: 0.8 })).toEqual({ ...DEFAULT_CONTROLLER, safety: 0.8 });
  });
  it('resolve to the same kernel values as the settings they name (error order 5: β1 = (p + i)/5, β2 = p/5)', () => {
    expect(resolveController('I', 5)).toEqual(resolveController({ pcoeff: 0, icoeff: 1 }, 5));
    expect(resolveController('I', 5)).toMatchObject({ beta1: 1 / 5, beta2: 0 });
    expect(resolveController('PI', 5)).toEqual(resolveController(undefined, 5));
    expect(resolveController('PI', 5)).toMatchObject({ beta1: 0.7 / 5, beta2: 0.4 / 5 });
    const named = resolveOptions({ method: 'dopri5', controller: 'I' }, work);
    const given = resolveOptions({ method: 'dopri5', controller: { pcoeff: 0, icoeff: 1 } }, work);
    expect(named.controller).toEqual(given.controller);
    expect(named.controllerValues).toEqual(given.controllerValues);
  });
  it('anything else is an ArgumentError on options.controller', () => {
    for (const bad of ['P', 'pi', 'i', '', 3, null, true]) {
      expect(() => resolveOptions({ method: 'dopri5', controller: bad as never }, work)).toThrow(ArgumentError);
      try {
        resolveOptions({ method: 'dopri5', controller: bad as never }, work);
      } catch (e) {
        expect((e as ArgumentError).argument).toBe('options.controller');
      }
    }
  });
});
