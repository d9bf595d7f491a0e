// Test helpers for the simulated charger's OCPP controller (rigs/virtual/charger): a real MockCsms
// (src/csms) as the independent peer on 127.0.0.1:0, the controller connected to it over a real
// WebSocket, its console lines collected, and a fake SECC side that calls the SeccBackend methods
// directly (the tests do not depend on secc.ts). Everything opened is closed by `cleanup()`.
//
//   const h = await startRig({ config: { CertSigningWaitMinimum: '1' } });
//   await h.booted();                               // BootNotification answered Accepted
//   await h.cp.expectCall('DataTransfer.SignCertificate', { timeoutMs: 5_000, signal: sig() });
import { MockCsms, type ChargePoint, type MockCsmsOptions } from '../../src/csms/index.ts';
import { ecdsaSignP256, encodeV2GMessage, signV2GMessage, type V2GMessage } from '../../src/exi/index.ts';
import { issueContractCertificate, pemToDer, privateKeyPem, type BenchPki, type ContractBundle, type P256KeyPair } from '../../src/pki/index.ts';
import { PowerBus } from '../../rigs/virtual/physics.ts';
import { CertificateStores } from '../../rigs/virtual/charger/certstore.ts';
import { ChargePointController } from '../../rigs/virtual/charger/chargepoint.ts';
import { ConfigStore } from '../../rigs/virtual/charger/config.ts';
import type { FaultName } from '../../rigs/virtual/charger/faults.ts';
import { ConsoleLog } from '../../rigs/virtual/charger/log.ts';

export const CP_ID = 'VIRTUAL-CP1';
export const sig = (ms = 15_000): AbortSignal => AbortSignal.timeout(ms);
export const der = (c: { der: Uint8Array }): Buffer => Buffer.from(c.der);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const opened: { close(): Promise<unknown> }[] = [];

export async function cleanup(): Promise<void> {
  const list = opened.splice(0).reverse();
  for (const o of list) await o.close();
}

export interface RigOptions {
  faults?: FaultName[];
  config?: Record<string, string>;
  csms?: MockCsmsOptions;
  /** factory SECC certificate (default: the PKI's secc-leaf chain); null = none */
  seccLeaf?: { chainDer: Buffer[]; privateKeyPkcs8Der: Buffer } | null;
  trust?: { v2gRootsDer: Buffer[]; moRootsDer: Buffer[] };
  password?: string;
  renewalCheckDelayMs?: number;
  callTimeoutMs?: number;
  /** rated limits of the simulated power module (default PowerBus defaults) */
  bus?: { ratedMaxVoltageV?: number; ratedMaxCurrentA?: number };
}

export interface Rig {
  csms: MockCsms;
  cp: ChargePoint;
  charger: ChargePointController;
  bus: PowerBus;
  lines: string[];
  /** resolves with the first console line matching `re` (already printed or to come) */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  /** count of console lines matching `re` */
  count(re: RegExp): number;
  booted(timeoutMs?: number): Promise<void>;
}

/** SECC credentials as the charger takes them: the bench PKI's secc-leaf, or `from` (e.g. a negativeMaterial SECC chain and its key). */
export function factorySecc(pki: BenchPki, from: { chain: readonly { der: Uint8Array }[]; key: P256KeyPair } = { chain: pki.chain('secc-leaf'), key: pki.get('secc-leaf').key as P256KeyPair }): { chainDer: Buffer[]; privateKeyPkcs8Der: Buffer } {
  return { chainDer: from.chain.map(der), privateKeyPkcs8Der: Buffer.from(pemToDer(privateKeyPem(from.key), 'PRIVATE KEY', 'key')) };
}

/** The charger's installed SECC chain (leaf first, DER), undefined when it has none. */
export function seccChainDer(charger: ChargePointController): Buffer[] | undefined {
  return charger.certs.secc?.chain.map(der);
}

export async function startRig(pki: BenchPki, o: RigOptions = {}): Promise<Rig> {
  const csms = new MockCsms({ host: '127.0.0.1', port: 0, pki, pingIntervalMs: 0, callTimeoutMs: 10_000, ...o.csms });
  await csms.listen();
  opened.push({ close: () => csms.close(1_000) });
  const cp = csms.chargePoint(CP_ID);
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const log = new ConsoleLog((l) => {
    lines.push(l);
    if (process.env.CHARGER_LOG) console.log(l);
    for (const w of waiters.slice()) {
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  const bus = new PowerBus(o.bus ?? {});
  const charger = new ChargePointController({
    csmsUrl: csms.url,
    chargePointId: CP_ID,
    ...(o.password !== undefined ? { password: o.password } : {}),
    faults: new Set(o.faults),
    config: new ConfigStore(o.config ?? {}),
    certs: new CertificateStores(o.trust ?? { v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [der(pki.cert('mo-root'))] }, o.seccLeaf === null ? undefined : (o.seccLeaf ?? factorySecc(pki))),
    bus,
    log,
    reconnect: { minMs: 50, maxMs: 300 },
    renewalCheckDelayMs: o.renewalCheckDelayMs ?? 3_600_000,
    callTimeoutMs: o.callTimeoutMs ?? 5_000,
  });
  charger.start();
  opened.push({ close: () => charger.stop() });
  const line = (re: RegExp, timeoutMs = 10_000): Promise<string> => {
    const found = lines.find((l) => re.test(l));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (l: string) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no console line matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  return {
    csms,
    cp,
    charger,
    bus,
    lines,
    line,
    count: (re) => lines.filter((l) => re.test(l)).length,
    booted: async (timeoutMs = 10_000) => {
      await line(/ocpp: BootNotification Accepted/, timeoutMs);
    },
  };
}

/** Power flowing on the bus as if the SECC and CCU did it: `powerW` at 400 V. */
export function flow(bus: PowerBus, powerW: number): void {
  bus.setModule({ on: true, setVoltageV: 400, setCurrentA: 0 });
  bus.setEvDemand({ voltageV: 400, currentA: powerW / 400 });
  bus.setContactors(true);
}

/** Waits until `cond()` is true (polling). */
export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function contractChain(b: ContractBundle): { emaid: string; certificatesDer: Buffer[] } {
  return { emaid: b.emaid, certificatesDer: b.chain.map(der) };
}

/** The EV's signed CertificateInstallationReq (OEM provisioning certificate of the bench PKI), base64 EXI. */
export async function evInstallRequest(pki: BenchPki, sessionId: Uint8Array): Promise<string> {
  const oem = pki.get('oem-prov');
  const req: V2GMessage = {
    Header: { SessionID: sessionId },
    Body: { CertificateInstallationReq: { Id: 'ID1', OEMProvisioningCert: oem.cert.der, ListOfRootCertificateIDs: { RootCertificateID: [{ X509IssuerName: 'CN=V2GRootCA', X509SerialNumber: 1n }] } } },
  };
  const signed = await signV2GMessage(req, ['ID1'], (d) => ecdsaSignP256((oem.key as P256KeyPair).privateKey, d));
  return Buffer.from(encodeV2GMessage(signed)).toString('base64');
}

export { issueContractCertificate };
