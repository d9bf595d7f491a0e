// The pure checks behind the PnC suites' rule verdicts (bench/lib/checks.ts, bench/lib/certs.ts
// pkiSerialOracle): hash data format, decimal serials found against a real bench PKI, the back-off
// analysis, limits and EV detail parsing. Each rule has a passing and a failing case.
import { beforeAll, describe, expect, it } from 'vitest';
import { hashDataOf, pkiSerialOracle } from '../../bench/lib/certs.ts';
import { analyzeBackoff, asInRange, asNumber, configMap, decimalSerialProblems, evDetailText, hashDataProblems, outOfRange } from '../../bench/lib/checks.ts';
import { generatePki, ocspRequestData, type BenchPki } from '../../src/pki/index.ts';

let pki: BenchPki;
beforeAll(() => {
  pki = generatePki({ seed: 'bench-checks-test', ocspUrl: 'http://127.0.0.1:9/ocsp' });
});

describe('hashDataProblems', () => {
  it('accepts hash data exactly as src/pki computes it (what a correct charger sends)', () => {
    const contractChain = [hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1')), hashDataOf(pki.cert('mo-sub1'), pki.cert('mo-root'))];
    for (const h of contractChain) expect(hashDataProblems(h, 'h')).toEqual([]);
    expect(hashDataProblems(ocspRequestData(pki.cert('mo-sub2'), pki.cert('mo-sub1')), 'h', { responderUrl: true })).toEqual([]);
  });

  it('names upper-case issuer hashes', () => {
    const h = hashDataOf(pki.cert('mo-root'));
    const p = hashDataProblems({ ...h, issuerNameHash: h.issuerNameHash.toUpperCase() }, 'x');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^x\.issuerNameHash .* is not lower-case hex \(upper-case digits\)$/);
    expect(hashDataProblems({ ...h, issuerKeyHash: h.issuerKeyHash.toUpperCase() }, 'x')[0]).toMatch(/issuerKeyHash/);
  });

  it('names a serial with leading zeros, non-hex, or missing', () => {
    const h = hashDataOf(pki.cert('mo-root'));
    expect(hashDataProblems({ ...h, serialNumber: `00${h.serialNumber}` }, 'x')).toEqual([`x.serialNumber "00${h.serialNumber}" has leading zeros`]);
    expect(hashDataProblems({ ...h, serialNumber: h.serialNumber.toUpperCase() }, 'x')[0]).toMatch(/serialNumber .* is not lower-case hex/);
    expect(hashDataProblems({ ...h, serialNumber: undefined }, 'x')).toEqual(['x.serialNumber is missing']);
    expect(hashDataProblems({ ...h, serialNumber: '0' }, 'x')).toEqual([]);
  });

  it('names a wrong algorithm, a wrong hash length and a missing responder URL', () => {
    const h = hashDataOf(pki.cert('mo-root'));
    expect(hashDataProblems({ ...h, hashAlgorithm: 'MD5' }, 'x')[0]).toMatch(/hashAlgorithm "MD5"/);
    expect(hashDataProblems({ ...h, hashAlgorithm: 'SHA384' }, 'x')).toEqual(['x.issuerNameHash has 64 hex digits; SHA384 gives 96', 'x.issuerKeyHash has 64 hex digits; SHA384 gives 96']);
    expect(hashDataProblems(h, 'x', { responderUrl: true })).toEqual(['x.responderURL undefined is not an http(s) URL']);
    expect(hashDataProblems('nope', 'x')).toEqual(['x is not an object']);
  });
});

