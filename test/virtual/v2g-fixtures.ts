// Shared fixtures of the virtual-rig ISO 15118 tests (v2g-session, ev-carsim): a fake charge-point
// controller behind the SECC (SeccBackend) that answers the certificate exchange with a REAL
// CertificateInstallationRes made by src/exi answerGet15118EVCertificate with the bench PKI as the
// CPS (benchAnswerOptions: the EV's ListOfRootCertificateIDs, OEM chain and signature are checked),
// and an MQTT observer that records the EV's module variables and sends car-simulator commands. The
// broker is the virtual rig's own (rigs/virtual/broker.ts startBroker).
import { connect, type MqttClient } from 'mqtt';
import type {
  CertificateExchangeRequest,
  CertificateExchangeResult,
  ChargingSessionInfo,
  ContractChain,
  PncAuthorizationResult,
  SeccBackend,
} from '../../rigs/virtual/charger/backend.ts';
import type { AuthorizationStatus201 } from '../../src/csms/messages.ts';
import {
  answerGet15118EVCertificate,
  benchAnswerOptions,
  buildCertificateInstallationRes,
  decodeV2GMessage,
  encodeV2GMessage,
  parseCertificateInstallationReq,
  type ContractCredentials,
} from '../../src/exi/index.ts';
import { generateP256KeyPair, issueContractCertificate, type BenchPki, type P256KeyPair } from '../../src/pki/index.ts';

/** What the virtual EV holds from the bench PKI: the OEM provisioning chain and key, the V2G root. */
export function evCredentials(pki: BenchPki): { oemProvisioning: { chainDer: Buffer[]; privateKey: Uint8Array }; v2gRootsDer: Buffer[] } {
  return {
    oemProvisioning: { chainDer: pki.chain('oem-prov').map((c) => Buffer.from(c.der)), privateKey: (pki.get('oem-prov').key as P256KeyPair).privateKey },
    v2gRootsDer: [Buffer.from(pki.cert('v2g-root').der)],
  };
}

/**
 * real: a correct response; session-id: its SessionID changed; wrong-key: the contract key encrypted
 * for another key; cps-leaf-only: SAProvisioningCertificateChain without the CPS sub-CAs;
 * not-base64: the real response with a character base64 does not have; none / failed-empty: no response
 */
export type ExchangeMode = 'real' | 'none' | 'session-id' | 'failed-empty' | 'wrong-key' | 'cps-leaf-only' | 'not-base64';

export class FakeBackend implements SeccBackend {
  exchangeMode: ExchangeMode = 'real';
  authorizeStatus: AuthorizationStatus201 = 'Accepted';
  authorizeDelayMs = 0;
  readonly exchanges: CertificateExchangeRequest[] = [];
  readonly authorizations: ContractChain[] = [];
  readonly started: ChargingSessionInfo[] = [];
  readonly stopped: string[] = [];
  issuedEmaid = '';
  constructor(private readonly pki: BenchPki) {}

  async exchangeCertificate(req: CertificateExchangeRequest, _signal: AbortSignal): Promise<CertificateExchangeResult> {
    this.exchanges.push(req);
    if (this.exchangeMode === 'none') return { kind: 'none', reason: 'the CSMS did not answer (test)' };
    if (this.exchangeMode === 'failed-empty') return { kind: 'answer', status: 'Failed', exiResponse: '' };
    const bench = benchAnswerOptions(this.pki);
    const issueContract = (): ContractCredentials => {
      const b = issueContractCertificate(this.pki, { emaid: this.pki.emaid });
      this.issuedEmaid = b.emaid;
      return { certificateChain: b.chain.map((c) => c.der), privateKey: b.key.privateKey };
    };
    if (this.exchangeMode === 'wrong-key') {
      const parsed = parseCertificateInstallationReq(req.exiRequest);
      const res = await buildCertificateInstallationRes({ sessionId: parsed.sessionId, cps: bench.cps, contract: issueContract(), recipientPublicKey: generateP256KeyPair().publicKey });
      return { kind: 'answer', status: 'Accepted', exiResponse: res.exiBase64 };
    }
    const cps = this.exchangeMode === 'cps-leaf-only' ? { ...bench.cps, certificateChain: bench.cps.certificateChain.slice(0, 1) } : bench.cps;
    const { response } = await answerGet15118EVCertificate(req.exiRequest, { ...bench, cps, issueContract });
    let exi = response.exi;
    if (this.exchangeMode === 'session-id') {
      const m = decodeV2GMessage(exi);
      const id = Uint8Array.from(m.Header.SessionID);
      id[0] = id[0]! ^ 0xff;
      exi = encodeV2GMessage({ ...m, Header: { ...m.Header, SessionID: id } });
    }
    const exiResponse = Buffer.from(exi).toString('base64');
    // Node's base64 decoder skips the '*': a charger that does not check would forward the intact response
    return { kind: 'answer', status: 'Accepted', exiResponse: this.exchangeMode === 'not-base64' ? `${exiResponse.slice(0, 40)}*${exiResponse.slice(40)}` : exiResponse };
  }

  async authorizeContract(chain: ContractChain, _signal: AbortSignal): Promise<PncAuthorizationResult> {
    this.authorizations.push(chain);
    if (this.authorizeDelayMs) await new Promise((r) => setTimeout(r, this.authorizeDelayMs));
    return { status: this.authorizeStatus, decidedBy: 'test' };
  }

  async startCharging(session: ChargingSessionInfo): Promise<void> {
    this.started.push(session);
  }

  async stopCharging(reason: 'EVDisconnected' | 'Local' | 'Remote' | 'Other'): Promise<void> {
    this.stopped.push(reason);
  }
}

export interface VarEvent {
  name: string;
  data: unknown;
  t: number;
}

/** Watches the EV's module variables and sends car-simulator commands. */
export class Observer {
  readonly vars: VarEvent[] = [];
  private client!: MqttClient;
  async start(url: string): Promise<void> {
    this.client = connect(url, { clientId: `obs-${Math.random().toString(16).slice(2)}` });
    await new Promise<void>((r) => this.client.once('connect', () => r()));
    this.client.on('message', (topic, payload) => {
      const name = topic.split('/').at(-1)!;
      this.vars.push({ name, data: (JSON.parse(payload.toString()) as { data: unknown }).data, t: Date.now() });
    });
    await this.client.subscribeAsync(['everest/modules/+/impl/+/var/#'], { qos: 1 });
  }
  async cmd(kind: 'enable' | 'execute_charging_session' | 'modify_charging_session', payload: string, connectorId = 1): Promise<void> {
    await this.client.publishAsync(`everest_external/nodered/${connectorId}/carsim/cmd/${kind}`, payload, { qos: 1 });
  }
  since(i: number, name?: string): VarEvent[] {
    return this.vars.slice(i).filter((v) => name === undefined || v.name === name);
  }
  async waitFor(name: string, from: number, timeoutMs = 8000): Promise<VarEvent> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.vars.slice(from).find((v) => v.name === name);
      if (hit) return hit;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${name} within ${timeoutMs} ms; saw ${this.vars.slice(from).map((v) => v.name).filter((n) => n !== 'V2G_Messages').join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  messages(from: number): string[] {
    return this.since(from, 'V2G_Messages').map((v) => {
      const d = v.data as { dir: string; message: string; responseCode?: string };
      return `${d.dir === 'EV->SECC' ? '>' : '<'}${d.message}${d.responseCode ? ` ${d.responseCode}` : ''}`;
    });
  }
  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
