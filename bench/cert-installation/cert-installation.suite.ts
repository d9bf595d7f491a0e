// Certificate management of a PnC charger through the OCA 1.6 application note, the bench playing
// the CSMS: the SECC certificate (A02 on request of the CSMS, the A02/A03 SignCertificate back-off,
// CertificateSigned chain verification), the EV's contract installation through the charger (M01,
// M02 when the EV can), and the charger's certificate store (M03 list, M04 delete, M05 install,
// M06 status). Every change to the store or the configuration is undone before the suite ends.
// Phases and rule ids: bench/README.md "cert-installation".
import { isNotSupported, ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { errorText } from '../../drivers/common/abort.ts';
import { nowMs } from '../../drivers/common/time.ts';
import type { ChainVariant, ChargePoint, ReceivedCall } from '../../src/csms/index.ts';
import { decodeV2GMessage, exiBytes, parseCertificateUpdateReq, type ParsedCertificateUpdateReq } from '../../src/exi/index.ts';
import {
  hashDataMatches,
  negativeMaterial,
  parseCertificateChainPem,
  parseCertificateDer,
  verifyCertificateSignature,
  verifyOcspResponse,
  type CertificateHashData,
  type PkiCert,
} from '../../src/pki/index.ts';
import { limit, measure } from '../../src/runner/measure.ts';
import { defineSuite, phase, type Drivers, type PhaseContext } from '../../src/runner/suite.ts';
import { benchPki, deleteCertificate, ensureRootInstalled, freshV2gRoot, hashDataOf, installedIds, lists, rootHashData } from '../lib/certs.ts';
import { analyzeBackoff, exactEntriesProblems, hashDataProblems } from '../lib/checks.ts';
import {
  chainFor,
  chargePoint,
  checkInstalled,
  checkPncTraffic,
  ConfigKeeper,
  enforceLimit,
  ensureContract,
  evEmaid,
  evTrail,
  installContract,
  pncCall,
  recordCalls,
  recording,
  sendValidChain,
  triggerSignCertificate,
  triggerSignV2gCertificate,
  waitForRecorded,
  type CallRecorder,
  type InstallResult,
} from '../lib/pnc.ts';
import { limitNumber, pollUntil } from '../lib/wait.ts';

const uses = { csms: 'Csms', ev: 'EvEmulator' } as const;
type D = Drivers<typeof uses>;
type Ctx = PhaseContext<D>;

const state = {
  keeper: new ConfigKeeper(),
  /** every charger call during the suite (M06 looks for GetCertificateStatus) */
  suiteCalls: undefined as CallRecorder | undefined,
  /** extra roots this suite installed and must remove: type + hash data */
  extraRoots: [] as { type: string; hash: CertificateHashData }[],
  certificateSignedBefore: undefined as 'send' | 'never' | undefined,
  /** the SECC chain (leaf, then its sub-CAs up to the root, root left out) the charger last accepted from this suite: M03 checks the listing against it */
  secc: undefined as PkiCert[] | undefined,
};

/** Remembers the SECC chain the charger just accepted (CertificateSigned Accepted). */
function rememberSecc(chainPem: string): void {
  state.secc = parseCertificateChainPem(chainPem).filter((c, i) => i === 0 || !c.isSelfIssued);
}


/** Runs a clean-up step; a failure is a warning, so it never hides the finding that got us here. */
async function bestEffort(ctx: Ctx, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    ctx.warn(`${what} failed: ${errorText(e)}`);
  }
}

/** Gives the charger a valid SECC certificate again (after negative tests or a withheld CertificateSigned). */
async function installValidLeaf(ctx: Ctx, cp: ChargePoint, sign?: ReceivedCall): Promise<void> {
  const chain = await chainFor(cp, sign ?? (await triggerSignCertificate(ctx, cp)).sign, 'valid');
  await sendValidChain(ctx, chain);
  rememberSecc(chain);
}

// ------------------------------------------------------------------ setup

const prepare = phase<D>(
  { name: 'prepare', description: 'The charger is connected; the bench V2G and MO roots are installed.', timeoutMs: 20_000 },
  async (ctx) => {
    state.keeper = new ConfigKeeper();
    state.extraRoots = [];
    state.certificateSignedBefore = undefined;
    state.secc = undefined;
    const cp = await chargePoint(ctx);
    state.suiteCalls?.stop();
    state.suiteCalls = recordCalls(ctx, cp);
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
  },
);

// ------------------------------------------------------------------ A02 / A03

