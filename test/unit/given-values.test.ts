/**
 * `checkGivenValues` (src/runtime/tensor.ts), the check of a cotangent given
 * as an array: exactly n finite numbers, the argument or its first bad
 * element named. (Tensors are checked on the GPU: test/gpu/fault-arguments.)
 */
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { checkGivenValues } from '../../src/runtime/tensor';
import type { Runtime } from '../../src/runtime/runtime';

const rt = {} as Runtime;
const argumentOf = (f: () => void): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgumentError);
    return (e as ArgumentError).argument;
  }
  return 'no error';
};

describe('checkGivenValues', () => {
  it('takes exactly n finite numbers', () => {
    expect(() => checkGivenValues(rt, 'dLdy', [1, -2, 0.5], 3, '3 values')).not.toThrow();
    expect(() => checkGivenValues(rt, 'dLdy', Float32Array.of(1, 2), 2, '2 values')).not.toThrow();
  });
  it('names the argument when the length is wrong or it is no array', () => {
    expect(argumentOf(() => checkGivenValues(rt, 'dLdy', [1, 2], 3, '3 values'))).toBe('dLdy');
    expect(argumentOf(() => checkGivenValues(rt, 'dLdlogp', null, 1, '1 value'))).toBe('dLdlogp');
    expect(argumentOf(() => checkGivenValues(rt, 'dLdlogp', 7, 1, '1 value'))).toBe('dLdlogp');
  });
  it('names the first element that is not a finite number', () => {
    expect(argumentOf(() => checkGivenValues(rt, 'dLdy', [1, NaN, Infinity], 3, '3 values'))).toBe('dLdy[1]');
    expect(argumentOf(() => checkGivenValues(rt, 'dLdy', [1, 2, '3'], 3, '3 values'))).toBe('dLdy[2]');
  });
});
