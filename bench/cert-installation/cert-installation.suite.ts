// Certificate management of a PnC charger through the OCA 1.6 application note, the bench playing
// the CSMS: the SECC certificate (A02 on request of the CSMS, the A02/A03 SignCertificate back-off,
// CertificateSigned chain verification), the EV's contract installation through the charger (M01,
// M02 when the EV can), and the charger's certificate store (M03 list, M04 delete, M05 install,
// M06 status). Every change to the store or the configuration is undone before the suite ends.
// Phases and rule ids: bench/README.md "cert-installation".
import { ProtocolViolation, type JsonObject } from '../../drivers/capabilities.ts';
import { CsmsUsageError, type ChainVariant, type ChargePoint, type ReceivedCall } from '../../src/csms/index.ts';
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
import { benchPki, deleteCertificate, ensureRootInstalled, hashDataOf, installedIds, lists, rootHashData } from '../lib/certs.ts';
import { analyzeBackoff, evDetailText, hashDataProblems } from '../lib/checks.ts';
import {
  chargePoint,
  checkPncTraffic,
  ConfigKeeper,
  enforceLimit,
  ensureContract,
  evEmaid,
  evTrail,
  installContract,
  isNotSupported,
  limitNumber,
  nowMs,
  pncCall,
  recordCalls,
  waitForRecorded,
  type CallRecorder,
  type InstallResult,
  type PncContext,
} from '../lib/pnc.ts';

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
};

const pc = (ctx: Ctx): PncContext => ctx;

async function recording<T>(ctx: Ctx, fn: (rec: CallRecorder, cp: ChargePoint) => Promise<T>): Promise<T> {
  const cp = await chargePoint(pc(ctx));
  const rec = recordCalls(pc(ctx), cp);
  try {
    return await fn(rec, cp);
  } finally {
    rec.stop();
  }
}

/**
 * TriggerMessage(SignV2GCertificate) → the charger's SignCertificate, answered by the CSMS (CSR checked)
 * without the automatic CertificateSigned. Resolves with the SignCertificate call.
 */
