// Limits in words, as report.html and the live server's measurement view show them:
//   limitText({ kind: 'inRange', max: 2000, marginalMax: 1500 }, 'ms')  → '≤ 2000 ms, marginal > 1500'
//   limitsText([], 'W')                                                  → 'none (recorded only)'
import { fmtNum } from './html-svg.ts';
import type { ValidatorSpec } from './record.ts';

const scalar = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** A limit in words and symbols: `≤ 2000 ms, marginal > 1500`, `= "Accepted"`, `1000 Wh ± 2 %`. */
export function limitText(v: ValidatorSpec, unit?: string): string {
  const u = unit ? ` ${unit}` : '';
  switch (v.kind) {
    case 'inRange': {
      const hard =
        v.min !== undefined && v.max !== undefined
          ? `${fmtNum(v.min)} … ${fmtNum(v.max)}${u}`
          : v.min !== undefined
            ? `≥ ${fmtNum(v.min)}${u}`
            : v.max !== undefined
              ? `≤ ${fmtNum(v.max)}${u}`
              : 'any number';
      const marg: string[] = [];
      if (v.marginalMin !== undefined) marg.push(`< ${fmtNum(v.marginalMin)}`);
      if (v.marginalMax !== undefined) marg.push(`> ${fmtNum(v.marginalMax)}`);
      return marg.length ? `${hard}, marginal ${marg.join(' or ')}` : hard;
    }
    case 'equals':
      return `= ${scalar(v.value)}`;
    case 'oneOf':
      return `one of ${v.values.map(scalar).join(', ')}`;
    case 'matches':
      return `matches /${v.pattern}/${v.flags ?? ''}`;
    case 'withinPercent':
      return `${fmtNum(v.target)}${u} ± ${fmtNum(v.percent)} %${v.marginalPercent !== undefined ? `, marginal beyond ± ${fmtNum(v.marginalPercent)} %` : ''}`;
  }
}

/** All limits of a measurement or series in words (`limitText` each, `; `-separated); also the live server's measurement view. */
export const limitsText = (validators: readonly ValidatorSpec[], unit?: string): string =>
  validators.length ? validators.map((v) => limitText(v, unit)).join('; ') : 'none (recorded only)';
