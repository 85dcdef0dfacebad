/**
 * The error classes and the argument checks that need no GPU, in Node: the
 * class hierarchy users catch with `instanceof`, the messages (argument,
 * value received, what was expected), and the validators behind `new MLP`
 * (validateMlpOptions) and `odeint` (validateTimes, resolveOptions),
 * including the float32 floor on rtol (warned once, raised to MIN_RTOL).
 *
 * That these checks run before any GPU work, on the real entry points, is
 * tested in test/gpu/fault-arguments.test.ts and test/gpu/solve-failures.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ArgumentError,
  DestroyedError,
  DeviceLostError,
  OdeSolveError,
  WebGPUUnavailableError,
  WebodeError,
  describeValue,
} from '../../src/errors';
import { validateMlpOptions } from '../../src/field/mlp';
import { MIN_RTOL, resolveOptions, validateTimes } from '../../src/solver/options';
import { UnknownMethodError } from '../../src/methods/tableau';

/** The ArgumentError `fn` throws (fails if it throws anything else or nothing). */
function argumentError(fn: () => unknown): ArgumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    return e as ArgumentError;
  }
  throw new Error('expected an ArgumentError, nothing was thrown');
}

const WORK = { batch: 4, flopsPerEvaluation: 20, adapter: 'gpu' } as const;

describe('error classes', () => {
  it('every class is a WebodeError and an Error, with its own name', () => {
    const errors = [
      new ArgumentError('x', 1, 'two'),
      new WebGPUUnavailableError('no'),
      new DeviceLostError('destroyed', 'Device was destroyed.'),
      new DestroyedError('MLP'),
      new OdeSolveError([{ sample: 0, kind: 'nonfinite', t: 0 }], null, 1),
      new UnknownMethodError('rk45', ['rk4'], 'options.method'),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(WebodeError);
      expect(e).toBeInstanceOf(Error);
    }
    expect(errors.map((e) => e.name)).toEqual([
      'ArgumentError',
      'WebGPUUnavailableError',
      'DeviceLostError',
      'DestroyedError',
      'OdeSolveError',
      'UnknownMethodError',
    ]);
    expect(errors[5]).toBeInstanceOf(ArgumentError);
  });

  it('ArgumentError names the argument, the value received and what was expected', () => {
    const e = new ArgumentError('options.rtol', -1, 'a finite number > 0');
    expect(e.message).toBe('options.rtol: expected a finite number > 0, received -1');
    expect([e.argument, e.received, e.expected]).toEqual(['options.rtol', -1, 'a finite number > 0']);
  });

  it('describeValue: short descriptions of any value', () => {
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
    expect(describeValue('tanhh')).toBe('"tanhh"');
    expect(describeValue(new Float32Array(7))).toBe('Float32Array of length 7');
    expect(describeValue([1, 2, 3])).toBe('[1, 2, 3] (length 3)');
    expect(describeValue([1, 2, 3, 4, 5, 6, 7, 8])).toBe('[1, 2, 3, 4, 5, 6, …] (length 8)');
    expect(describeValue(() => 0)).toBe('a function');
    expect(describeValue({})).toBe('[object Object]');
  });

  it('DeviceLostError keeps the reason and says what to do', () => {
    const e = new DeviceLostError('unknown', 'GPU process crashed');
    expect(e.reason).toBe('unknown');
    expect(e.message).toBe(
      'GPU device lost (reason: unknown; GPU process crashed); this runtime cannot be used any more: create a new one with createRuntime()',
    );
    expect(new DeviceLostError('destroyed', '').message).toContain('no message');
  });

  it('DestroyedError names the object, and why when it was its runtime', () => {
    expect(new DestroyedError('MLP').message).toBe('MLP has been destroyed and can no longer be used');
    const e = new DestroyedError('Tensor "y"', 'its Runtime was destroyed');
    expect(e.message).toBe('Tensor "y" has been destroyed (its Runtime was destroyed) and can no longer be used');
    expect(e.what).toBe('Tensor "y"');
  });

  it('OdeSolveError lists the first five failures and counts the rest', () => {
    const failures = Array.from({ length: 7 }, (_, i) => ({ sample: i * 2, kind: 'max-steps' as const, t: 0.5 }));
    const e = new OdeSolveError(failures, 'partial', 20);
    expect(e.message).toBe(
      'solve failed for 7 of 20 samples: sample 0: max-steps at t = 0.5; sample 2: max-steps at t = 0.5; sample 4: max-steps at t = 0.5; ' +
        'sample 6: max-steps at t = 0.5; sample 8: max-steps at t = 0.5; … (2 more)',
    );
    expect(e.solution).toBe('partial');
    expect(e.failures).toHaveLength(7);
  });
});

