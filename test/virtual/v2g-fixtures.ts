// Shared fixtures of the virtual-rig ISO 15118 tests (v2g-session, ev-carsim): an in-process aedes
// MQTT broker on an ephemeral loopback port, a fake charge-point controller behind the SECC
// (SeccBackend) that answers the certificate exchange with a REAL CertificateInstallationRes made
// by src/exi answerGet15118EVCertificate from the bench PKI, and an MQTT observer that records the
// EV's module variables and sends car-simulator commands.
import net from 'node:net';
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import type {
  CertificateExchangeRequest,
  CertificateExchangeResult,
  ChargingSessionInfo,
  ContractChain,
  PncAuthorizationResult,
  PncAuthorizationStatus,
  SeccBackend,
} from '../../rigs/virtual/charger/backend.ts';
import { answerGet15118EVCertificate, buildCertificateInstallationRes, decodeV2GMessage, encodeV2GMessage, parseCertificateInstallationReq } from '../../src/exi/index.ts';
import { cpsSigner, generateP256KeyPair, issueContractCertificate, signP256Raw, type BenchPki, type P256KeyPair } from '../../src/pki/index.ts';

/** What the virtual EV holds from the bench PKI: the OEM provisioning chain and key, the V2G root. */
export function evCredentials(pki: BenchPki): { oemProvisioning: { chainDer: Buffer[]; privateKey: Uint8Array }; v2gRootsDer: Buffer[] } {
  return {
    oemProvisioning: { chainDer: pki.chain('oem-prov').map((c) => Buffer.from(c.der)), privateKey: (pki.get('oem-prov').key as P256KeyPair).privateKey },
    v2gRootsDer: [Buffer.from(pki.cert('v2g-root').der)],
  };
}


export async function startBroker(): Promise<{ url: string; stop: () => Promise<void> }> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

/** real: a correct response; session-id: its SessionID changed; wrong-key: the contract key encrypted for another key; none / failed-empty: no response */
export type ExchangeMode = 'real' | 'none' | 'session-id' | 'failed-empty' | 'wrong-key';

export class FakeBackend implements SeccBackend {
  exchangeMode: ExchangeMode = 'real';
  authorizeStatus: PncAuthorizationStatus = 'Accepted';
  authorizeDelayMs = 0;
  readonly exchanges: CertificateExchangeRequest[] = [];
  readonly authorizations: ContractChain[] = [];
  readonly started: ChargingSessionInfo[] = [];
  readonly stopped: string[] = [];
  readonly lines: string[] = [];
  issuedEmaid = '';
  constructor(private readonly pki: BenchPki) {}

  async exchangeCertificate(req: CertificateExchangeRequest, _signal: AbortSignal): Promise<CertificateExchangeResult> {
    this.exchanges.push(req);
    if (this.exchangeMode === 'none') return { kind: 'none', reason: 'the CSMS did not answer (test)' };
    if (this.exchangeMode === 'failed-empty') return { kind: 'answer', status: 'Failed', exiResponse: '' };
    const s = cpsSigner(this.pki);
    const cps = { certificateChain: [s.cert.der, ...s.subCertificates.map((c) => c.der)], sign: (d: Uint8Array) => signP256Raw(s.key, d) };
    if (this.exchangeMode === 'wrong-key') {
      const parsed = parseCertificateInstallationReq(req.exiRequest);
      const b = issueContractCertificate(this.pki, { emaid: this.pki.emaid });
      const res = await buildCertificateInstallationRes({
        sessionId: parsed.sessionId,
        cps,
        contract: { certificateChain: b.chain.map((c) => c.der), privateKey: b.key.privateKey },
        recipientPublicKey: generateP256KeyPair().publicKey,
      });
      return { kind: 'answer', status: 'Accepted', exiResponse: res.exiBase64 };
    }
    const { response } = await answerGet15118EVCertificate(req.exiRequest, {
      cps,
      issueContract: () => {
        const b = issueContractCertificate(this.pki, { emaid: this.pki.emaid });
        this.issuedEmaid = b.emaid;
        return { certificateChain: b.chain.map((c) => c.der), privateKey: b.key.privateKey };
      },
    });
    let exi = response.exi;
    if (this.exchangeMode === 'session-id') {
      const m = decodeV2GMessage(exi);
      const id = Uint8Array.from(m.Header.SessionID);
      id[0] = id[0]! ^ 0xff;
      exi = encodeV2GMessage({ ...m, Header: { ...m.Header, SessionID: id } });
    }
    return { kind: 'answer', status: 'Accepted', exiResponse: Buffer.from(exi).toString('base64') };
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

  seccCertificateChain(): Buffer[] | undefined {
    return undefined;
  }

  log(line: string): void {
    this.lines.push(line);
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