describe('decimalSerialProblems with the bench PKI as oracle', () => {
  it('passes serials the issuer issued', () => {
    const entries = [hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1')), hashDataOf(pki.cert('mo-sub1'), pki.cert('mo-root'))];
    expect(decimalSerialProblems(entries, pkiSerialOracle(pki), 'd')).toEqual({ problems: [], unchecked: 0 });
  });

  it('finds a serial written in decimal and names its hex form', () => {
    const h = hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1'));
    const decimal = BigInt(`0x${h.serialNumber}`).toString(10);
    const r = decimalSerialProblems([h, { ...h, serialNumber: decimal }], pkiSerialOracle(pki), 'd');
    expect(r.problems).toEqual([`d[1].serialNumber "${decimal}" is the decimal form of the certificate's serial; hex is "${h.serialNumber}"`]);
  });

  it('names a serial the issuer never issued, and leaves unknown issuers unchecked', () => {
    const h = hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1'));
    const r = decimalSerialProblems([{ ...h, serialNumber: 'abc' }, { ...h, issuerNameHash: 'ab'.repeat(32) }], pkiSerialOracle(pki), 'd');
    expect(r.problems).toEqual(['d[0].serialNumber "abc" names no certificate of that issuer']);
    expect(r.unchecked).toBe(1);
  });

  it('matches issuers whatever the hex case (upper case is a format problem, not an unknown issuer)', () => {
    const h = hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1'));
    expect(decimalSerialProblems([{ ...h, issuerNameHash: h.issuerNameHash.toUpperCase() }], pkiSerialOracle(pki), 'd')).toEqual({ problems: [], unchecked: 0 });
  });
});

describe('analyzeBackoff', () => {
  const e = { waitMinimumS: 1, repeatTimes: 2, toleranceMs: 100 };

  it('accepts sends at WaitMinimum, then twice that', () => {
    const a = analyzeBackoff([0, 1_005, 3_010], e);
    expect(a.problems).toEqual([]);
    expect(a.gapsS).toEqual([1.005, 2.005]);
    expect(a.expectedGapsS).toEqual([1, 2]);
    expect(a.ratios[1]).toBeCloseTo(1.0025, 6);
  });

  it('flags resends that come too early (the no-backoff fault: 100 ms)', () => {
    const a = analyzeBackoff([0, 100, 200], e);
    expect(a.problems).toEqual([
      'resend 1 came 0.100 s after the previous SignCertificate; CertSigningWaitMinimum=1 asks for 1 s',
      'resend 2 came 0.100 s after the previous SignCertificate; CertSigningWaitMinimum=1 asks for 2 s',
    ]);
  });

  it('tolerates timer granularity but not a missing doubling', () => {
    expect(analyzeBackoff([0, 950, 2_950], e).problems).toEqual([]);
    expect(analyzeBackoff([0, 1_000, 2_000], e).problems).toEqual(['resend 2 came 1.000 s after the previous SignCertificate; CertSigningWaitMinimum=1 asks for 2 s']);
  });

  it('counts sends: too many and too few', () => {
    expect(analyzeBackoff([0, 1_000, 3_000, 7_000], e).problems).toEqual(['4 SignCertificate sends; CertSigningRepeatTimes=2 allows 3']);
    expect(analyzeBackoff([0, 1_000], e).problems).toEqual(['2 SignCertificate send(s); CertSigningRepeatTimes=2 asks for 3 when no CertificateSigned comes']);
  });
});

describe('limits and parsers', () => {
  it('outOfRange judges min and max and lets marginal bands pass', () => {
    expect(outOfRange(5, { min: 1, max: 10, marginalMax: 4 })).toBeUndefined();
    expect(outOfRange(11, { max: 10 })).toBe('11 above max 10');
    expect(outOfRange(0.5, { min: 1 })).toBe('0.5 below min 1');
    expect(outOfRange(NaN, { min: 1 })).toBe('NaN is not a finite number');
  });

  it('asInRange and asNumber read limit values and name the key when they are malformed', () => {
    expect(asInRange('k', { max: 2, marginalMax: 1 })).toEqual({ max: 2, marginalMax: 1 });
    expect(() => asInRange('k', 3)).toThrow(/limit k: expected \{ min\?, max\?/);
    expect(() => asInRange('k', { maximum: 3 })).toThrow('limit k: unknown key "maximum"');
    expect(() => asInRange('k', {})).toThrow('limit k: needs min or max');
    expect(asNumber('w', 500)).toBe(500);
    expect(() => asNumber('w', '500')).toThrow('limit w: expected a number, got "500"');
    expect(() => asNumber('w', -1, { min: 0 })).toThrow('limit w: must be >= 0, got -1');
  });

  it('evDetailText unwraps the JSON text of an MQTT variable', () => {
    expect(evDetailText('"DEPNBC1234567A"')).toBe('DEPNBC1234567A');
    expect(evDetailText('session-id')).toBe('session-id');
    expect(evDetailText('{"a":1}')).toBe('{"a":1}');
    expect(evDetailText(undefined)).toBeUndefined();
  });

  it('configMap keeps reported keys only', () => {
    const m = configMap({ configurationKey: [{ key: 'A', value: '1' }, { key: 'B' }] });
    expect([...m]).toEqual([
      ['A', '1'],
      ['B', undefined],
    ]);
    expect(m.has('C')).toBe(false);
  });
});
