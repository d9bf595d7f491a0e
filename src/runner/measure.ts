// Measurements: declared, unit-bearing, validated the moment they are set (OpenHTF's model).
// A phase declares what it measures; limits come inline or from limit files by key:
//
//   measure('auth_latency_ms').unit('ms').inRange(limit('timing.auth_latency_ms'))
//   measure('authorize_status').equals('Accepted')
//   measure('dc_power_w').unit('W').series(['t_ms']).inRange({ min: 0, max: 150_000 })
//
// `limit(key)` stands for a whole validator parameter taken from bench/limits/*.yaml or the rig's
// limit files; the runner resolves every key before the run starts and writes the resolved
// values and their source (`file#key`) next to the measurement in the record.
import type { MeasuredValue, ValidatorSpec } from '../report/record.ts';

export class LimitRef {
  constructor(readonly key: string) {}
}

/** A validator parameter read from the limit files under `key`. */
export function limit(key: string): LimitRef {
  return new LimitRef(key);
}

export interface InRangeParams {
  min?: number;
  max?: number;
  /** Values below marginalMin (but not below min) pass as marginal. */
  marginalMin?: number;
  /** Values above marginalMax (but not above max) pass as marginal. */
  marginalMax?: number;
}
export interface WithinPercentParams {
  target: number;
  percent: number;
  marginalPercent?: number;
}

type Kind = ValidatorSpec['kind'];
export interface ValidatorDecl {
  kind: Kind;
  /** Inline parameter, or where to find it in the limit files. */
  param: unknown;
}

export class MeasureBuilder {
  readonly name: string;
  unitName: string | undefined;
  description: string | undefined;
  dims: string[] | undefined;
  isOptional = false;
  readonly validators: ValidatorDecl[] = [];

  constructor(name: string) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new Error(`measurement name "${name}" must match [A-Za-z_][A-Za-z0-9_.]*`);
    this.name = name;
  }
  unit(unit: string): this {
    this.unitName = unit;
    return this;
  }
  doc(text: string): this {
    this.description = text;
    return this;
  }
  /** Not setting it is not a failure. */
  optional(): this {
    this.isOptional = true;
    return this;
  }
  /** A dimensioned measurement: points of [...coords, value], e.g. dims ['t_ms']. Validators apply to every value. */
  series(dims: string[]): this {
    this.dims = dims;
    return this;
  }
  inRange(p: InRangeParams | LimitRef): this {
    return this.add('inRange', p);
  }
  equals(value: MeasuredValue | LimitRef): this {
    return this.add('equals', value);
  }
  oneOf(values: MeasuredValue[] | LimitRef): this {
    return this.add('oneOf', values);
  }
  matches(pattern: RegExp | string | LimitRef): this {
    return this.add('matches', pattern);
  }
  withinPercent(p: WithinPercentParams | LimitRef): this {
    return this.add('withinPercent', p);
  }
  private add(kind: Kind, param: unknown): this {
    this.validators.push({ kind, param });
    return this;
  }
}

export function measure(name: string): MeasureBuilder {
  return new MeasureBuilder(name);
}

/**
 * Turns an inline or limit-file parameter into a validator spec, or throws with what is wrong
 * with its shape. `where` names the origin for the message (a limit key or the measurement).
 */
