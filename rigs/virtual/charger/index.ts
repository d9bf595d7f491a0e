// The simulated charger (the virtual rig's DUT): its SECC (ISO 15118-2 over V2GTP/TCP towards the EV,
// secc.ts) and its charge-point controller (OCPP 1.6J + PnC towards the bench's CSMS,
// chargepoint.ts), joined by the SeccBackend seam, sharing the rig's PowerBus. The rig's simulator
// module (rigs/virtual/index.ts) builds one from the rig options; behaviour contract in
// rigs/virtual/README.md.
//
//   const charger = new VirtualCharger({ csmsUrl: 'ws://127.0.0.1:8180', chargePointId: 'VIRTUAL-CP1', faults: [],
//     trust: { v2gRootsDer, moRootsDer }, seccLeaf, bus, consoleLog: (l) => console.log(l), secc: { host: '127.0.0.1', port: 0 } });
//   await charger.start();          // SECC listening (charger.seccPort); connecting to the CSMS in the background
//   charger.snapshot();             // connection, boot, transaction, config, certificates, queue
//   await charger.stop(2_000);
import type { PowerBus } from '../physics.ts';
import { settleWithin } from '../settle.ts';
import { CertificateStores } from './certstore.ts';
import { ChargePointController } from './chargepoint.ts';
import { ConfigStore } from './config.ts';
import type { FaultName } from './faults.ts';
import { ConsoleLog } from './log.ts';
import { SeccServer } from './secc.ts';

export { FAULT_NAMES, type FaultName } from './faults.ts';
export { CONFIG_KEYS, CONFIG_KEY_NAMES, type ConfigKey } from './config.ts';

export interface VirtualChargerOptions {
  /** ws://127.0.0.1:<port> — the charger connects to `${csmsUrl}/${chargePointId}` */
  csmsUrl: string;
  /** e.g. VIRTUAL-CP1 (1..48 printable characters without "/", as the rig schema checks) */
  chargePointId: string;
  /** Basic auth (security profile 1), non-empty */
  password?: string;
  /** (the rig file's names are checked by its schema, VirtualRigOptions) */
  faults: readonly FaultName[];
  /** factory overrides of config key defaults (validated) */
  config?: Record<string, string>;
  /** factory-installed roots */
  trust: { v2gRootsDer: Buffer[]; moRootsDer: Buffer[] };
  /** factory SECC certificate (leaf first, sub-CAs after), optional */
  seccLeaf?: { chainDer: Buffer[]; privateKeyPkcs8Der: Buffer };
  bus: PowerBus;
  consoleLog: (line: string) => void;
  /** SECC V2GTP listen address (port 0 = ephemeral) */
  secc: { host: string; port: number };
  /** ms ≥ 0 */
  renewalCheckDelayMs?: number;
  /** 0 < minMs ≤ maxMs (checked by the OCPP client) */
  reconnect?: { minMs: number; maxMs: number };
}

export class VirtualChargerOptionError extends Error {
  override readonly name = 'VirtualChargerOptionError';
}

function check(cond: boolean, field: string, message: string): void {
  if (!cond) throw new VirtualChargerOptionError(`virtual charger: ${field}: ${message}`);
}

export class VirtualCharger {
  private readonly controller: ChargePointController;
  private readonly seccServer: SeccServer;
  private readonly o: VirtualChargerOptions;
  private port = 0;
  private started = false;

  constructor(o: VirtualChargerOptions) {
    // one check per option: what the rig file sets is checked by its schema (rigs/virtual/index.ts), the
    // config keys by ConfigStore, the certificates by CertificateStores, reconnect by the OCPP client
    check(typeof o.csmsUrl === 'string' && /^wss?:\/\/[^/]+/.test(o.csmsUrl), 'csmsUrl', `${JSON.stringify(o.csmsUrl)} is not a ws:// or wss:// URL`);
    check(typeof o.consoleLog === 'function', 'consoleLog', 'must be a function');
    check(typeof o.secc?.host === 'string' && Number.isInteger(o.secc.port) && o.secc.port >= 0 && o.secc.port <= 65_535, 'secc', 'needs host and port (0..65535)');
    this.o = o;
    const faults = new Set(o.faults);
    const config = new ConfigStore(o.config ?? {}, 'virtual charger: config');
    config.setInternal('SecurityProfile', o.password !== undefined ? '1' : '0');
    const certs = new CertificateStores(o.trust, o.seccLeaf);
    const log = new ConsoleLog(o.consoleLog);
    this.controller = new ChargePointController({
      csmsUrl: o.csmsUrl,
      chargePointId: o.chargePointId,
      ...(o.password !== undefined ? { password: o.password } : {}),
      faults,
      config,
      certs,
      bus: o.bus,
      log,
      ...(o.renewalCheckDelayMs !== undefined ? { renewalCheckDelayMs: o.renewalCheckDelayMs } : {}),
      ...(o.reconnect ? { reconnect: o.reconnect } : {}),
      requestSeccStop: () => this.seccServer.requestStop(),
    });
    this.seccServer = new SeccServer({
      host: o.secc.host,
      port: o.secc.port,
      backend: this.controller,
      bus: o.bus,
      log: (line) => log.line('secc', line.replace(/^secc:\s*/, '')),
    });
  }

  /** The SECC's bound V2GTP port (after start()). */
  get seccPort(): number {
    return this.port;
  }

  /** Starts the SECC and begins connecting to the CSMS (does not wait for the CSMS). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.port = await this.seccServer.start();
    this.controller.start();
  }

  /** Stops everything; settles within `deadlineMs` even if a link is wedged. */
  async stop(deadlineMs: number): Promise<void> {
    await settleWithin(Promise.allSettled([this.controller.stop(), this.seccServer.stop()]), deadlineMs);
  }

  snapshot(): Record<string, unknown> {
    return { ...this.controller.snapshot(), seccPort: this.port, secc: `${this.o.secc.host}:${this.port}` };
  }

  /** What the serial console's `status` command prints: connection, connector, transaction, queue. */
  statusLines(): string[] {
    return this.controller.statusLines();
  }
}