const a02Sign = phase<D>(
  {
    name: 'a02_sign_v2g_certificate',
    description:
      'TC_A_12: TriggerMessage SignV2GCertificate → SignCertificate (V2GCertificate) with a CSR whose subject follows CpoName / SeccLeafSubjectCommonName / SeccLeafSubjectCountry and DC=CPO; the CSMS accepts it; CertificateSigned with a valid chain → Accepted and listed as V2GCertificateChain.',
    timeoutMs: 20_000,
    measures: [measure('csr_subject').doc('subject of the certificate issued for the CSR'), measure('certificate_signed_status').equals('Accepted')],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      const cfg = await state.keeper.get(ctx, ['CpoName', 'SeccLeafSubjectOrganization', 'SeccLeafSubjectCommonName', 'SeccLeafSubjectCountry']);
      const { sign } = await triggerSignCertificate(ctx, cp);
      checkPncTraffic(rec, 0);
      const type = sign.payload.certificateType;
      if (type !== undefined && type !== 'V2GCertificate') throw new ProtocolViolation('pnc.A02.csr', `SignCertificate certificateType ${JSON.stringify(type)} after TriggerMessage SignV2GCertificate`);
      const chain = await chainFor(cp, sign, 'valid');
      const leaf = parseCertificateChainPem(chain)[0];
      if (!leaf) throw new ProtocolViolation('pnc.A02.csr', 'no certificate could be issued for the CSR');
      ctx.m.set('csr_subject', leaf.subject);
      // the catalogue's fallbacks (pnc-test-catalog.md §6.3) when a key is not reported
      const boot = cp.state.boot?.payload;
      const serial = [boot?.chargeBoxSerialNumber, boot?.chargePointSerialNumber].find((v): v is string => typeof v === 'string' && v !== '');
      const orgKey = cfg.get('SeccLeafSubjectOrganization') !== undefined ? 'SeccLeafSubjectOrganization' : 'CpoName';
      const want: [string, string | undefined, string][] = [
        ['CN', cfg.get('SeccLeafSubjectCommonName') ?? serial, cfg.get('SeccLeafSubjectCommonName') !== undefined ? 'SeccLeafSubjectCommonName' : 'the charge box serial number (SeccLeafSubjectCommonName not reported)'],
        ['O', cfg.get('SeccLeafSubjectOrganization') ?? cfg.get('CpoName'), orgKey],
        ['C', cfg.get('SeccLeafSubjectCountry') ?? 'DE', cfg.get('SeccLeafSubjectCountry') !== undefined ? 'SeccLeafSubjectCountry' : 'the default DE (SeccLeafSubjectCountry not reported)'],
        ['DC', 'CPO', 'ISO 15118-2 (SECC certificate)'],
      ];
      for (const [field, expected, source] of want) {
        const got = leaf.subjectField(field as 'CN')[0];
        if (expected === undefined) {
          ctx.warn(`CSR subject ${field}=${JSON.stringify(got)} not checked: the charger reports neither the key nor a fallback for it (${field === 'CN' ? 'SeccLeafSubjectCommonName, charge box serial number' : 'SeccLeafSubjectOrganization, CpoName'})`);
          continue;
        }
        if (got !== expected) throw new ProtocolViolation('pnc.A02.csr', `CSR subject ${field}=${JSON.stringify(got)}; ${source} says ${JSON.stringify(expected)}`);
      }
      await sendValidChain(ctx, chain, 'certificate_signed_status');
      rememberSecc(chain);
      const pki = benchPki(ctx);
      const { chains } = await installedIds(ctx, ['V2GCertificateChain']);
      if (!lists(chains, hashDataOf(leaf, pki.cert('cpo-sub2')), 'V2GCertificateChain')) {
        throw new ProtocolViolation('pnc.A02.installed', 'after CertificateSigned Accepted, GetInstalledCertificateIds V2GCertificateChain does not list the new SECC certificate');
      }
    }),
);

/** One CertificateSigned of a02_certificate_signed_variants (catalogue §6.4). */
interface ChainCase {
  name: string;
  variant: ChainVariant;
  certificateType: string;
  expect: 'Accepted' | 'Rejected';
  /** a SecurityEventNotification InvalidChargePointCertificate is required (chains whose content is bad) */
  securityEvent: boolean;
}

const CHAIN_CASES: readonly ChainCase[] = [
  ...(['wrong-issuer', 'expired', 'not-yet-valid', 'no-dc-cpo', 'wrong-key'] as const).map((variant) => ({ name: variant, variant, certificateType: 'V2GCertificate', expect: 'Rejected' as const, securityEvent: true })),
  { name: 'too-long', variant: 'too-long', certificateType: 'V2GCertificate', expect: 'Rejected', securityEvent: false },
  { name: 'wrong-certificate-type', variant: 'valid', certificateType: 'ChargingStationCertificate', expect: 'Rejected', securityEvent: false },
  { name: 'with-root', variant: 'with-root', certificateType: 'V2GCertificate', expect: 'Accepted', securityEvent: false },
];
const REJECTED_CASES = CHAIN_CASES.filter((c) => c.expect === 'Rejected').length;

/** The schema limit of CertificateSigned.certificateChain (OCPP 2.0.1 CertificateSignedRequest: maxLength 10000). */
const CHAIN_SCHEMA_MAX = 10_000;
/** What the suite tries to lower CertificateSignedMaxChainSize to (the key is read-only in the 1.6 security whitepaper; a charger may still allow it). */
const LOWER_MAX_CHAIN_SIZE = 5_000;

