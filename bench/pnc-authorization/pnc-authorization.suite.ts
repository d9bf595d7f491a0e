// PnC authorization (OCPP 2.0.1 use case C07 through the OCA 1.6 application note): DC Contract
// sessions of the EV emulator against the charger, with the bench as CSMS. Checks that the charger
// authorizes the contract with DataTransfer Authorize (never OCPP 1.6 Authorize), with the right
// vendorId, idToken and certificate hash data, validates centrally only when allowed, charges only
// on Accepted, starts the transaction with the eMAID and reports meter values that agree with the
// bench meter. Phases and rule ids: bench/README.md "pnc-authorization".
import { ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import type { ReceivedCall } from '../../src/csms/index.ts';
import { hashDataMatches, parseCertificateChainPem, type CertificateHashData } from '../../src/pki/index.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { benchPki, deleteCertificate, ensureRootInstalled, hashDataOf, pkiSerialOracle, rootHashData } from '../lib/certs.ts';
import { decimalSerialProblems, evDetailText, exactEntriesProblems, hashDataProblems, type ExpectedEntry } from '../lib/checks.ts';
import {
  anyCharging,
  chargePoint,
  charged,
  checkPncTraffic,
  checkTransaction,
  ConfigKeeper,
  ensureContract,
  evTrail,
  recording,
  runContractSession,
  type CallRecorder,
  type PncContext,
  type SessionResult,
} from '../lib/pnc.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator', meter: 'EnergyMeter' } as const;
type D = Drivers<typeof uses>;

/** Suite state, reset in setup (a suite file is loaded once per run). */
const state = {
  keeper: new ConfigKeeper(),
  emaid: '',
  moRootDeleted: false,
  /** the charger reports CentralContractValidationAllowed (absent: treated as false, the "allowed" half skipped) */
  ccvaReported: true,
};


/** The one DataTransfer Authorize of the session (a call the CSMS found faulty is the charger's violation). */
function authorizeOf(rec: CallRecorder, since: number): ReceivedCall | undefined {
  const list = rec.of('DataTransfer.Authorize', since);
  const bad = list.find((c) => c.violations.length > 0);
  if (bad) {
    const v = bad.violations[0] as ReceivedCall['violations'][number];
    throw new ProtocolViolation(v.rule, `DataTransfer Authorize: ${v.message}`);
  }
  return list[0];
}

/**
 * The hash data entries a PnC Authorize must hold for the EV's contract: the contract certificate and
 * each sub-CA above it, not the root. The contracts the bench CSMS issues are chained leaf → MO Sub-CA 2 →
 * MO Sub-CA 1 → MO root (src/pki issueContractCertificate); the leaf is recognised by its issuer (MO
 * Sub-CA 2) and a serial the bench PKI issued under it (contracts may come from an earlier suite).
 */
function contractChainEntries(ctx: PncContext): ExpectedEntry[] {
  const pki = benchPki(ctx);
  const [sub2, sub1, root] = [pki.cert('mo-sub2'), pki.cert('mo-sub1'), pki.cert('mo-root')];
  // issuer hashes of MO Sub-CA 2, from the PKI's own contract certificate (issued by it)
  const bySub2 = hashDataOf(pki.cert('contract'), sub2);
  const asHash = (e: unknown): CertificateHashData | undefined => (typeof e === 'object' && e !== null ? (e as CertificateHashData) : undefined);
  const same = (a: unknown, b: string): boolean => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  const isLeaf = (e: unknown): boolean => {
    const h = asHash(e);
    return h !== undefined && h.hashAlgorithm === bySub2.hashAlgorithm && same(h.issuerNameHash, bySub2.issuerNameHash) && same(h.issuerKeyHash, bySub2.issuerKeyHash) && typeof h.serialNumber === 'string' && pki.isIssued(sub2, h.serialNumber);
  };
  const of = (cert: typeof sub2, issuer: typeof sub2) => {
    const want = hashDataOf(cert, issuer);
    return (e: unknown): boolean => asHash(e) !== undefined && hashDataMatches(asHash(e) as CertificateHashData, want);
  };
  return [
    { label: 'contract certificate (issued by MO Sub-CA 2)', matches: isLeaf },
    { label: `MO Sub-CA 2 "${sub2.subject}"`, matches: of(sub2, sub1) },
    { label: `MO Sub-CA 1 "${sub1.subject}"`, matches: of(sub1, root) },
  ];
}

