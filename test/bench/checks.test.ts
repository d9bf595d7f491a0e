// The pure checks behind the PnC suites' rule verdicts (bench/lib/checks.ts, bench/lib/certs.ts
// pkiSerialOracle): hash data format, decimal serials found against a real bench PKI, the back-off
// analysis, limits, EV detail parsing, the meter-poll verdict (a dead meter is the rig's fault), the
// exact-entries check (hash data of a contract chain, V2GCertificateChain children) and waitForEv (the
// EV's timeout is "nothing came", its LinkError the rig's). Each rule has a passing and a failing case.
import { beforeAll, describe, expect, it } from 'vitest';
import { freshV2gRoot, hashDataOf, pkiSerialOracle } from '../../bench/lib/certs.ts';
import { analyzeBackoff, asInRange, asNumber, configMap, decimalSerialProblems, evDetailText, exactEntriesProblems, hashDataProblems, meterPollProblem, outOfRange, type ExpectedEntry } from '../../bench/lib/checks.ts';
import { checkMeterPoll, waitForEv, type PncContext } from '../../bench/lib/pnc.ts';
import { LinkError, ProtocolViolation, type EvEmulator, type EvStateEvent } from '../../drivers/capabilities.ts';
import { generatePki, hashDataMatches, ocspRequestData, type BenchPki, type CertificateHashData, type PkiCert } from '../../src/pki/index.ts';

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