const a02Rejects = phase<D>(
  {
    name: 'a02_reject_bad_chains',
    description: `TC_A_14 and catalogue §6.4: CertificateSigned with a chain that is ${CHAIN_CASES.filter((c) => c.expect === 'Rejected').map((c) => c.name).join(', ')} → Rejected (the content faults also with a SecurityEventNotification InvalidChargePointCertificate); too-long = longer than the CertificateSignedMaxChainSize the charger reports (lowered first when it lets the bench); a valid chain with its root → Accepted; a valid chain is installed afterwards.`,
    timeoutMs: 60_000,
    measures: [
      measure('rejected_chains').equals(REJECTED_CASES),
      measure('max_chain_size').doc('CertificateSignedMaxChainSize the too-long chain exceeded (characters)').optional(),
      measure('with_root_status').equals('Accepted').doc('CertificateSigned of a valid chain that includes the V2G root'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      let rejected = 0;
      try {
        // CertificateSignedMaxChainSize: lowered when the charger lets us (restored in teardown), else as reported
        const lowered = await state.keeper.trySet(ctx, 'CertificateSignedMaxChainSize', String(LOWER_MAX_CHAIN_SIZE));
        const reported = (await state.keeper.get(ctx, ['CertificateSignedMaxChainSize'])).get('CertificateSignedMaxChainSize');
        const maxSize = reported !== undefined && /^\d+$/.test(reported) ? Number(reported) : undefined;
        ctx.log(`CertificateSignedMaxChainSize: ${reported ?? 'not reported'} (ChangeConfiguration to ${LOWER_MAX_CHAIN_SIZE}: ${lowered})`);
        if (reported !== undefined && maxSize === undefined) throw new ProtocolViolation('pnc.config', `CertificateSignedMaxChainSize is ${JSON.stringify(reported)}, not a whole number`);
        const maxChainBytes = Math.min(maxSize ?? CHAIN_SCHEMA_MAX, CHAIN_SCHEMA_MAX);
        ctx.m.set('max_chain_size', maxChainBytes);
        for (const c of CHAIN_CASES) {
          const { sign } = await triggerSignCertificate(ctx, cp);
          const since = nowMs();
          const chain = await chainFor(cp, sign, c.variant, c.variant === 'too-long' ? { maxChainBytes } : {});
          // beyond the schema limit the CSMS must send it unchecked; refusing it at the schema (outer Rejected) is then right too
          const overSchema = chain.length > CHAIN_SCHEMA_MAX;
          const r = await cp.call('CertificateSigned', { certificateChain: chain, certificateType: c.certificateType as 'V2GCertificate' }, { pnc: true, unchecked: overSchema, signal: ctx.signal, timeoutMs: limitNumber(ctx, 'pnc.wait.call_ms') });
          const status = r.status !== 'Accepted' ? (overSchema && r.status === 'Rejected' ? 'Rejected' : `DataTransfer ${r.status}`) : String(r.response?.status);
          const what = `CertificateSigned (${c.name}: ${c.variant} chain of ${chain.length} characters, certificateType ${c.certificateType})`;
          if (c.expect === 'Accepted') {
            ctx.m.set('with_root_status', status);
            if (status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `${what} answered ${status}; a valid chain that includes its root must be accepted (the root is ignored)`);
            rememberSecc(chain);
            ctx.log(`${c.name}: Accepted`);
            continue;
          }
          if (status === 'Accepted') rememberSecc(chain);
          if (status !== 'Rejected') {
            const why = c.variant === 'too-long' ? `it is longer than CertificateSignedMaxChainSize ${maxChainBytes}` : c.certificateType !== 'V2GCertificate' ? 'the charger asked for a V2GCertificate' : 'the charger must verify the chain (leaf key = CSR key, chains to its V2G root, valid now, DC=CPO)';
            throw new ProtocolViolation('pnc.A02.chain', `${what} answered ${status}; ${why}`);
          }
          const ev = await waitForRecorded(ctx, rec, 'SecurityEventNotification', since, c.securityEvent ? limitNumber(ctx, 'pnc.wait.call_ms') : Math.min(500, limitNumber(ctx, 'pnc.wait.call_ms')), (x) => x.payload.type === 'InvalidChargePointCertificate');
          if (!ev && c.securityEvent) throw new ProtocolViolation('pnc.A02.security-event', `no SecurityEventNotification InvalidChargePointCertificate after rejecting a ${c.name} chain`);
          ctx.log(`${c.name}: Rejected${overSchema ? ' (over the schema limit, sent unchecked)' : ''}${ev ? `, security event ${String(ev.payload.techInfo ?? '')}` : ', no security event'}`);
          rejected++;
        }
      } finally {
        ctx.m.set('rejected_chains', rejected);
        await bestEffort(ctx, 'restoring CertificateSignedMaxChainSize', () => state.keeper.restore(ctx));
        // leave the charger with a good SECC certificate and no outstanding CSR
        await bestEffort(ctx, 'installing a valid SECC certificate after the negative chains', () => installValidLeaf(ctx, cp));
      }
    }),
);

const a03Backoff = phase<D>(
  {
    name: 'a03_sign_certificate_backoff',
    description:
      'TC_A_23 / A02.FR.17–19: CertSigningWaitMinimum and CertSigningRepeatTimes set small, CertificateSigned withheld: the charger resends SignCertificate after WaitMinimum, then twice that, …, 1 + RepeatTimes sends in all and none after.',
    timeoutMs: 60_000,
    measures: [
      measure('sign_certificate_sends').doc('SignCertificate sends seen (1 + CertSigningRepeatTimes expected)'),
      measure('resend_1_gap_s').unit('s').optional(),
      measure('resend_2_gap_s').unit('s').optional(),
      measure('resend_1_ratio').inRange(limit('pnc.backoff_ratio')).optional().doc('gap ÷ WaitMinimum'),
      measure('resend_2_ratio').inRange(limit('pnc.backoff_ratio')).optional().doc('gap ÷ (2 × WaitMinimum)'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      const waitMinimumS = limitNumber(ctx, 'pnc.backoff.wait_minimum_s');
      const repeatTimes = limitNumber(ctx, 'pnc.backoff.repeat_times');
      const toleranceMs = limitNumber(ctx, 'pnc.backoff.tolerance_ms');
      await state.keeper.set(ctx, { CertSigningWaitMinimum: String(waitMinimumS), CertSigningRepeatTimes: String(repeatTimes) });
      state.certificateSignedBefore ??= cp.config.pnc.certificateSigned;
      cp.configure({ pnc: { certificateSigned: 'never' } });
      let lastSign: ReceivedCall | undefined;
      try {
        const since = nowMs();
        await triggerSignV2gCertificate(ctx);
        const first = await waitForRecorded(ctx, rec, 'DataTransfer.SignCertificate', since, limitNumber(ctx, 'pnc.wait.sign_certificate_ms'));
        if (!first) throw new ProtocolViolation('pnc.A02.trigger', 'no SignCertificate after TriggerMessage SignV2GCertificate Accepted');
        // wait through every due resend, then the quiet window in which a further send would break the rule
        const dueMs = waitMinimumS * 1000 * (2 ** repeatTimes - 1);
        const quietMs = waitMinimumS * 1000 * 2 ** repeatTimes * limitNumber(ctx, 'pnc.backoff.quiet_factor');
        // (one send more than allowed ends the wait early)
        await pollUntil(ctx, first.t + dueMs + quietMs - nowMs(), () => (rec.of('DataTransfer.SignCertificate', since).length > 1 + repeatTimes ? true : undefined), 50);
        const sends = rec.of('DataTransfer.SignCertificate', since);
        lastSign = sends.at(-1);
        const a = analyzeBackoff(
          sends.map((c) => c.t),
          { waitMinimumS, repeatTimes, toleranceMs },
        );
        ctx.m.set('sign_certificate_sends', sends.length);
        a.gapsS.slice(0, 2).forEach((g, i) => {
          ctx.m.set(`resend_${i + 1}_gap_s`, Number(g.toFixed(3)));
          ctx.m.set(`resend_${i + 1}_ratio`, Number((a.ratios[i] as number).toFixed(3)));
        });
        ctx.log(`SignCertificate at ${sends.map((c) => `+${Math.round(c.t - first.t)} ms`).join(', ')}`);
        if (a.problems.length) throw new ProtocolViolation('pnc.A03.backoff', a.problems.join('; '));
        a.ratios.slice(0, repeatTimes).forEach((r, i) => enforceLimit(ctx, 'pnc.backoff_ratio', r, 'pnc.A03.backoff', `resend ${i + 1} came ${(a.gapsS[i] as number).toFixed(3)} s after the previous send`));
      } finally {
        cp.configure({ pnc: { certificateSigned: state.certificateSignedBefore ?? 'send' } });
        state.certificateSignedBefore = undefined;
        await bestEffort(ctx, 'restoring CertSigningWaitMinimum / CertSigningRepeatTimes', () => state.keeper.restore(ctx));
        await bestEffort(ctx, 'installing a valid SECC certificate after the back-off', () => installValidLeaf(ctx, cp, lastSign).catch(() => installValidLeaf(ctx, cp)));
      }
    }),
);

// ------------------------------------------------------------------ M01 / M02

const m01Install = phase<D>(
  {
    name: 'm01_contract_installation',
    description:
      'TC_M_26: the EV asks for a contract (CertificateInstallationReq); the charger forwards it as DataTransfer Get15118EVCertificate (action Install), the CSMS answers with a real signed CertificateInstallationRes, the charger forwards it unchanged and the EV installs the contract.',
    timeoutMs: 40_000,
    measures: [measure('get15118_status').equals('Accepted').doc('the CSMS\'s inner status'), measure('contract_emaid').doc('eMAID of the installed contract')],
  },
  async (ctx) =>
    recording(ctx, async (rec) => {
      const r = await installContract(ctx, rec);
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M01.forward', `the charger did not send DataTransfer Get15118EVCertificate for the EV's CertificateInstallationReq; EV: ${evTrail(ctx, r.since)}`);
      if (r.request.payload.action !== 'Install') throw new ProtocolViolation('pnc.M01.action', `Get15118EVCertificate action ${JSON.stringify(r.request.payload.action)} for a CertificateInstallationReq (expected Install)`);
      if (r.request.payload.iso15118SchemaVersion !== 'urn:iso:15118:2:2013:MsgDef') ctx.warn(`iso15118SchemaVersion ${JSON.stringify(r.request.payload.iso15118SchemaVersion)}`);
      const answer = await r.request.answered;
      const status = String(answer.inner?.status ?? answer.kind);
      ctx.m.set('get15118_status', status);
      if (status !== 'Accepted') throw new ProtocolViolation('pnc.M01.exi-request', `the CSMS could not answer the forwarded exiRequest: ${status} ${JSON.stringify((answer.inner as JsonObject | undefined)?.statusInfo ?? {})}`);
      checkInstalled(ctx, r);
      ctx.m.set('contract_emaid', r.emaid);
    }),
);

/** The contract certificate (DER) and eMAID of a forwarded CertificateUpdateReq and of the CSMS's CertificateUpdateRes. */
function updateExchange(request: ReceivedCall, exiResponse: unknown): { oldLeaf: PkiCert; oldEmaid: string; newLeaf: PkiCert; newEmaid: string } {
  let req: ParsedCertificateUpdateReq;
  try {
    req = parseCertificateUpdateReq(String(request.payload.exiRequest));
  } catch (e) {
    throw new ProtocolViolation('pnc.M02.exi-request', `the forwarded exiRequest of an Update is not the EV's CertificateUpdateReq: ${errorText(e)}`);
  }
  const res = decodeV2GMessage(exiBytes(String(exiResponse))).Body.CertificateUpdateRes;
  if (!res) throw new Error('the CSMS answered the Update without a CertificateUpdateRes');
  return {
    oldLeaf: parseCertificateDer(req.contractCertificateChain[0] as Uint8Array, 'CertificateUpdateReq contract certificate'),
    oldEmaid: req.eMAID,
    newLeaf: parseCertificateDer(res.ContractSignatureCertChain.Certificate, 'CertificateUpdateRes contract certificate'),
    newEmaid: res.eMAID.CONTENT,
  };
}

const m02Update = phase<D>(
  {
    name: 'm02_contract_update',
    description:
      'TC_M_28: the EV holding a contract asks for an update (CertificateUpdateReq); the charger forwards it as DataTransfer Get15118EVCertificate with action Update, the CSMS answers with a signed CertificateUpdateRes carrying a new contract certificate for the same eMAID, the charger forwards it unchanged and the EV installs it (ContractInstalled, same eMAID). SKIPPED, saying why, when the rig\'s EV emulator cannot be told to update.',
    timeoutMs: 40_000,
    measures: [
      measure('get15118_status').equals('Accepted').doc('the CSMS\'s inner status'),
      measure('contract_emaid').doc('eMAID of the updated contract'),
      measure('new_contract_serial').doc('serial of the contract certificate the EV installed (differs from the one it updated)'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec) => {
      const update = ctx.d.ev.updateCertificate?.bind(ctx.d.ev);
      if (!update) return { skip: 'the rig\'s EV emulator driver has no updateCertificate(): M02 not exercised' };
      const before = evEmaid(ctx) ?? (await ensureContract(ctx, rec));
      let r: InstallResult;
      try {
        r = await installContract(ctx, rec, update);
      } catch (e) {
        if (isNotSupported(e)) return { skip: `${e.message}: M02 not exercised` };
        throw e;
      }
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M02.forward', `the charger did not send DataTransfer Get15118EVCertificate for the EV's CertificateUpdateReq; EV: ${evTrail(ctx, r.since)}`);
      if (r.request.payload.action !== 'Update') throw new ProtocolViolation('pnc.M02.action', `Get15118EVCertificate action ${JSON.stringify(r.request.payload.action)} for a CertificateUpdateReq (expected Update)`);
      const answer = await r.request.answered;
      const status = String(answer.inner?.status ?? answer.kind);
      ctx.m.set('get15118_status', status);
      if (status !== 'Accepted') throw new ProtocolViolation('pnc.M02.exi-request', `the CSMS could not answer the forwarded exiRequest: ${status} ${JSON.stringify((answer.inner as JsonObject | undefined)?.statusInfo ?? {})}`);
      const x = updateExchange(r.request, answer.inner?.exiResponse);
      ctx.log(`CertificateUpdateReq for ${x.oldEmaid} (contract serial ${x.oldLeaf.serialHex}) → new contract serial ${x.newLeaf.serialHex} for ${x.newEmaid}`);
      if (x.oldEmaid.toUpperCase() !== before.toUpperCase()) ctx.warn(`the EV asked to update ${x.oldEmaid}; it reported ${before} before`);
      checkInstalled(ctx, r, 'M02');
      ctx.m.set('contract_emaid', r.emaid);
      ctx.m.set('new_contract_serial', x.newLeaf.serialHex);
      if (r.emaid.toUpperCase() !== before.toUpperCase()) throw new ProtocolViolation('pnc.M02.install', `after the update the EV holds eMAID ${JSON.stringify(r.emaid)}; the updated contract keeps ${before}`);
      if (x.newLeaf.serialHex === x.oldLeaf.serialHex) throw new Error(`the CSMS answered the update with the same contract certificate (serial ${x.newLeaf.serialHex}): no new contract to install`);
      return undefined;
    }),
);

// ------------------------------------------------------------------ M03 / M04 / M05

const m03List = phase<D>(
  {
    name: 'm03_installed_certificate_ids',
    description:
      'TC_M_12..19: GetInstalledCertificateIds per type (V2G root, MO root, V2GCertificateChain with its sub-CAs as children) and with the type omitted (= all types).',
    timeoutMs: 20_000,
    measures: [measure('v2g_roots').inRange({ min: 1 }), measure('mo_roots').inRange({ min: 1 }), measure('all_types_entries').inRange({ min: 3 })],
  },
  async (ctx) => {
    const pki = benchPki(ctx);
    const v2g = await installedIds(ctx, ['V2GRootCertificate']);
    const mo = await installedIds(ctx, ['MORootCertificate']);
    const secc = await installedIds(ctx, ['V2GCertificateChain']);
    for (const [name, r] of [['V2GRootCertificate', v2g], ['MORootCertificate', mo], ['V2GCertificateChain', secc]] as const) {
      const wrong = r.chains.find((c) => c.certificateType !== name);
      if (wrong) throw new ProtocolViolation('pnc.M03.list', `GetInstalledCertificateIds ${name} returned a ${wrong.certificateType} entry`);
      r.chains.forEach((c, i) => {
        const p = [...hashDataProblems(c.certificateHashData, `${name}[${i}]`), ...(c.childCertificateHashData ?? []).flatMap((h, j) => hashDataProblems(h, `${name}[${i}].child[${j}]`))];
        if (p.length) throw new ProtocolViolation('pnc.hash-format', p.join('; '));
      });
    }
    ctx.m.set('v2g_roots', v2g.chains.length);
    ctx.m.set('mo_roots', mo.chains.length);
    if (!lists(v2g.chains, rootHashData(ctx, 'v2g-root'))) throw new ProtocolViolation('pnc.M03.list', 'the bench V2G root is installed but not listed under V2GRootCertificate');
    if (!lists(mo.chains, rootHashData(ctx, 'mo-root'))) throw new ProtocolViolation('pnc.M03.list', 'the bench MO root is installed but not listed under MORootCertificate');
    if (secc.chains.length === 0) throw new ProtocolViolation('pnc.M03.list', 'no V2GCertificateChain listed although the charger holds an SECC certificate (installed in a02_sign_v2g_certificate)');
    // the chain the charger accepted last in this suite (A02, or the valid chain installed after a negative test)
    const root = pki.cert('v2g-root');
    const installed = state.secc;
    let leafChain: (typeof secc.chains)[number];
    let subCas: PkiCert[];
    if (installed && installed[0]) {
      const leafHash = hashDataOf(installed[0], installed[1] ?? root);
      const hit = secc.chains.find((c) => hashDataMatches(c.certificateHashData, leafHash));
      if (!hit) {
        throw new ProtocolViolation('pnc.M03.chain', `V2GCertificateChain does not list the SECC certificate the charger accepted last (serial ${installed[0].serialHex}); it lists serial(s) ${secc.chains.map((c) => c.certificateHashData.serialNumber).join(', ')}`);
      }
      leafChain = hit;
      subCas = installed.slice(1);
    } else {
      ctx.warn('no SECC certificate was accepted earlier in this suite (a02_sign_v2g_certificate did not pass): the first listed V2GCertificateChain is checked against the bench CPO sub-CAs');
      leafChain = secc.chains[0] as (typeof secc.chains)[number];
      subCas = [pki.cert('cpo-sub2'), pki.cert('cpo-sub1')];
    }
    const children = leafChain.childCertificateHashData ?? [];
    const rootHash = hashDataOf(root);
    if (children.some((h) => hashDataMatches(h, rootHash))) {
      throw new ProtocolViolation('pnc.M03.chain', 'V2GCertificateChain lists the V2G root among the child certificates; childCertificateHashData holds the sub-CAs only (the root is listed under V2GRootCertificate)');
    }
    const expected = subCas.map((sub, i) => {
      const h = hashDataOf(sub, subCas[i + 1] ?? root);
      return { label: `sub-CA "${sub.subject}" (serial ${sub.serialHex})`, matches: (e: unknown) => typeof e === 'object' && e !== null && hashDataMatches(e as CertificateHashData, h) };
    });
    const problems = exactEntriesProblems(children, expected, 'V2GCertificateChain.childCertificateHashData');
    if (problems.length) {
      throw new ProtocolViolation('pnc.M03.chain', `V2GCertificateChain lists ${children.length} child certificate(s) for an SECC chain with ${subCas.length} sub-CA(s) (exactly the sub-CAs, no root): ${problems.join('; ')}`);
    }
    const all = await installedIds(ctx, undefined, 'pnc.M03.omitted-type');
    ctx.m.set('all_types_entries', all.chains.length);
    const missing = [...v2g.chains, ...mo.chains, ...secc.chains].filter((c) => !lists(all.chains, c.certificateHashData, c.certificateType));
    if (all.status !== 'Accepted' || missing.length) {
      throw new ProtocolViolation('pnc.M03.omitted-type', `GetInstalledCertificateIds without certificateType answered ${all.status} with ${all.chains.length} entries; it must list every type (${missing.length} of the per-type entries missing)`);
    }
  },
);

const m04Delete = phase<D>(
  {
    name: 'm04_delete_mo_root',
    description: 'TC_M_20/22: DeleteCertificate of the MO root with upper-case hashes → Accepted and no longer listed; an unknown certificate → NotFound; the MO root is installed again (TC_M_04).',
    timeoutMs: 20_000,
    measures: [measure('delete_status').equals('Accepted'), measure('unknown_delete_status').equals('NotFound'), measure('reinstall_status').equals('Accepted')],
  },
  async (ctx) => {
    const h = rootHashData(ctx, 'mo-root');
    const upper = { ...h, issuerNameHash: h.issuerNameHash.toUpperCase(), issuerKeyHash: h.issuerKeyHash.toUpperCase(), serialNumber: h.serialNumber.toUpperCase() };
    let deleted = false;
    try {
      const st = await deleteCertificate(ctx, upper);
      ctx.m.set('delete_status', st);
      if (st !== 'Accepted') throw new ProtocolViolation('pnc.M04.delete', `DeleteCertificate of the installed MO root with upper-case hash data answered ${st} (hash comparison must ignore case)`);
      deleted = true;
      const after = await installedIds(ctx, ['MORootCertificate']);
      if (lists(after.chains, h)) throw new ProtocolViolation('pnc.M04.delete', 'the MO root is still listed after DeleteCertificate Accepted');
      const unknown = await deleteCertificate(ctx, { ...h, serialNumber: '7fffffff0000000000000000000000ff' });
      ctx.m.set('unknown_delete_status', unknown);
      if (unknown !== 'NotFound') throw new ProtocolViolation('pnc.M04.not-found', `DeleteCertificate of a certificate the charger does not hold answered ${unknown}`);
    } finally {
      if (deleted) {
        const r = await pncCall(ctx, 'InstallCertificate', { certificateType: 'MORootCertificate', certificate: benchPki(ctx).cert('mo-root').pem }, 'pnc.M05.install');
        ctx.m.set('reinstall_status', r.status);
        if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.M05.install', `InstallCertificate MORootCertificate (the bench MO root) answered ${r.status}`);
      }
    }
    const back = await installedIds(ctx, ['MORootCertificate']);
    if (!lists(back.chains, h)) throw new ProtocolViolation('pnc.M05.install', 'the MO root is not listed after InstallCertificate Accepted');
  },
);

const m05Install = phase<D>(
  {
    name: 'm05_install_roots',
    description: 'TC_M_03: InstallCertificate of a further V2G root → Accepted, listed, deleted again.',
    timeoutMs: 20_000,
    measures: [measure('root_install_status').equals('Accepted')],
  },
  async (ctx) => {
    const pki = benchPki(ctx);
    const extra = negativeMaterial(pki, 'unknown-root', { branch: 'secc' }).root;
    const extraHash = hashDataOf(extra);
    const r = await pncCall(ctx, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: extra.pem }, 'pnc.M05.install');
    ctx.m.set('root_install_status', r.status);
    if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.M05.install', `InstallCertificate of a self-signed V2G root answered ${r.status}`);
    state.extraRoots.push({ type: 'V2GRootCertificate', hash: extraHash });
    const listed = await installedIds(ctx, ['V2GRootCertificate']);
    if (!lists(listed.chains, extraHash)) throw new ProtocolViolation('pnc.M05.install', 'the installed V2G root is not listed by GetInstalledCertificateIds');
    const del = await deleteCertificate(ctx, extraHash);
    if (del !== 'Accepted') throw new ProtocolViolation('pnc.M04.delete', `DeleteCertificate of the extra V2G root answered ${del}`);
    state.extraRoots = state.extraRoots.filter((x) => x.hash !== extraHash);
  },
);

const m05StoreFull = phase<D>(
  {
    name: 'm05_store_full',
    description:
      'Catalogue §2 (CertificateStoreMaxLength): further self-signed V2G roots are installed until the store holds CertificateStoreMaxLength roots; one more → Failed. Every root added is deleted again. SKIPPED, saying why, when the charger does not report CertificateStoreMaxLength or filling the store would take more than pnc.store_fill_max_installs installs.',
    timeoutMs: 60_000,
    measures: [
      measure('store_max_length').doc('CertificateStoreMaxLength the charger reports'),
      measure('roots_before').doc('V2G + MO roots listed before filling'),
      measure('store_full_status').equals('Failed').doc('InstallCertificate answer once the store is full'),
    ],
  },
  async (ctx) => {
    const reported = (await state.keeper.get(ctx, ['CertificateStoreMaxLength'])).get('CertificateStoreMaxLength');
    if (reported === undefined) return { skip: 'the charger does not report CertificateStoreMaxLength: the full-store case cannot be set up' };
    if (!/^\d+$/.test(reported)) throw new ProtocolViolation('pnc.config', `CertificateStoreMaxLength is ${JSON.stringify(reported)}, not a whole number`);
    const maxLength = Number(reported);
    const roots = (await installedIds(ctx, ['V2GRootCertificate'])).chains.length + (await installedIds(ctx, ['MORootCertificate'])).chains.length;
    ctx.m.set('store_max_length', maxLength);
    ctx.m.set('roots_before', roots);
    const need = Math.max(0, maxLength - roots);
    const maxInstalls = limitNumber(ctx, 'pnc.store_fill_max_installs');
    if (need + 1 > maxInstalls) return { skip: `filling the store takes ${need + 1} InstallCertificate calls (CertificateStoreMaxLength ${maxLength}, ${roots} roots installed), more than pnc.store_fill_max_installs = ${maxInstalls}` };
    const added: CertificateHashData[] = [];
    try {
      for (let k = 0; k <= need; k++) {
        const root = freshV2gRoot(k + 1);
        const h = hashDataOf(root);
        const r = await pncCall(ctx, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: root.pem }, 'pnc.M05.install');
        if (r.status === 'Accepted') {
          added.push(h);
          state.extraRoots.push({ type: 'V2GRootCertificate', hash: h });
          if (k >= need) throw new ProtocolViolation('pnc.M05.store-full', `InstallCertificate of root ${roots + k + 1} answered Accepted; CertificateStoreMaxLength is ${maxLength} (a full store answers Failed)`);
          continue;
        }
        ctx.m.set('store_full_status', r.status);
        if (r.status !== 'Failed') throw new ProtocolViolation('pnc.M05.store-full', `InstallCertificate of a valid self-signed V2G root with ${roots + k} roots installed (CertificateStoreMaxLength ${maxLength}) answered ${r.status}; a full store answers Failed`);
        if (k < need) ctx.warn(`the store was full after ${roots + k} roots (CertificateStoreMaxLength ${maxLength}): the charger counts further certificates against it`);
        ctx.log(`store full after ${roots + k} roots: InstallCertificate → Failed`);
        return undefined;
      }
      return undefined;
    } finally {
      for (const h of added) {
        await bestEffort(ctx, `deleting fill root ${h.serialNumber}`, async () => {
          const st = await deleteCertificate(ctx, h);
          if (st !== 'Accepted') throw new Error(`DeleteCertificate answered ${st}`);
          state.extraRoots = state.extraRoots.filter((x) => x.hash !== h);
        });
      }
    }
  },
);

/** Last of the store phases: a charger that wrongly accepts a sub-CA may be unable to list or delete it afterwards (EVerest #2109). */
const m05NonRoot = phase<D>(
  {
    name: 'm05_reject_non_root',
    description: 'TC_M_07: InstallCertificate V2GRootCertificate with a sub-CA certificate (CPO Sub-CA 1) → Rejected.',
    timeoutMs: 20_000,
    measures: [measure('non_root_install_status').equals('Rejected')],
  },
  async (ctx) => {
    const pki = benchPki(ctx);
    const sub = pki.cert('cpo-sub1');
    const nr = await pncCall(ctx, 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: sub.pem }, 'pnc.M05.install');
    ctx.m.set('non_root_install_status', nr.status);
    if (nr.status === 'Accepted') {
      const h = hashDataOf(sub, pki.cert('v2g-root'));
      await bestEffort(ctx, 'deleting the wrongly installed sub-CA', async () => {
        const st = await deleteCertificate(ctx, h);
        if (st !== 'Accepted') state.extraRoots.push({ type: 'V2GRootCertificate', hash: h });
      });
      throw new ProtocolViolation('pnc.M05.non-root', 'InstallCertificate V2GRootCertificate with a sub-CA certificate (CPO Sub-CA 1) answered Accepted; only self-signed root certificates may be installed');
    }
  },
);

const m04LastRoot = phase<D>(
  {
    name: 'm04_keep_last_v2g_root',
    description: 'TC_M_23-like: DeleteCertificate of the only V2G root → Failed; the root stays installed.',
    timeoutMs: 20_000,
    measures: [measure('last_root_delete_status').equals('Failed')],
  },
  async (ctx) => {
    const h = rootHashData(ctx, 'v2g-root');
    const roots = await installedIds(ctx, ['V2GRootCertificate']);
    if (roots.chains.length !== 1) return { skip: `the charger holds ${roots.chains.length} V2G roots: deleting one would not test the last-root rule` };
    const st = await deleteCertificate(ctx, h);
    ctx.m.set('last_root_delete_status', st);
    if (st === 'Accepted') {
      await ensureRootInstalled(ctx, 'v2g-root');
      throw new ProtocolViolation('pnc.M04.last-root', 'DeleteCertificate of the last V2G root answered Accepted; the charger must keep at least one V2G root (re-installed by the bench)');
    }
    const after = await installedIds(ctx, ['V2GRootCertificate']);
    if (!lists(after.chains, h)) {
      await ensureRootInstalled(ctx, 'v2g-root');
      throw new ProtocolViolation('pnc.M04.last-root', `DeleteCertificate of the last V2G root answered ${st} but the root is gone`);
    }
    return undefined;
  },
);

/** The issuer of `cert` among `pool` (by name and signature). */
function issuerIn(cert: PkiCert, pool: readonly PkiCert[]): PkiCert | undefined {
  return pool.find((p) => p !== cert && Buffer.compare(Buffer.from(cert.issuerDer), Buffer.from(p.subjectDer)) === 0 && verifyCertificateSignature(cert, p.spki));
}

const m06Status = phase<D>(
  {
    name: 'm06_get_certificate_status',
    description:
      'TC_M_24: the charger asks the CSMS for the OCSP status of its SECC chain (DataTransfer GetCertificateStatus; libocpp does it right after a CertificateSigned is accepted). A fresh SECC certificate is installed, then: a request for every V2G sub-CA of the new chain, each ocspRequestData well-formed, naming a certificate of that chain with the responderURL of its OCSP AIA; the CSMS answers from its OCSP responder (Accepted, an ocspResult that verifies: good). Requests seen earlier in the suite are format-checked too. SKIPPED, saying so, when the charger sends none within pnc.wait.ocsp_ms.',
    timeoutMs: 30_000,
    measures: [
      measure('certificate_status_requests').inRange({ min: 1 }).doc('GetCertificateStatus requests after the CertificateSigned'),
      measure('sub_cas_requested').doc('sub-CAs of the new SECC chain asked for / sub-CAs in the chain'),
      measure('ocsp_status').equals('good').doc('OCSP status the CSMS\'s responder gave (worst of the requests)'),
    ],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      const earlier = state.suiteCalls?.of('DataTransfer.GetCertificateStatus') ?? [];
      const { sign } = await triggerSignCertificate(ctx, cp);
      const chainPem = await chainFor(cp, sign, 'valid');
      const chain = parseCertificateChainPem(chainPem).filter((c, i) => i === 0 || !c.isSelfIssued);
      const pool = [...chain, ...benchPki(ctx).authorities().map((a) => a.cert)];
      const subs = chain.slice(1);
      const since = nowMs();
      await sendValidChain(ctx, chainPem);
      rememberSecc(chainPem);
      const waitMs = limitNumber(ctx, 'pnc.wait.ocsp_ms');
      await pollUntil(ctx, waitMs, () => (rec.of('DataTransfer.GetCertificateStatus', since).length >= subs.length ? true : undefined));
      if (rec.of('DataTransfer.GetCertificateStatus', since).length < subs.length) await ctx.sleep(100); // a straggler
      checkPncTraffic(rec, since);
      const calls = rec.of('DataTransfer.GetCertificateStatus', since);
      const old = earlier.filter((c) => c.t < since);
      for (const [i, c] of [...old, ...calls].entries()) {
        const bad = c.violations[0];
        if (bad) throw new ProtocolViolation(bad.rule, `DataTransfer GetCertificateStatus: ${bad.message}`);
        const p = hashDataProblems(c.payload.ocspRequestData, `GetCertificateStatus[${i}].ocspRequestData`, { responderUrl: true });
        if (p.length) throw new ProtocolViolation('pnc.hash-format', p.join('; '));
      }
      if (calls.length === 0) {
        return { skip: `the charger sent no GetCertificateStatus within ${waitMs} ms (pnc.wait.ocsp_ms) of accepting a CertificateSigned${old.length ? ` (${old.length} earlier in this suite, well-formed)` : ', nor earlier in this suite'}: M06 not exercised` };
      }
      ctx.m.set('certificate_status_requests', calls.length);
      const asked = new Set<PkiCert>();
      let worst = 'good';
      for (const c of calls) {
        const data = c.payload.ocspRequestData as CertificateHashData & { responderURL: string };
        const cert = chain.find((x) => {
          const issuer = issuerIn(x, pool);
          return issuer !== undefined && hashDataMatches(hashDataOf(x, issuer), data);
        });
        if (!cert) throw new ProtocolViolation('pnc.M06.request', `GetCertificateStatus for serial ${data.serialNumber} names no certificate of the SECC chain the charger just accepted`);
        const issuer = issuerIn(cert, pool) as PkiCert;
        if (!cert.ocspUrls.includes(data.responderURL)) throw new ProtocolViolation('pnc.M06.request', `GetCertificateStatus for "${cert.subject}": responderURL ${JSON.stringify(data.responderURL)} is not the certificate's OCSP AIA (${cert.ocspUrls.join(', ') || 'none'})`);
        asked.add(cert);
        const a = await c.answered;
        const result = a.inner?.ocspResult;
        if (a.inner?.status !== 'Accepted' || typeof result !== 'string') throw new Error(`the CSMS answered GetCertificateStatus for "${cert.subject}" ${String(a.inner?.status)} ${JSON.stringify(a.inner?.statusInfo ?? {})}: its OCSP responder failed`);
        const v = verifyOcspResponse(new Uint8Array(Buffer.from(result, 'base64')), { cert, issuer });
        if (!v.ok) throw new Error(`the CSMS's ocspResult for "${cert.subject}" does not verify: ${v.error}`);
        if (v.status.status !== 'good') worst = v.status.status;
        ctx.log(`GetCertificateStatus "${cert.subject}" serial ${cert.serialHex}: OCSP ${v.status.status}`);
      }
      const missing = subs.filter((x) => !asked.has(x));
      ctx.m.set('sub_cas_requested', `${subs.length - missing.length}/${subs.length}`);
      ctx.m.set('ocsp_status', worst);
      if (missing.length) throw new ProtocolViolation('pnc.M06.request', `no GetCertificateStatus for ${missing.map((x) => `"${x.subject}"`).join(', ')}: after accepting a CertificateSigned the charger refreshes the OCSP status of every sub-CA of its new chain`);
      return undefined;
    }),
);

// ------------------------------------------------------------------ teardown

const restore = phase<D>(
  { name: 'restore', description: 'Removes roots this suite added, re-installs the bench roots if missing, puts back configuration and CSMS settings.', timeoutMs: 30_000 },
  async (ctx) => {
    const cp = await chargePoint(ctx);
    if (state.certificateSignedBefore !== undefined) cp.configure({ pnc: { certificateSigned: state.certificateSignedBefore } });
    for (const x of state.extraRoots) {
      const st = await deleteCertificate(ctx, x.hash).catch((e: unknown) => `error: ${errorText(e)}`);
      ctx.log(`removed extra ${x.type}: ${st}`);
    }
    state.extraRoots = [];
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(ctx, role);
    const done = await state.keeper.restore(ctx);
    if (done.length) ctx.log(`restored ${done.join(', ')}`);
    state.suiteCalls?.stop();
    state.suiteCalls = undefined;
  },
);

export default defineSuite({
  name: 'cert-installation',
  version: '1.0.0',
  description: 'PnC certificate management: A02/A03 SECC certificate and back-off, M01/M02 contract installation through the charger, M03–M06 certificate store.',
  requires: ['pnc', 'ev'],
  uses,
  setup: [prepare],
  main: [a02Sign, a02Rejects, a03Backoff, m01Install, m02Update, m03List, m04Delete, m05Install, m05StoreFull, m04LastRoot, m05NonRoot, m06Status],
  teardown: [restore],
});