/** idToken of a PnC Authorize: type eMAID, value the EV's eMAID. */
function checkIdToken(auth: ReceivedCall, emaid: string): void {
  const tok = auth.payload.idToken as JsonObject | undefined;
  if (tok?.type !== 'eMAID') throw new ProtocolViolation('pnc.C07.idtoken', `Authorize idToken.type is ${JSON.stringify(tok?.type)}; a contract is authorized with type eMAID`);
  if (tok.idToken !== emaid) throw new ProtocolViolation('pnc.C07.idtoken', `Authorize idToken ${JSON.stringify(tok.idToken)} is not the EV's eMAID ${JSON.stringify(emaid)}`);
}

// ------------------------------------------------------------------ setup

const prepare = phase<D>(
  {
    name: 'prepare',
    description: 'The charger is connected, PnC is on with local contract validation, the bench V2G and MO roots are installed, and the EV holds a contract.',
    timeoutMs: 30_000,
    measures: [measure('emaid').matches(/^[A-Z]{2}-?[A-Z0-9]{3}-?[A-Z0-9]{9}(-?[A-Z0-9])?$/i).doc('the eMAID of the EV\'s contract')],
  },
  async (ctx) => {
    state.keeper = new ConfigKeeper();
    state.emaid = '';
    state.moRootDeleted = false;
    // CentralContractValidationAllowed is optional (libocpp: absent, ChangeConfiguration NotSupported): absent = false
    const optional = await state.keeper.get(ctx, ['CentralContractValidationAllowed']);
    state.ccvaReported = optional.get('CentralContractValidationAllowed') !== undefined;
    if (!state.ccvaReported) ctx.log('the charger does not report CentralContractValidationAllowed: treated as false (central validation not allowed)');
    await state.keeper.set(ctx, { ISO15118PnCEnabled: 'true', ...(state.ccvaReported ? { CentralContractValidationAllowed: 'false' } : {}) });
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
    state.emaid = await recording(ctx, (rec) => ensureContract(ctx, rec));
    ctx.m.set('emaid', state.emaid);
  },
);

// ------------------------------------------------------------------ main

