// Validators and limit-file parameters: every kind, marginal bands, and the shape checks that turn
// a bad limit into a clear message.
import { describe, expect, it } from 'vitest';
import { measure, toValidatorSpec, validate } from '../../src/runner/measure.ts';

describe('validators', () => {
  it('inRange with marginal bands', () => {
    const s = [toValidatorSpec('inRange', { min: 0, max: 100, marginalMin: 10, marginalMax: 90 }, 'x')];
    expect(validate(s, 50)).toEqual({ outcome: 'PASS', marginal: false });
    expect(validate(s, 95)).toEqual({ outcome: 'PASS', marginal: true, detail: '95 above marginalMax 90' });
    expect(validate(s, 5)).toEqual({ outcome: 'PASS', marginal: true, detail: '5 below marginalMin 10' });
    expect(validate(s, 101)).toEqual({ outcome: 'FAIL', marginal: false, detail: '101 above max 100' });
    expect(validate(s, -1)).toEqual({ outcome: 'FAIL', marginal: false, detail: '-1 below min 0' });
    expect(validate(s, 'fast').outcome).toBe('FAIL');
    expect(validate(s, Number.NaN).outcome).toBe('FAIL');
  });

  it('equals, oneOf, matches', () => {
    expect(validate([toValidatorSpec('equals', 'Accepted', 'x')], 'Accepted').outcome).toBe('PASS');
    expect(validate([toValidatorSpec('equals', 'Accepted', 'x')], 'Blocked')).toEqual({ outcome: 'FAIL', marginal: false, detail: '"Blocked" is not "Accepted"' });
    expect(validate([toValidatorSpec('equals', 3, 'x')], '3').outcome).toBe('FAIL');
    expect(validate([toValidatorSpec('oneOf', ['A', 'B'], 'x')], 'B').outcome).toBe('PASS');
    expect(validate([toValidatorSpec('oneOf', ['A', 'B'], 'x')], 'C').detail).toBe('"C" is not one of "A", "B"');
    expect(validate([toValidatorSpec('matches', /^EM[A-Z]{3}/i, 'x')], 'emabc123').outcome).toBe('PASS');
    expect(toValidatorSpec('matches', /a/i, 'x')).toEqual({ kind: 'matches', pattern: 'a', flags: 'i' });
    expect(validate([toValidatorSpec('matches', '^\\d+$', 'x')], 'x12').outcome).toBe('FAIL');
  });

  it('withinPercent', () => {
    const s = [toValidatorSpec('withinPercent', { target: 1000, percent: 1, marginalPercent: 0.5 }, 'x')];
    expect(validate(s, 1004).outcome).toBe('PASS');
    expect(validate(s, 1007)).toMatchObject({ outcome: 'PASS', marginal: true });
    expect(validate(s, 989)).toMatchObject({ outcome: 'FAIL', detail: '989 is 1.100 % from 1000 (limit 1 %)' });
  });

  it('all validators must pass; the first failure decides', () => {
    const s = [toValidatorSpec('inRange', { min: 0 }, 'x'), toValidatorSpec('oneOf', [1, 2], 'x')];
    expect(validate(s, 2).outcome).toBe('PASS');
    expect(validate(s, 3).detail).toBe('3 is not one of 1, 2');
  });

  it('rejects limit parameters of the wrong shape with a clear message', () => {
    expect(() => toValidatorSpec('inRange', { maximum: 3 }, 'limits.yaml#a')).toThrow('limits.yaml#a: inRange expects only the keys min, max, marginalMin, marginalMax (unknown "maximum")');
    expect(() => toValidatorSpec('inRange', {}, 'w')).toThrow('at least one of min and max');
    expect(() => toValidatorSpec('inRange', { min: 5, max: 1 }, 'w')).toThrow('min <= max');
    expect(() => toValidatorSpec('inRange', { max: '3' }, 'w')).toThrow('"max" to be a number');
    expect(() => toValidatorSpec('withinPercent', { target: 1 }, 'w')).toThrow('the key "percent"');
    expect(() => toValidatorSpec('oneOf', [], 'w')).toThrow('a non-empty list of scalars');
    expect(() => toValidatorSpec('matches', '(', 'w')).toThrow('a valid regular expression');
    expect(() => toValidatorSpec('equals', { a: 1 }, 'w')).toThrow('a number, string, boolean or null');
  });

  it('measurement names are checked', () => {
    expect(() => measure('bad name')).toThrow('must match');
    expect(measure('ok_name.sub').unit('ms').name).toBe('ok_name.sub');
  });
});
