// eMAID check digit against the published vectors (MaEVe, dSPACE), syntax validation with reasons,
// normalised comparison and generation.
import { describe, expect, it } from 'vitest';
import { emaidCheckDigit, emaidEquals, generateEmaid, normalizeEmaid, parseEmaid, PkiInputError, validateEmaid } from '../../src/pki/index.ts';

describe('eMAID check digit', () => {
  // Published vectors: MaEVe's tests and the dSPACE contract certificate (reference §4.3).
  it.each([
    ['GBTWK012345678', 'V'],
    ['CSKTH5U8TC90A1', 'S'],
    ['IHRFRNPCZVPPVE', 'W'],
    ['GBTWK123456789', 'B'],
    ['DEABC123456789', 'Y'],
    ['UKSWI123456791', '5'],
  ])('%s → %s', (base, digit) => {
    expect(emaidCheckDigit(base)).toBe(digit);
    expect(emaidCheckDigit(base.toLowerCase())).toBe(digit);
  });

  it('rejects input that is not 14 normalised characters', () => {
    expect(() => emaidCheckDigit('DE-ABC-123456789')).toThrow(PkiInputError);
    expect(() => emaidCheckDigit('1EABC123456789')).toThrow(/2 letters \+ 12 alphanumerics/);
  });
});

describe('eMAID validation', () => {
  it('accepts DEABC123456789Y with and without separators, case-insensitively', () => {
    for (const s of ['DEABC123456789Y', 'DE-ABC-123456789-Y', 'de-abc-123456789-y', 'DEABC123456789', 'DE-ABC-123456789']) {
      const v = validateEmaid(s);
      expect(v.valid, s).toBe(true);
    }
    expect(normalizeEmaid('de-abc-123456789-y')).toBe('DEABC123456789Y');
    expect(parseEmaid('DE-ABC-123456789')).toMatchObject({ country: 'DE', providerId: 'ABC', instance: '123456789', checkDigit: undefined, expectedCheckDigit: 'Y' });
  });

  it('names the wrong check digit and the expected one', () => {
    const v = validateEmaid('UKSWI123456791A');
    expect(v.valid).toBe(false);
    if (!v.valid) expect(v.reason).toBe('emaid: "UKSWI123456791A" has check digit A, expected 5');
  });

  it('requires a check digit on request', () => {
    const v = validateEmaid('DEABC123456789', { requireCheckDigit: true });
    expect(v.valid).toBe(false);
    if (!v.valid) expect(v.reason).toMatch(/no check digit \(expected Y\)/);
  });

  it.each(['', 'D1ABC123456789', 'DEABC12345678', 'DEABC1234567890YY', 'DE_ABC_123456789', 'DE--ABC123456789', 'DEABC12345678Ü'])('rejects %j with a syntax reason', (s) => {
    const v = validateEmaid(s);
    expect(v.valid).toBe(false);
    if (!v.valid) expect(v.reason).toMatch(/is not an eMAID: expected country \(2 letters\)/);
  });

  it('compares normalised, ignoring a missing check digit on one side', () => {
    expect(emaidEquals('DE-ABC-123456789-Y', 'deabc123456789y')).toBe(true);
    expect(emaidEquals('DEABC123456789', 'DEABC123456789Y')).toBe(true);
    expect(emaidEquals('DEABC123456789Y', 'DEABC123456789X')).toBe(false);
    expect(emaidEquals('DEABC123456789Y', 'DEABC123456780Y')).toBe(false);
    expect(emaidEquals('garbage', 'garbage')).toBe(false);
  });
});

describe('eMAID generation', () => {
  it('generates valid eMAIDs with correct check digits', () => {
    for (let i = 0; i < 200; i++) {
      const e = generateEmaid();
      expect(e).toMatch(/^DEPNBC[A-Z0-9]{8}[A-Z0-9]$/);
      expect(validateEmaid(e, { requireCheckDigit: true }).valid).toBe(true);
    }
  });

  it('honours country, provider, instance and separators', () => {
    expect(generateEmaid({ country: 'de', providerId: 'abc', instance: '123456789', separator: '-' })).toBe('DE-ABC-123456789-Y');
  });

  it('makes a wrong check digit on purpose', () => {
    const e = generateEmaid({ country: 'DE', providerId: 'ABC', instance: '123456789', wrongCheckDigit: true });
    expect(e).not.toBe('DEABC123456789Y');
    expect(validateEmaid(e).valid).toBe(false);
  });

  it('is deterministic with a byte source', () => {
    const bytes = (n: number) => new Uint8Array(n).fill(7);
    expect(generateEmaid({ randomBytes: bytes })).toBe(generateEmaid({ randomBytes: bytes }));
  });

  it('rejects bad parts with the field name', () => {
    expect(() => generateEmaid({ country: 'D' })).toThrow(/^emaid.country: /);
    expect(() => generateEmaid({ providerId: 'AB' })).toThrow(/^emaid.providerId: /);
    expect(() => generateEmaid({ instance: 'C1234' })).toThrow(/^emaid.instance: /);
  });
});