const localValidation = phase<D>(
  {
    name: 'c07_local_validation_accepted',
    description:
      'TC_C_50: MO root installed, CentralContractValidationAllowed=false. DataTransfer Authorize with idToken eMAID and certificate hash data; CSMS Accepted → the EV charges; StartTransaction idTag = eMAID; StopTransaction agrees with the meter.',
    timeoutMs: 60_000,
    measures: [
      measure('authorize_status').equals('Accepted').doc('idTokenInfo.status the CSMS answered'),
      measure('hash_data_entries').inRange({ min: 1 }).doc('iso15118CertificateHashData entries in the Authorize (exactly the contract chain without the root is required: pnc.C07.hash-data)'),
      measure('charging_power_w').unit('W').inRange(limit('pnc.charging_power_w')).doc('highest meter power during the session'),
      measure('session_energy_wh').unit('Wh').inRange(limit('pnc.session_energy_wh')).doc('energy the bench meter counted'),
      measure('transaction_energy_wh').unit('Wh').doc('StopTransaction meterStop − StartTransaction meterStart'),
      measure('meter_stop_deviation_wh').unit('Wh').inRange(limit('pnc.meter_stop_deviation_wh')),
      measure('power_w').unit('W').series(['t_ms']).doc('meter power during the session'),
      measure('energy_wh').unit('Wh').series(['t_ms']).doc('meter energy since plug-in'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec) => {
      const s = await runContractSession(ctx, { charge: 'energy', series: { powerW: ctx.m.series('power_w'), energyWh: ctx.m.series('energy_wh') } });
      checkPncTraffic(rec, s.since);
      const auth = authorizeOf(rec, s.since);
      if (!auth) throw new ProtocolViolation('pnc.C07.authorize', `no DataTransfer Authorize reached the CSMS for a Contract session; EV: ${evTrail(ctx, s.since)}`);
      checkIdToken(auth, state.emaid);
      const hash = auth.payload.iso15118CertificateHashData;
      if (!Array.isArray(hash) || hash.length === 0) {
        throw new ProtocolViolation('pnc.C07.hash-data', `Authorize without iso15118CertificateHashData although the contract chain is verifiable locally (MO root installed)${typeof auth.payload.certificate === 'string' ? '; it sent the certificate instead' : ''}`);
      }
      ctx.m.set('hash_data_entries', hash.length);
      const problems = hash.flatMap((h, i) => hashDataProblems(h, `iso15118CertificateHashData[${i}]`, { responderUrl: true }));
      const serials = decimalSerialProblems(hash, pkiSerialOracle(benchPki(ctx)), 'iso15118CertificateHashData');
      if (serials.unchecked) ctx.warn(`${serials.unchecked} hash data entr(ies) name an issuer outside the bench PKI: serials not checked`);
      if (problems.length || serials.problems.length) throw new ProtocolViolation('pnc.hash-format', [...problems, ...serials.problems].join('; '));
      const entries = contractChainEntries(ctx);
      const missing = exactEntriesProblems(hash, entries, 'iso15118CertificateHashData');
      if (missing.length) {
        throw new ProtocolViolation('pnc.C07.hash-data', `Authorize carries ${hash.length} hash data entr(ies); it must hold exactly one per certificate of the contract chain except the root (${entries.map((e) => e.label).join(', ')}): ${missing.join('; ')}`);
      }
      if (auth.payload.certificate !== undefined) throw new ProtocolViolation('pnc.C07.hash-data', 'Authorize carries the contract certificate as well as its hash data; with hash data (chain verifiable locally) the certificate field is left out');
      const answer = await auth.answered;
      const status = String((answer.inner?.idTokenInfo as JsonObject | undefined)?.status ?? answer.kind);
      ctx.m.set('authorize_status', status);
      if (status !== 'Accepted') {
        throw new ProtocolViolation('pnc.C07.hash-data', `the CSMS could not validate the contract from the charger's hash data: ${status}, certificateStatus ${String(answer.inner?.certificateStatus)}`);
      }
      if (!charged(ctx, s)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `the CSMS accepted the contract but the EV did not charge; EV: ${evTrail(ctx, s.since)}, meter max ${Math.round(s.maxPowerW)} W`);
      ctx.m.set('charging_power_w', Math.round(s.maxPowerW));
      ctx.m.set('session_energy_wh', Number((s.energyAfterWh - s.energyBeforeWh).toFixed(3)));
      await checkTransaction(ctx, rec, s, state.emaid, { energyMeasure: 'transaction_energy_wh' });
    }),
);

/**
 * The answers a CSMS gives for contracts it does not accept. The EV holds a good contract (the EV
 * emulator cannot be given a revoked, expired or foreign-root one), so these rows script the CSMS's
 * answer; for a certificateStatus with its own ISO 15118-2 response code the charger must pass it to
 * the EV (AuthorizationRes FAILED_CertificateRevoked / FAILED_CertificateExpired: pnc.C07.certificate-status).
 */
const REFUSALS: readonly { name: string; status: 'Blocked' | 'Invalid'; certificateStatus?: string; isoCode?: string }[] = [
  { name: 'CSMS answers Blocked', status: 'Blocked' },
  { name: 'CSMS answers Invalid', status: 'Invalid' },
  { name: 'CSMS answers Invalid + CertificateRevoked', status: 'Invalid', certificateStatus: 'CertificateRevoked', isoCode: 'FAILED_CertificateRevoked' },
  { name: 'CSMS answers Invalid + CertificateExpired', status: 'Invalid', certificateStatus: 'CertificateExpired', isoCode: 'FAILED_CertificateExpired' },
  { name: 'CSMS answers Invalid + CertChainError', status: 'Invalid', certificateStatus: 'CertChainError' },
];

const csmsRefuses = phase<D>(
  {
    name: 'c07_csms_refuses',
    description: `TC_C_51: the CSMS answers the Authorize: ${REFUSALS.map((r) => r.name).join('; ')} → no power, no StartTransaction; the EV reports AuthorizationFailed, with ResponseCode FAILED_CertificateRevoked / FAILED_CertificateExpired where the certificateStatus says so.`,
    timeoutMs: 90_000,
    measures: [
      measure('refused_sessions').equals(REFUSALS.length).doc('sessions that correctly did not charge'),
      measure('no_charge_power_w').unit('W').inRange(limit('pnc.no_charge_power_w')).doc('highest meter power over the refused sessions'),
    ],
  },
  async (ctx) => {
    const cp = await chargePoint(ctx);
    let ok = 0;
    let maxPowerW = 0;
    for (const r of REFUSALS) {
      await recording(ctx, async (rec) => {
        const rule = cp.respond('DataTransfer.Authorize', {
          payload: (_call, dflt) => ({ ...(dflt ?? {}), idTokenInfo: { status: r.status }, ...(r.certificateStatus ? { certificateStatus: r.certificateStatus } : {}) }),
        });
        let s: SessionResult;
        try {
          s = await runContractSession(ctx, { charge: 'power' });
        } finally {
          rule.remove();
        }
        checkPncTraffic(rec, s.since);
        const auth = authorizeOf(rec, s.since);
        if (!auth) throw new ProtocolViolation('pnc.C07.authorize', `${r.name}: no DataTransfer Authorize reached the CSMS; EV: ${evTrail(ctx, s.since)}`);
        const signs = anyCharging(ctx, s);
        if (signs) throw new ProtocolViolation('pnc.C07.not-accepted', `${r.name}, but ${signs}`);
        const start = rec.of('StartTransaction', s.since)[0];
        if (start) throw new ProtocolViolation('pnc.C07.not-accepted', `${r.name}: StartTransaction (idTag ${JSON.stringify(start.payload.idTag)}) although the CSMS answered ${r.status}`);
        const detail = evDetailText(s.decision?.detail) ?? '';
        if (s.decision?.state !== 'AuthorizationFailed') ctx.warn(`${r.name}: the EV reported ${s.decision?.state ?? 'no authorization outcome'} (expected AuthorizationFailed); EV: ${evTrail(ctx, s.since)}`);
        else if (r.isoCode) {
          const code = /^response-code:(\S+)$/.exec(detail)?.[1];
          if (code === undefined) ctx.warn(`${r.name}: the EV's AuthorizationFailed reason ${JSON.stringify(detail)} carries no ISO 15118 response code: ${r.isoCode} not checked`);
          else if (code !== r.isoCode) throw new ProtocolViolation('pnc.C07.certificate-status', `${r.name}: the EV got AuthorizationRes ${code}; certificateStatus ${r.certificateStatus} is passed to the EV as ${r.isoCode}`);
        }
        maxPowerW = Math.max(maxPowerW, s.maxPowerW);
        ctx.log(`${r.name}: no charging (EV ${s.decision?.state ?? '—'} ${detail})`);
        ok++;
      });
    }
    ctx.m.set('refused_sessions', ok);
    ctx.m.set('no_charge_power_w', Math.round(maxPowerW));
  },
);

const centralValidation = phase<D>(
  {
    name: 'c07_central_validation',
    description:
      'TC_C_52 and the negative: MO root deleted. CentralContractValidationAllowed=false → no Authorize is sent and nothing charges; =true → Authorize carries the contract chain (certificate) and the session charges on Accepted.',
    timeoutMs: 60_000,
    measures: [
      measure('not_allowed_authorize_calls').equals(0).doc('Authorize calls sent while central validation was not allowed'),
      measure('central_authorize_status').equals('Accepted'),
      measure('central_chain_certificates').inRange({ min: 1 }).doc('certificates in the Authorize certificate field'),
    ],
  },
  async (ctx) => {
    const moHash = rootHashData(ctx, 'mo-root');
    const del = await deleteCertificate(ctx, moHash);
    if (del !== 'Accepted') throw new ProtocolViolation('pnc.M04.delete', `DeleteCertificate of the bench MO root answered ${del}; the MO root was installed`);
    state.moRootDeleted = true;
    try {
      // not allowed: the contract cannot be validated locally, and must not be sent
      if (state.ccvaReported) await state.keeper.set(ctx, { CentralContractValidationAllowed: 'false' });
      await recording(ctx, async (rec) => {
        const s = await runContractSession(ctx, { charge: 'power' });
        checkPncTraffic(rec, s.since);
        const sent = rec.of('DataTransfer.Authorize', s.since);
        ctx.m.set('not_allowed_authorize_calls', sent.length);
        const withCert = sent.find((c) => typeof c.payload.certificate === 'string');
        if (withCert) throw new ProtocolViolation('pnc.C07.central-not-allowed', 'Authorize carries the contract certificate although CentralContractValidationAllowed is false and the MO root is not installed');
        if (sent.length) throw new ProtocolViolation('pnc.C07.central-not-allowed', 'Authorize sent for a contract the charger cannot validate locally while CentralContractValidationAllowed is false (it must refuse without asking the CSMS)');
        const signs = anyCharging(ctx, s);
        if (signs) throw new ProtocolViolation('pnc.C07.central-not-allowed', `contract neither validated locally nor centrally, but ${signs}`);
      });
      // allowed: the chain goes to the CSMS
      if (!state.ccvaReported) {
        ctx.log('CentralContractValidationAllowed not reported: only the "not allowed" half ran (the key is absent = false)');
        return { skip: 'the charger does not report CentralContractValidationAllowed (absent = false): the "not allowed" half passed, the "allowed" half (TC_C_52) cannot be set up' };
      }
      await state.keeper.set(ctx, { CentralContractValidationAllowed: 'true' });
      await recording(ctx, async (rec) => {
        const s = await runContractSession(ctx, { charge: 'power' });
        checkPncTraffic(rec, s.since);
        const auth = authorizeOf(rec, s.since);
        if (!auth) throw new ProtocolViolation('pnc.C07.central-certificate', `CentralContractValidationAllowed=true and the MO root unknown, but no Authorize reached the CSMS; EV: ${evTrail(ctx, s.since)}`);
        checkIdToken(auth, state.emaid);
        const cert = auth.payload.certificate;
        if (typeof cert !== 'string') throw new ProtocolViolation('pnc.C07.central-certificate', 'Authorize without the contract certificate although the charger cannot validate it and central validation is allowed');
        let n = 0;
        try {
          n = parseCertificateChainPem(cert).length;
        } catch (e) {
          throw new ProtocolViolation('pnc.C07.central-certificate', `Authorize certificate is not a PEM chain: ${errorText(e)}`);
        }
        ctx.m.set('central_chain_certificates', n);
        if (Array.isArray(auth.payload.iso15118CertificateHashData)) ctx.warn('Authorize carries hash data as well as the certificate');
        const answer = await auth.answered;
        const status = String((answer.inner?.idTokenInfo as JsonObject | undefined)?.status ?? answer.kind);
        ctx.m.set('central_authorize_status', status);
        if (status === 'Accepted' && !charged(ctx, s)) throw new ProtocolViolation('pnc.C07.accepted-no-charge', `central validation Accepted but no charging; EV: ${evTrail(ctx, s.since)}`);
      });
      return undefined;
    } finally {
      await ensureRootInstalled(ctx, 'mo-root');
      state.moRootDeleted = false;
    }
  },
);

// ------------------------------------------------------------------ teardown

const restore = phase<D>(
  {
    name: 'restore',
    description: 'Puts back the configuration keys and the MO root this suite changed.',
    timeoutMs: 20_000,
  },
  async (ctx) => {
    if (state.moRootDeleted) {
      await ensureRootInstalled(ctx, 'mo-root');
      state.moRootDeleted = false;
    }
    const done = await state.keeper.restore(ctx);
    if (done.length) ctx.log(`restored ${done.join(', ')}`);
  },
);

export default defineSuite({
  name: 'pnc-authorization',
  version: '1.0.0',
  description: 'C07 Plug & Charge authorization through DataTransfer Authorize: hash data, central validation, CSMS answers, idTag and meter values.',
  requires: ['pnc', 'ev', 'meter'],
  uses,
  setup: [prepare],
  main: [localValidation, csmsRefuses, centralValidation],
  teardown: [restore],
});