describe('meterPollProblem / checkMeterPoll', () => {
  const limits = (share: unknown) => ({ limitValue: (k: string) => (k === 'pnc.meter_max_failed_share' ? share : undefined) });

  it('passes a poll with readings and few failures', () => {
    expect(meterPollProblem({ readings: 10, failures: 2 }, 0.2)).toBeUndefined();
    expect(() => checkMeterPoll(limits(0.2), { readings: 10, failures: 0, overruns: 0 }, undefined)).not.toThrow();
  });

  it('no reading at all, or too many failures, is the meter\'s LinkError (INFRA), not a charger verdict', () => {
    expect(meterPollProblem({ readings: 0, failures: 3 }, 0.2)).toMatch(/^no meter reading during the session \(3 failed\)/);
    expect(meterPollProblem(undefined, 0.2)).toMatch(/no meter reading/);
    expect(meterPollProblem({ readings: 6, failures: 4 }, 0.2)).toMatch(/^4 of 10 meter readings during the session failed/);
    const e = (() => {
      try {
        checkMeterPoll(limits(0.2), { readings: 0, failures: 5, overruns: 0 }, undefined);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(LinkError);
    expect((e as LinkError).resource).toBe('meter');
  });

  it('rethrows the poll\'s own LinkError and wraps anything else as the meter\'s', () => {
    const dead = new LinkError('meter', 'no answer from unit 1');
    expect(() => checkMeterPoll(limits(0.2), { readings: 3, failures: 0, overruns: 0 }, dead)).toThrow(dead);
    expect(() => checkMeterPoll(limits(0.2), undefined, new Error('socket closed'))).toThrow(/^meter: polling during the session failed: socket closed$/);
  });

  it('names a bad limit value', () => {
    expect(() => checkMeterPoll(limits(2), { readings: 3, failures: 0, overruns: 0 }, undefined)).toThrow(/limit pnc.meter_max_failed_share: must be <= 1, got 2/);
  });
});

describe('waitForEv', () => {
  type Wait = EvEmulator['waitForState'];
  const ctxWith = (waitForState: Wait, signal: AbortSignal = new AbortController().signal): PncContext => ({ signal, d: { ev: { waitForState } } }) as unknown as PncContext;
  const ev: EvStateEvent = { state: 'AuthorizationFailed', t: 1_000, detail: 'contract revoked' };

  it('waits once for any of the states and resolves with the event that came', async () => {
    const calls: Parameters<Wait>[] = [];
    const ctx = ctxWith((state, opts) => {
      calls.push([state, opts]);
      return Promise.resolve(ev);
    });
    expect(await waitForEv(ctx, ['Authorized', 'AuthorizationFailed'], 900, 5_000)).toBe(ev);
    expect(calls).toEqual([[['Authorized', 'AuthorizationFailed'], { since: 900, timeoutMs: 5_000, signal: ctx.signal }]]);
    expect(await waitForEv(ctxWith(() => Promise.reject(new Error('not called'))), [], 900, 5_000)).toBeUndefined();
  });

  it('the EV timeout (a ProtocolViolation, also one from another copy of the module) is "nothing came"', async () => {
    expect(await waitForEv(ctxWith(() => Promise.reject(new ProtocolViolation('ev.state.timeout', 'EV did not reach …'))), ['C'], 0, 10)).toBeUndefined();
    const foreign = Object.assign(new Error('[ev.state.timeout] …'), { name: 'ProtocolViolation' });
    expect(await waitForEv(ctxWith(() => Promise.reject(foreign)), ['C'], 0, 10)).toBeUndefined();
  });

  it('the EV link going down, any other error, or a wait ended by the phase is thrown', async () => {
    const down = new LinkError('ev', 'the MQTT link was down');
    await expect(waitForEv(ctxWith(() => Promise.reject(down)), ['C'], 0, 10)).rejects.toBe(down);
    const bug = new TypeError('bad');
    await expect(waitForEv(ctxWith(() => Promise.reject(bug)), ['C'], 0, 10)).rejects.toBe(bug);
    const phase = new AbortController();
    phase.abort();
    const late = new ProtocolViolation('ev.state.timeout', 'EV did not reach …');
    await expect(waitForEv(ctxWith(() => Promise.reject(late), phase.signal), ['C'], 0, 10)).rejects.toBe(late);
  });
});

describe('exactEntriesProblems (hash data of the contract chain without its root)', () => {
  const entry = (cert: PkiCert, issuer: PkiCert): ExpectedEntry => {
    const want = hashDataOf(cert, issuer);
    return { label: cert.subject, matches: (e) => typeof e === 'object' && e !== null && hashDataMatches(e as CertificateHashData, want) };
  };
  let expected: ExpectedEntry[];
  let sub2: CertificateHashData;
  let sub1: CertificateHashData;
  beforeAll(() => {
    expected = [entry(pki.cert('mo-sub2'), pki.cert('mo-sub1')), entry(pki.cert('mo-sub1'), pki.cert('mo-root'))];
    sub2 = hashDataOf(pki.cert('mo-sub2'), pki.cert('mo-sub1'));
    sub1 = hashDataOf(pki.cert('mo-sub1'), pki.cert('mo-root'));
  });

  it('passes exactly the expected entries in any order', () => {
    expect(exactEntriesProblems([sub1, sub2], expected, 'h')).toEqual([]);
  });

  it('names a missing entry, a duplicate and an extra one (the root)', () => {
    expect(exactEntriesProblems([sub2], expected, 'h')).toEqual([`h has no entry for the ${pki.cert('mo-sub1').subject}`]);
    expect(exactEntriesProblems([sub2, sub2, sub1], expected, 'h')).toEqual([`h lists the ${pki.cert('mo-sub2').subject} 2 times`]);
    const root = hashDataOf(pki.cert('mo-root'));
    const p = exactEntriesProblems([sub2, sub1, root], expected, 'h');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^h\[2\] \(serial ".+"\) is none of: /);
  });

  it('names an entry that two expected entries both claim (fewer entries than expected is never clean)', () => {
    // a loose matcher that also takes MO Sub-CA 1's hash data: one entry would stand for two certificates
    const loose: ExpectedEntry = { label: 'any MO sub-CA', matches: (e) => expected.some((x) => x.matches(e)) };
    const p = exactEntriesProblems([sub2, sub1], [...expected, loose], 'h');
    expect(p).toEqual([
      `h lists the any MO sub-CA 2 times`,
      `h[0] stands for several entries at once: ${pki.cert('mo-sub2').subject}, any MO sub-CA`,
      `h[1] stands for several entries at once: ${pki.cert('mo-sub1').subject}, any MO sub-CA`,
    ]);
    // one entry, two labels, both "found once": only the new rule catches it
    const single = exactEntriesProblems([sub2], [expected[0] as ExpectedEntry, { label: 'the first', matches: (e) => e === sub2 }], 'h');
    expect(single).toEqual([`h[0] stands for several entries at once: ${pki.cert('mo-sub2').subject}, the first`]);
  });
});

describe('freshV2gRoot', () => {
  it('makes distinct self-signed CA roots', () => {
    const a = freshV2gRoot(1);
    const b = freshV2gRoot(2);
    expect(a.isSelfIssued).toBe(true);
    expect(a.basicConstraints?.ca).toBe(true);
    expect(a.serialHex).not.toBe(b.serialHex);
    expect(a.subject).toMatch(/PNCBENCH Fill Root 1/);
    expect(a.notBefore.getTime()).toBeLessThan(Date.now());
  });
});