export function toValidatorSpec(kind: Kind, param: unknown, where: string): ValidatorSpec {
  const fail = (expected: string): never => {
    throw new Error(`${where}: ${kind} expects ${expected}, got ${JSON.stringify(param)}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof RegExp);
  const isScalar = (v: unknown): v is MeasuredValue => v === null || ['number', 'string', 'boolean'].includes(typeof v);
  const numbersOnly = (o: Record<string, unknown>, allowed: string[], required: string[]) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`only the keys ${allowed.join(', ')} (unknown "${k}")`);
    for (const k of required) if (!(k in o)) fail(`the key "${k}"`);
    for (const [k, v] of Object.entries(o)) if (typeof v !== 'number' || Number.isNaN(v)) fail(`"${k}" to be a number`);
  };
  switch (kind) {
    case 'inRange': {
      if (!isObj(param)) return fail('{ min?, max?, marginalMin?, marginalMax? }');
      numbersOnly(param, ['min', 'max', 'marginalMin', 'marginalMax'], []);
      const p = param as InRangeParams;
      if (p.min === undefined && p.max === undefined) fail('at least one of min and max');
      if (p.min !== undefined && p.max !== undefined && p.min > p.max) fail('min <= max');
      return { kind, ...p };
    }
    case 'withinPercent': {
      if (!isObj(param)) return fail('{ target, percent, marginalPercent? }');
      numbersOnly(param, ['target', 'percent', 'marginalPercent'], ['target', 'percent']);
      return { kind, ...(param as unknown as WithinPercentParams) };
    }
    case 'equals':
      if (!isScalar(param)) fail('a number, string, boolean or null');
      return { kind, value: param as MeasuredValue };
    case 'oneOf':
      if (!Array.isArray(param) || param.length === 0 || !param.every(isScalar)) fail('a non-empty list of scalars');
      return { kind, values: param as MeasuredValue[] };
    case 'matches':
      if (param instanceof RegExp) return { kind, pattern: param.source, ...(param.flags ? { flags: param.flags } : {}) };
      if (typeof param !== 'string') return fail('a regular expression or a string');
      try {
        new RegExp(param);
      } catch (e) {
        fail(`a valid regular expression (${(e as Error).message})`);
      }
      return { kind, pattern: param };
  }
}

export interface Verdict {
  outcome: 'PASS' | 'FAIL';
  marginal: boolean;
  detail?: string;
}

const fmt = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function check(spec: ValidatorSpec, value: MeasuredValue): Verdict {
  switch (spec.kind) {
    case 'inRange': {
      if (typeof value !== 'number' || Number.isNaN(value)) return { outcome: 'FAIL', marginal: false, detail: `inRange: ${fmt(value)} is not a number` };
      if (spec.min !== undefined && value < spec.min) return { outcome: 'FAIL', marginal: false, detail: `${value} below min ${spec.min}` };
      if (spec.max !== undefined && value > spec.max) return { outcome: 'FAIL', marginal: false, detail: `${value} above max ${spec.max}` };
      if (spec.marginalMin !== undefined && value < spec.marginalMin) return { outcome: 'PASS', marginal: true, detail: `${value} below marginalMin ${spec.marginalMin}` };
      if (spec.marginalMax !== undefined && value > spec.marginalMax) return { outcome: 'PASS', marginal: true, detail: `${value} above marginalMax ${spec.marginalMax}` };
      return { outcome: 'PASS', marginal: false };
    }
    case 'withinPercent': {
      if (typeof value !== 'number' || Number.isNaN(value)) return { outcome: 'FAIL', marginal: false, detail: `withinPercent: ${fmt(value)} is not a number` };
      const devPct = spec.target === 0 ? (value === 0 ? 0 : Infinity) : (Math.abs(value - spec.target) / Math.abs(spec.target)) * 100;
      const dev = `${value} is ${devPct.toFixed(3)} % from ${spec.target}`;
      if (devPct > spec.percent) return { outcome: 'FAIL', marginal: false, detail: `${dev} (limit ${spec.percent} %)` };
      if (spec.marginalPercent !== undefined && devPct > spec.marginalPercent) return { outcome: 'PASS', marginal: true, detail: `${dev} (marginal beyond ${spec.marginalPercent} %)` };
      return { outcome: 'PASS', marginal: false };
    }
    case 'equals':
      return value === spec.value ? { outcome: 'PASS', marginal: false } : { outcome: 'FAIL', marginal: false, detail: `${fmt(value)} is not ${fmt(spec.value)}` };
    case 'oneOf':
      return spec.values.includes(value)
        ? { outcome: 'PASS', marginal: false }
        : { outcome: 'FAIL', marginal: false, detail: `${fmt(value)} is not one of ${spec.values.map(fmt).join(', ')}` };
    case 'matches':
      return new RegExp(spec.pattern, spec.flags).test(String(value))
        ? { outcome: 'PASS', marginal: false }
        : { outcome: 'FAIL', marginal: false, detail: `${fmt(value)} does not match /${spec.pattern}/${spec.flags ?? ''}` };
  }
}

/** Applies every validator; the first failure decides, marginal notes are collected. */
export function validate(specs: readonly ValidatorSpec[], value: MeasuredValue): Verdict {
  const notes: string[] = [];
  for (const s of specs) {
    const v = check(s, value);
    if (v.outcome === 'FAIL') return v;
    if (v.marginal && v.detail) notes.push(v.detail);
  }
  return notes.length ? { outcome: 'PASS', marginal: true, detail: notes.join('; ') } : { outcome: 'PASS', marginal: false };
}