async function triggerSignCertificate(ctx: Ctx, cp: ChargePoint): Promise<ReceivedCall> {
  const since = nowMs();
  const rule = cp.respond('DataTransfer.SignCertificate', { followUp: 'none' });
  try {
    const trig = await pncCall(pc(ctx), 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, 'pnc.A02.trigger');
    if (trig.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.trigger', `TriggerMessage SignV2GCertificate answered ${trig.status}`);
    const sign = await cp.expectCall('DataTransfer.SignCertificate', { since, timeoutMs: limitNumber(pc(ctx), 'pnc.wait.sign_certificate_ms'), signal: ctx.signal });
    const answer = await sign.answered;
    const inner = answer.inner ?? {};
    if (inner.status !== 'Accepted') {
      throw new ProtocolViolation('pnc.A02.csr', `the CSMS refused the charger's CSR: ${String(inner.status)} ${JSON.stringify(inner.statusInfo ?? {})}`);
    }
    return sign;
  } finally {
    rule.remove();
  }
}

/** CertificateSigned with a chain of `variant` for the CSR of `sign`; resolves with the charger's status. */
async function sendChain(ctx: Ctx, cp: ChargePoint, sign: ReceivedCall, variant: ChainVariant): Promise<string> {
  let chain: string;
  try {
    chain = await cp.certificateChainFor(String(sign.payload.csr), variant);
  } catch (e) {
    if (e instanceof CsmsUsageError) throw new ProtocolViolation('pnc.A02.csr', e.message);
    throw e;
  }
  const r = await pncCall(pc(ctx), 'CertificateSigned', { certificateChain: chain, certificateType: 'V2GCertificate' }, 'pnc.A02.chain');
  return r.status;
}

/** Runs a clean-up step; a failure is a warning, so it never hides the finding that got us here. */
async function bestEffort(ctx: Ctx, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    ctx.warn(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Gives the charger a valid SECC certificate again (after negative tests or a withheld CertificateSigned). */
async function installValidLeaf(ctx: Ctx, cp: ChargePoint, sign?: ReceivedCall): Promise<void> {
  const s = sign ?? (await triggerSignCertificate(ctx, cp));
  const status = await sendChain(ctx, cp, s, 'valid');
  if (status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a valid chain for the charger's own CSR answered ${status}`);
}

// ------------------------------------------------------------------ setup

const prepare = phase<D>(
  { name: 'prepare', description: 'The charger is connected; the bench V2G and MO roots are installed.', timeoutMs: 20_000 },
  async (ctx) => {
    state.keeper = new ConfigKeeper();
    state.extraRoots = [];
    state.certificateSignedBefore = undefined;
    const cp = await chargePoint(pc(ctx));
    state.suiteCalls?.stop();
    state.suiteCalls = recordCalls(pc(ctx), cp);
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(pc(ctx), role);
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
      const cfg = await state.keeper.get(pc(ctx), ['CpoName', 'SeccLeafSubjectCommonName', 'SeccLeafSubjectCountry']);
      const sign = await triggerSignCertificate(ctx, cp);
      checkPncTraffic(rec, 0);
      const type = sign.payload.certificateType;
      if (type !== undefined && type !== 'V2GCertificate') throw new ProtocolViolation('pnc.A02.csr', `SignCertificate certificateType ${JSON.stringify(type)} after TriggerMessage SignV2GCertificate`);
      const chain = await cp.certificateChainFor(String(sign.payload.csr), 'valid');
      const leaf = parseCertificateChainPem(chain)[0];
      if (!leaf) throw new ProtocolViolation('pnc.A02.csr', 'no certificate could be issued for the CSR');
      ctx.m.set('csr_subject', leaf.subject);
      const want: [string, string | undefined, string][] = [
        ['CN', cfg.get('SeccLeafSubjectCommonName'), 'SeccLeafSubjectCommonName'],
        ['O', cfg.get('CpoName'), 'CpoName'],
        ['C', cfg.get('SeccLeafSubjectCountry'), 'SeccLeafSubjectCountry'],
        ['DC', 'CPO', 'ISO 15118-2 (SECC certificate)'],
      ];
      for (const [field, expected, source] of want) {
        const got = leaf.subjectField(field as 'CN')[0];
        if (expected !== undefined && got !== expected) throw new ProtocolViolation('pnc.A02.csr', `CSR subject ${field}=${JSON.stringify(got)}; ${source} says ${JSON.stringify(expected)}`);
      }
      const r = await pncCall(pc(ctx), 'CertificateSigned', { certificateChain: chain, certificateType: 'V2GCertificate' }, 'pnc.A02.chain');
      ctx.m.set('certificate_signed_status', r.status);
      if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a valid chain for the charger's own CSR answered ${r.status}`);
      const pki = benchPki(pc(ctx));
      const { chains } = await installedIds(pc(ctx), ['V2GCertificateChain']);
      if (!lists(chains, hashDataOf(leaf, pki.cert('cpo-sub2')), 'V2GCertificateChain')) {
        throw new ProtocolViolation('pnc.A02.installed', 'after CertificateSigned Accepted, GetInstalledCertificateIds V2GCertificateChain does not list the new SECC certificate');
      }
    }),
);

const REJECTED_VARIANTS: readonly ChainVariant[] = ['wrong-issuer', 'expired', 'no-dc-cpo', 'wrong-key'];

const a02Rejects = phase<D>(
  {
    name: 'a02_reject_bad_chains',
    description: `TC_A_14: CertificateSigned with a chain that is ${REJECTED_VARIANTS.join(', ')} → Rejected, and a SecurityEventNotification InvalidChargePointCertificate; a valid chain is installed afterwards.`,
    timeoutMs: 40_000,
    measures: [measure('rejected_chains').equals(REJECTED_VARIANTS.length)],
  },
  async (ctx) =>
    recording(ctx, async (rec, cp) => {
      let rejected = 0;
      try {
        for (const variant of REJECTED_VARIANTS) {
          const sign = await triggerSignCertificate(ctx, cp);
          const since = nowMs();
          const status = await sendChain(ctx, cp, sign, variant);
          if (status !== 'Rejected') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a ${variant} chain answered ${status}; the charger must verify the chain (leaf key = CSR key, chains to its V2G root, valid now, DC=CPO)`);
          const ev = await waitForRecorded(pc(ctx), rec, 'SecurityEventNotification', since, limitNumber(pc(ctx), 'pnc.wait.call_ms'), (c) => c.payload.type === 'InvalidChargePointCertificate');
          if (!ev) throw new ProtocolViolation('pnc.A02.security-event', `no SecurityEventNotification InvalidChargePointCertificate after rejecting a ${variant} chain`);
          ctx.log(`${variant}: Rejected, security event ${String(ev.payload.techInfo ?? '')}`);
          rejected++;
        }
      } finally {
        ctx.m.set('rejected_chains', rejected);
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
      const waitMinimumS = limitNumber(pc(ctx), 'pnc.backoff.wait_minimum_s');
      const repeatTimes = limitNumber(pc(ctx), 'pnc.backoff.repeat_times');
      const toleranceMs = limitNumber(pc(ctx), 'pnc.backoff.tolerance_ms');
      await state.keeper.set(pc(ctx), { CertSigningWaitMinimum: String(waitMinimumS), CertSigningRepeatTimes: String(repeatTimes) });
      state.certificateSignedBefore ??= cp.config.pnc.certificateSigned;
      cp.configure({ pnc: { certificateSigned: 'never' } });
      let lastSign: ReceivedCall | undefined;
      try {
        const since = nowMs();
        const trig = await pncCall(pc(ctx), 'TriggerMessage', { requestedMessage: 'SignV2GCertificate' }, 'pnc.A02.trigger');
        if (trig.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.trigger', `TriggerMessage SignV2GCertificate answered ${trig.status}`);
        const first = await waitForRecorded(pc(ctx), rec, 'DataTransfer.SignCertificate', since, limitNumber(pc(ctx), 'pnc.wait.sign_certificate_ms'));
        if (!first) throw new ProtocolViolation('pnc.A02.trigger', 'no SignCertificate after TriggerMessage SignV2GCertificate Accepted');
        // wait through every due resend, then the quiet window in which a further send would break the rule
        const dueMs = waitMinimumS * 1000 * (2 ** repeatTimes - 1);
        const quietMs = waitMinimumS * 1000 * 2 ** repeatTimes * limitNumber(pc(ctx), 'pnc.backoff.quiet_factor');
        const end = first.t + dueMs + quietMs;
        while (nowMs() < end && rec.of('DataTransfer.SignCertificate', since).length <= 1 + repeatTimes) await ctx.sleep(50);
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
        a.ratios.slice(0, repeatTimes).forEach((r, i) => enforceLimit(pc(ctx), 'pnc.backoff_ratio', r, 'pnc.A03.backoff', `resend ${i + 1} came ${(a.gapsS[i] as number).toFixed(3)} s after the previous send`));
      } finally {
        cp.configure({ pnc: { certificateSigned: state.certificateSignedBefore ?? 'send' } });
        state.certificateSignedBefore = undefined;
        await bestEffort(ctx, 'restoring CertSigningWaitMinimum / CertSigningRepeatTimes', () => state.keeper.restore(pc(ctx)));
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
      const r = await installContract(pc(ctx), rec);
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M01.forward', `the charger did not send DataTransfer Get15118EVCertificate for the EV's CertificateInstallationReq; EV: ${evTrail(pc(ctx), r.since)}`);
      if (r.request.payload.action !== 'Install') throw new ProtocolViolation('pnc.M01.action', `Get15118EVCertificate action ${JSON.stringify(r.request.payload.action)} for a CertificateInstallationReq (expected Install)`);
      if (r.request.payload.iso15118SchemaVersion !== 'urn:iso:15118:2:2013:MsgDef') ctx.warn(`iso15118SchemaVersion ${JSON.stringify(r.request.payload.iso15118SchemaVersion)}`);
      const answer = await r.request.answered;
      const status = String(answer.inner?.status ?? answer.kind);
      ctx.m.set('get15118_status', status);
      if (status !== 'Accepted') throw new ProtocolViolation('pnc.M01.exi-request', `the CSMS could not answer the forwarded exiRequest: ${status} ${JSON.stringify((answer.inner as JsonObject | undefined)?.statusInfo ?? {})}`);
      if (r.failed) {
        const reason = evDetailText(r.failed.detail) ?? '';
        if (reason === 'session-id') throw new ProtocolViolation('pnc.M01.session-id', 'the EV refused the CertificateInstallationRes: the SessionID in the forwarded exiResponse is not the session\'s (the charger must forward it unchanged)');
        throw new ProtocolViolation('pnc.M01.install', `the EV could not install the contract: ${reason}; EV: ${evTrail(pc(ctx), r.since)}`);
      }
      if (!r.installed) throw new ProtocolViolation('pnc.M01.install', `the EV reported neither ContractInstalled nor ContractInstallFailed; EV: ${evTrail(pc(ctx), r.since)}`);
      ctx.m.set('contract_emaid', r.emaid ?? '');
    }),
);

/** The contract certificate (DER) and eMAID of a forwarded CertificateUpdateReq and of the CSMS's CertificateUpdateRes. */
function updateExchange(request: ReceivedCall, exiResponse: unknown): { oldLeaf: PkiCert; oldEmaid: string; newLeaf: PkiCert; newEmaid: string } {
  let req: ParsedCertificateUpdateReq;
  try {
    req = parseCertificateUpdateReq(String(request.payload.exiRequest));
  } catch (e) {
    throw new ProtocolViolation('pnc.M02.exi-request', `the forwarded exiRequest of an Update is not the EV's CertificateUpdateReq: ${e instanceof Error ? e.message : String(e)}`);
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
      if (typeof ctx.d.ev.updateCertificate !== 'function') return { skip: 'the rig\'s EV emulator driver has no updateCertificate(): M02 not exercised' };
      const before = evEmaid(pc(ctx)) ?? (await ensureContract(pc(ctx), rec));
      let r: InstallResult;
      try {
        r = await installContract(pc(ctx), rec, 'update');
      } catch (e) {
        if (isNotSupported(e)) return { skip: `${e.message}: M02 not exercised` };
        throw e;
      }
      checkPncTraffic(rec, r.since);
      if (!r.request) throw new ProtocolViolation('pnc.M02.forward', `the charger did not send DataTransfer Get15118EVCertificate for the EV's CertificateUpdateReq; EV: ${evTrail(pc(ctx), r.since)}`);
      if (r.request.payload.action !== 'Update') throw new ProtocolViolation('pnc.M02.action', `Get15118EVCertificate action ${JSON.stringify(r.request.payload.action)} for a CertificateUpdateReq (expected Update)`);
      const answer = await r.request.answered;
      const status = String(answer.inner?.status ?? answer.kind);
      ctx.m.set('get15118_status', status);
      if (status !== 'Accepted') throw new ProtocolViolation('pnc.M02.exi-request', `the CSMS could not answer the forwarded exiRequest: ${status} ${JSON.stringify((answer.inner as JsonObject | undefined)?.statusInfo ?? {})}`);
      const x = updateExchange(r.request, answer.inner?.exiResponse);
      ctx.log(`CertificateUpdateReq for ${x.oldEmaid} (contract serial ${x.oldLeaf.serialHex}) → new contract serial ${x.newLeaf.serialHex} for ${x.newEmaid}`);
      if (x.oldEmaid.toUpperCase() !== before.toUpperCase()) ctx.warn(`the EV asked to update ${x.oldEmaid}; it reported ${before} before`);
      if (r.failed) {
        const reason = evDetailText(r.failed.detail) ?? '';
        if (reason === 'session-id') throw new ProtocolViolation('pnc.M02.session-id', 'the EV refused the CertificateUpdateRes: the SessionID in the forwarded exiResponse is not the session\'s (the charger must forward it unchanged)');
        throw new ProtocolViolation('pnc.M02.install', `the EV could not install the updated contract: ${reason}; EV: ${evTrail(pc(ctx), r.since)}`);
      }
      if (!r.installed) throw new ProtocolViolation('pnc.M02.install', `the EV reported neither ContractInstalled nor ContractInstallFailed after the update; EV: ${evTrail(pc(ctx), r.since)}`);
      ctx.m.set('contract_emaid', r.emaid ?? '');
      ctx.m.set('new_contract_serial', x.newLeaf.serialHex);
      if ((r.emaid ?? '').toUpperCase() !== before.toUpperCase()) throw new ProtocolViolation('pnc.M02.install', `after the update the EV holds eMAID ${JSON.stringify(r.emaid)}; the updated contract keeps ${before}`);
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
    const pki = benchPki(pc(ctx));
    const v2g = await installedIds(pc(ctx), ['V2GRootCertificate']);
    const mo = await installedIds(pc(ctx), ['MORootCertificate']);
    const secc = await installedIds(pc(ctx), ['V2GCertificateChain']);
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
    if (!lists(v2g.chains, rootHashData(pc(ctx), 'v2g-root'))) throw new ProtocolViolation('pnc.M03.list', 'the bench V2G root is installed but not listed under V2GRootCertificate');
    if (!lists(mo.chains, rootHashData(pc(ctx), 'mo-root'))) throw new ProtocolViolation('pnc.M03.list', 'the bench MO root is installed but not listed under MORootCertificate');
    if (secc.chains.length === 0) throw new ProtocolViolation('pnc.M03.list', 'no V2GCertificateChain listed although the charger holds an SECC certificate (installed in a02_sign_v2g_certificate)');
    const leafChain = secc.chains[0] as (typeof secc.chains)[number];
    const children = leafChain.childCertificateHashData ?? [];
    const sub2 = hashDataOf(pki.cert('cpo-sub2'), pki.cert('cpo-sub1'));
    const sub1 = hashDataOf(pki.cert('cpo-sub1'), pki.cert('v2g-root'));
    if (!lists(children.map((h) => ({ certificateType: 'V2GCertificateChain', certificateHashData: h })), sub2) || !lists(children.map((h) => ({ certificateType: 'V2GCertificateChain', certificateHashData: h })), sub1)) {
      throw new ProtocolViolation('pnc.M03.chain', `V2GCertificateChain lists ${children.length} child certificate(s); the SECC certificate's CPO Sub-CA 2 and Sub-CA 1 must be there (and not the root)`);
    }
    const all = await installedIds(pc(ctx), undefined, 'pnc.M03.omitted-type');
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
    const h = rootHashData(pc(ctx), 'mo-root');
    const upper = { ...h, issuerNameHash: h.issuerNameHash.toUpperCase(), issuerKeyHash: h.issuerKeyHash.toUpperCase(), serialNumber: h.serialNumber.toUpperCase() };
    let deleted = false;
    try {
      const st = await deleteCertificate(pc(ctx), upper);
      ctx.m.set('delete_status', st);
      if (st !== 'Accepted') throw new ProtocolViolation('pnc.M04.delete', `DeleteCertificate of the installed MO root with upper-case hash data answered ${st} (hash comparison must ignore case)`);
      deleted = true;
      const after = await installedIds(pc(ctx), ['MORootCertificate']);
      if (lists(after.chains, h)) throw new ProtocolViolation('pnc.M04.delete', 'the MO root is still listed after DeleteCertificate Accepted');
      const unknown = await deleteCertificate(pc(ctx), { ...h, serialNumber: '7fffffff0000000000000000000000ff' });
      ctx.m.set('unknown_delete_status', unknown);
      if (unknown !== 'NotFound') throw new ProtocolViolation('pnc.M04.not-found', `DeleteCertificate of a certificate the charger does not hold answered ${unknown}`);
    } finally {
      if (deleted) {
        const r = await pncCall(pc(ctx), 'InstallCertificate', { certificateType: 'MORootCertificate', certificate: benchPki(pc(ctx)).cert('mo-root').pem }, 'pnc.M05.install');
        ctx.m.set('reinstall_status', r.status);
        if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.M05.install', `InstallCertificate MORootCertificate (the bench MO root) answered ${r.status}`);
      }
    }
    const back = await installedIds(pc(ctx), ['MORootCertificate']);
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
    const pki = benchPki(pc(ctx));
    const extra = negativeMaterial(pki, 'unknown-root', { branch: 'secc' }).root;
    const extraHash = hashDataOf(extra);
    const r = await pncCall(pc(ctx), 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: extra.pem }, 'pnc.M05.install');
    ctx.m.set('root_install_status', r.status);
    if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.M05.install', `InstallCertificate of a self-signed V2G root answered ${r.status}`);
    state.extraRoots.push({ type: 'V2GRootCertificate', hash: extraHash });
    const listed = await installedIds(pc(ctx), ['V2GRootCertificate']);
    if (!lists(listed.chains, extraHash)) throw new ProtocolViolation('pnc.M05.install', 'the installed V2G root is not listed by GetInstalledCertificateIds');
    const del = await deleteCertificate(pc(ctx), extraHash);
    if (del !== 'Accepted') throw new ProtocolViolation('pnc.M04.delete', `DeleteCertificate of the extra V2G root answered ${del}`);
    state.extraRoots = state.extraRoots.filter((x) => x.hash !== extraHash);
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
    const pki = benchPki(pc(ctx));
    const sub = pki.cert('cpo-sub1');
    const nr = await pncCall(pc(ctx), 'InstallCertificate', { certificateType: 'V2GRootCertificate', certificate: sub.pem }, 'pnc.M05.install');
    ctx.m.set('non_root_install_status', nr.status);
    if (nr.status === 'Accepted') {
      const h = hashDataOf(sub, pki.cert('v2g-root'));
      await bestEffort(ctx, 'deleting the wrongly installed sub-CA', async () => {
        const st = await deleteCertificate(pc(ctx), h);
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
    const h = rootHashData(pc(ctx), 'v2g-root');
    const roots = await installedIds(pc(ctx), ['V2GRootCertificate']);
    if (roots.chains.length !== 1) return { skip: `the charger holds ${roots.chains.length} V2G roots: deleting one would not test the last-root rule` };
    const st = await deleteCertificate(pc(ctx), h);
    ctx.m.set('last_root_delete_status', st);
    if (st === 'Accepted') {
      await ensureRootInstalled(pc(ctx), 'v2g-root');
      throw new ProtocolViolation('pnc.M04.last-root', 'DeleteCertificate of the last V2G root answered Accepted; the charger must keep at least one V2G root (re-installed by the bench)');
    }
    const after = await installedIds(pc(ctx), ['V2GRootCertificate']);
    if (!lists(after.chains, h)) {
      await ensureRootInstalled(pc(ctx), 'v2g-root');
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
      const sign = await triggerSignCertificate(ctx, cp);
      const chainPem = await cp.certificateChainFor(String(sign.payload.csr), 'valid');
      const chain = parseCertificateChainPem(chainPem).filter((c, i) => i === 0 || !c.isSelfIssued);
      const pool = [...chain, ...benchPki(pc(ctx)).authorities().map((a) => a.cert)];
      const subs = chain.slice(1);
      const since = nowMs();
      const r = await pncCall(pc(ctx), 'CertificateSigned', { certificateChain: chainPem, certificateType: 'V2GCertificate' }, 'pnc.A02.chain');
      if (r.status !== 'Accepted') throw new ProtocolViolation('pnc.A02.chain', `CertificateSigned with a valid chain for the charger's own CSR answered ${r.status}`);
      const waitMs = limitNumber(pc(ctx), 'pnc.wait.ocsp_ms');
      const end = nowMs() + waitMs;
      while (nowMs() < end && rec.of('DataTransfer.GetCertificateStatus', since).length < subs.length) await ctx.sleep(20);
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
    const cp = await chargePoint(pc(ctx));
    if (state.certificateSignedBefore !== undefined) cp.configure({ pnc: { certificateSigned: state.certificateSignedBefore } });
    for (const x of state.extraRoots) {
      const st = await deleteCertificate(pc(ctx), x.hash).catch((e: unknown) => `error: ${e instanceof Error ? e.message : String(e)}`);
      ctx.log(`removed extra ${x.type}: ${st}`);
    }
    state.extraRoots = [];
    for (const role of ['v2g-root', 'mo-root'] as const) await ensureRootInstalled(pc(ctx), role);
    const done = await state.keeper.restore(pc(ctx));
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
  main: [a02Sign, a02Rejects, a03Backoff, m01Install, m02Update, m03List, m04Delete, m05Install, m04LastRoot, m05NonRoot, m06Status],
  teardown: [restore],
});