describe('validateMlpOptions (new MLP)', () => {
  const CASES: { name: string; options: unknown; argument: string }[] = [
    { name: 'options not an object', options: null, argument: 'options' },
    { name: 'layers missing', options: {}, argument: 'layers' },
    { name: 'layers not an array', options: { layers: 'big' }, argument: 'layers' },
    { name: 'one width only', options: { layers: [2] }, argument: 'layers' },
    { name: 'zero width', options: { layers: [2, 0, 2] }, argument: 'layers[1]' },
    { name: 'negative width', options: { layers: [2, -4, 2] }, argument: 'layers[1]' },
    { name: 'non-integer width', options: { layers: [2, 2.5, 2] }, argument: 'layers[1]' },
    { name: 'NaN width', options: { layers: [2, 16, NaN] }, argument: 'layers[2]' },
    { name: 'input width ≠ state dimension', options: { layers: [3, 16, 2] }, argument: 'layers[0]' },
    { name: 'input width ≠ state dimension + 1 with timeInput', options: { layers: [2, 16, 2], timeInput: true }, argument: 'layers[0]' },
    { name: 'unknown activation', options: { layers: [2, 16, 2], activation: 'gelu' }, argument: 'activation' },
    { name: 'timeInput not a boolean', options: { layers: [2, 16, 2], timeInput: 'yes' }, argument: 'timeInput' },
  ];
  for (const c of CASES) {
    it(`${c.name}: ArgumentError on ${c.argument}`, () => {
      const e = argumentError(() => validateMlpOptions(c.options as never));
      expect(e.argument).toBe(c.argument);
      expect(e.message.startsWith(`${c.argument}: expected `)).toBe(true);
    });
  }
  it('the expected text says what is wanted', () => {
    expect(argumentError(() => validateMlpOptions({ layers: [3, 16, 2] })).expected).toMatch(/input width must equal the state dimension/);
    expect(argumentError(() => validateMlpOptions({ layers: [2, 16, 2], activation: 'gelu' as never })).expected).toMatch(/tanh.*identity/);
  });
  it('valid options pass, with defaults', () => {
    expect(validateMlpOptions({ layers: [3, 8, 2], timeInput: true })).toEqual({ layers: [3, 8, 2], activation: 'tanh', timeInput: true });
  });
  it("widths beyond WGSL's 8 KiB per-function limit are refused, naming layers and the need", () => {
    // [2, 512, 2]: 2 + 3·512 + 2 = 1,540 floats fits; [2, 1024, 2]: 3,076 does not.
    expect(validateMlpOptions({ layers: [2, 512, 2] }).layers).toEqual([2, 512, 2]);
    expect(validateMlpOptions({ layers: [4, 256, 256, 4] }).layers).toEqual([4, 256, 256, 4]);
    const e = argumentError(() => validateMlpOptions({ layers: [2, 1024, 2] }));
    expect(e.argument).toBe('layers');
    expect(e.expected).toMatch(/8192-byte limit.*need 3076/);
  });
});

describe('validateTimes (odeint t)', () => {
  it('rejects what the GPU tests list, naming t or the bad entry', () => {
    expect(argumentError(() => validateTimes([])).argument).toBe('t');
    expect(argumentError(() => validateTimes(5 as never)).argument).toBe('t');
    expect(argumentError(() => validateTimes([0, NaN])).argument).toBe('t[1]');
    expect(argumentError(() => validateTimes([0, -Infinity])).argument).toBe('t[1]');
    expect(argumentError(() => validateTimes([0, '1' as never])).argument).toBe('t[1]');
    expect(argumentError(() => validateTimes([0, 1, 1])).argument).toBe('t');
    expect(argumentError(() => validateTimes([0, 1, 0.5])).expected).toMatch(/t\[1\] = 1, t\[2\] = 0.5/);
  });
  it('accepts one time, and decreasing times', () => {
    expect(Array.from(validateTimes([3]))).toEqual([3]);
    expect(Array.from(validateTimes([1, 0.5, 0]))).toEqual([1, 0.5, 0]);
  });
});

describe('resolveOptions (odeint options)', () => {
  afterEach(() => vi.restoreAllMocks());
  const CASES: { name: string; options: unknown; argument: string }[] = [
    { name: 'options not an object', options: 'fast', argument: 'options' },
    { name: 'unknown method', options: { method: 'rk45' }, argument: 'options.method' },
    { name: 'rtol NaN', options: { rtol: NaN }, argument: 'options.rtol' },
    { name: 'rtol infinite', options: { rtol: Infinity }, argument: 'options.rtol' },
    { name: 'atol < 0', options: { atol: -1 }, argument: 'options.atol' },
    { name: 'atol NaN', options: { atol: NaN }, argument: 'options.atol' },
    { name: 'stepSize NaN', options: { method: 'rk4', stepSize: NaN }, argument: 'options.stepSize' },
    { name: 'stepSize infinite', options: { method: 'rk4', stepSize: Infinity }, argument: 'options.stepSize' },
    { name: 'firstStep 0', options: { firstStep: 0 }, argument: 'options.firstStep' },
    { name: 'firstStep NaN', options: { firstStep: NaN }, argument: 'options.firstStep' },
    { name: 'maxSteps -1', options: { maxSteps: -1 }, argument: 'options.maxSteps' },
    { name: 'maxSteps NaN', options: { maxSteps: NaN }, argument: 'options.maxSteps' },
    { name: 'maxSteps above 2³²−1', options: { maxSteps: 2 ** 32 }, argument: 'options.maxSteps' },
    { name: 'stepsPerDispatch 2.5', options: { stepsPerDispatch: 2.5 }, argument: 'options.stepsPerDispatch' },
    { name: 'stepsPerDispatch -1', options: { stepsPerDispatch: -1 }, argument: 'options.stepsPerDispatch' },
    { name: 'stepControl unknown', options: { stepControl: 'global' }, argument: 'options.stepControl' },
    { name: 'kernel unknown', options: { kernel: 'warp' }, argument: 'options.kernel' },
    { name: "kernel 'lanes' with batch step control", options: { kernel: 'lanes', stepControl: 'batch' }, argument: 'options.kernel' },
  ];
  for (const c of CASES) {
    it(`${c.name}: ArgumentError on ${c.argument}`, () => {
      expect(argumentError(() => resolveOptions(c.options as never, WORK)).argument).toBe(c.argument);
    });
  }

  it(`rtol below the float32 floor is raised to MIN_RTOL = ${MIN_RTOL}, with one console warning`, () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(resolveOptions({ rtol: 1e-9 }, WORK).rtol).toBe(MIN_RTOL);
    expect(resolveOptions({ rtol: 1e-12 }, WORK).rtol).toBe(MIN_RTOL);
    expect(resolveOptions({ rtol: MIN_RTOL }, WORK).rtol).toBe(MIN_RTOL);
    expect(resolveOptions({ rtol: 2e-7 }, WORK).rtol).toBe(2e-7);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/rtol = 1e-9 is below what float32 arithmetic can honour; using rtol = 1e-7/);
  });
});
