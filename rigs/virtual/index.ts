// The virtual rig's simulator module (`simulator.module` of rigs/virtual.yaml, see
// src/rig/simulator.ts): creates the bench PKI, starts every simulated device on loopback links and
// hands the rig file the ports and pty paths as HIL_VIRTUAL_* values. The devices couple only
// through physics.ts; the bench reaches each one only through its link (README.md in this folder).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { generatePki, pemToDer, privateKeyPem, writePkiDir, type P256KeyPair } from '../../src/pki/index.ts';
import { defineSimulator, type RunningSimulator } from '../../src/rig/simulator.ts';
import { startBroker } from './broker.ts';
import { startCcu } from './ccu.ts';
import { checkValue, CONFIG_KEY_NAMES, isConfigKey } from './charger/config.ts';
import { VirtualCharger } from './charger/index.ts';
import { FAULT_NAMES, type FaultName } from './charger/faults.ts';
import { startConsole } from './console.ts';
import { VirtualEv } from './ev/index.ts';
import { startMeter } from './meter.ts';
import { PowerBus } from './physics.ts';
import { settleWithin } from './settle.ts';

const HOST = '127.0.0.1';

/** JSON-safe state for the record. */
type JsonObject = ReturnType<RunningSimulator['snapshot']>;

export const VirtualRigOptions = z
  .object({
    faults: z
      .array(z.enum(FAULT_NAMES as unknown as [FaultName, ...FaultName[]]))
      .default([])
      .describe('Named misbehaviours of the simulated charger (rigs/virtual/README.md, "Fault injections")'),
    pkiSeed: z.string().min(1).default('pnc-bench-virtual').describe('Seed of the bench PKI the CSMS, charger and EV share'),
    chargePointId: z
      .string()
      .regex(/^[\x21-\x7e]{1,48}$/, 'must be 1..48 printable characters')
      .refine((s) => !s.includes('/'), 'must not contain "/" (it is the last segment of the CSMS URL)')
      .default('VIRTUAL-CP1')
      .describe('OCPP charge point id of the simulated charger'),
    password: z.string().min(1).optional().describe('Basic-auth AuthorizationKey of the charger (security profile 1); none by default'),
    chargerConfig: z
      .record(z.string(), z.string())
      .superRefine((cfg, ctx) => {
        // the charger's own rules (ConfigStore), so `rig check` reports what the start would refuse
        for (const [key, value] of Object.entries(cfg)) {
          const why = isConfigKey(key) ? checkValue(key, value) : `unknown configuration key; known keys: ${CONFIG_KEY_NAMES.join(', ')}`;
          if (why) ctx.addIssue({ code: 'custom', path: [key], message: why });
        }
      })
      .default({})
      .describe('Factory values of the charger\'s configuration keys (README table)'),
    renewalCheckDelayMs: z.number().int().nonnegative().default(1_000).describe('Delay after BootNotification Accepted before the SECC leaf renewal check (A03)'),
    ev: z
      .object({
        targetVoltageV: z.number().positive().default(400).describe('EV target voltage in CurrentDemandReq'),
        maxCurrentA: z.number().positive().default(100).describe('EV target current in CurrentDemandReq'),
        capacityWh: z.number().positive().default(60_000).describe('battery capacity'),
        socPercent: z.number().min(0).max(100).default(40).describe('state of charge at start'),
      })
      .strict()
      .prefault({})
      .describe('The simulated EV'),
    socketcandIface: z.string().min(1).default('vcan0').describe('CAN interface name the socketcand server offers'),
  })
  .strict();
export type VirtualRigOptions = z.output<typeof VirtualRigOptions>;

/** The kernel's ephemeral port range (where port-0 binds of every process land). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && (lo as number) > 0 && (hi as number) >= (lo as number)) return [lo as number, hi as number];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

/** Whether `port` can be bound on loopback right now (bound and released at once). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback TCP port for the CSMS, which the bench's CSMS driver binds later (the charger must know
 * the URL first, so the port cannot stay held). To keep other processes from taking it in between,
 * it is picked at random in 20000 … (start of the kernel's ephemeral range − 1) — ports no port-0 bind
 * of any process is given — and checked free; only when that band is too small does it fall back to a
 * random free port in the band 20000–60000 outside the ephemeral range, then to a port-0 port. The
 * residual risk (rigs/virtual/README.md): another process binding that very port explicitly in the
 * window between this check and the CSMS driver's bind.
 */
async function csmsPortCandidate(): Promise<number> {
  const [ephLo, ephHi] = ephemeralRange();
  const bands: [number, number][] = [
    [20_000, Math.min(60_000, ephLo - 1)],
    [Math.max(20_000, ephHi + 1), 60_000],
  ].filter(([lo, hi]) => (hi as number) - (lo as number) >= 1_000) as [number, number][];
  for (const [lo, hi] of bands) {
    for (let i = 0; i < 20; i++) {
      const port = lo + Math.floor(Math.random() * (hi - lo + 1));
      if (await canBind(port)) return port;
    }
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export default defineSimulator({
  name: 'virtual',
  description: 'virtual charger (OCPP 1.6J + PnC, SECC), CCU on CAN, Modbus meter, EV emulator over MQTT',
  options: VirtualRigOptions,
  provides: {
    HIL_VIRTUAL_CSMS_PORT: 'port',
    HIL_VIRTUAL_PKI_DIR: 'path',
    HIL_VIRTUAL_CONSOLE_PTY: 'path',
    HIL_VIRTUAL_CCU_PTY: 'path',
    HIL_VIRTUAL_CCU_SOCKETCAND_PORT: 'port',
    HIL_VIRTUAL_METER_PORT: 'port',
    HIL_VIRTUAL_METER_PTY: 'path',
    HIL_VIRTUAL_MQTT_URL: 'url',
  },
  async start({ options: o, signal, log }): Promise<RunningSimulator> {
    const stops: { name: string; stop: () => Promise<void> }[] = [];
    const stopAll = async (deadlineMs: number): Promise<void> => {
      // one deadline for all: each stop races the time left, so the whole settles within deadlineMs
      const endAt = performance.now() + deadlineMs;
      // last started first: the charger and EV go before the links they use
      const list = stops.reverse().splice(0);
      for (const s of list) {
        const leftMs = endAt - performance.now();
        const stopping = s.stop().catch((e: unknown) => log('warn', `${s.name}: stop failed: ${e instanceof Error ? e.message : String(e)}`));
        if (leftMs <= 0) log('warn', `${s.name}: stop started after the ${deadlineMs} ms deadline, not awaited`); // out of time: start the rest without waiting
        else if ((await settleWithin(stopping, leftMs)) === 'timeout') log('warn', `${s.name}: stop did not settle within the time left of the ${deadlineMs} ms deadline`);
      }
    };
    // each device started is added to `stops`; start-up ends there at once when the run gives up
    // (timeouts.openMs, SIGINT): the catch below stops what started, that device included
    const add = (name: string, stop: () => Promise<void>): void => {
      stops.push({ name, stop });
      signal.throwIfAborted();
    };
    try {
      signal.throwIfAborted(); // given up before the start: not even the PKI is made
      const pkiDir = mkdtempSync(path.join(os.tmpdir(), 'pnc-bench-virtual-pki-'));
      add('pki', async () => rmSync(pkiDir, { recursive: true, force: true }));
      // an OCSP URL in every CA and contract certificate: the charger builds OCSP request data from it (the mock CSMS answers OCSP in-process)
      const pki = generatePki({ seed: o.pkiSeed, ocspUrl: 'http://127.0.0.1/ocsp' });
      writePkiDir(pki, pkiDir, { force: true });
      log('info', `bench PKI (seed ${o.pkiSeed}) in ${pkiDir}`);

      const bus = new PowerBus();
      const broker = await startBroker({ host: HOST, port: 0 });
      add('mqtt broker', () => broker.stop());
      const ccu = await startCcu({ bus, slcan: true, socketcand: { host: HOST, port: 0, iface: o.socketcandIface }, log: (l) => log('debug', `ccu: ${l}`) });
      add('ccu', () => ccu.stop());
      const meter = await startMeter({ bus, tcp: { host: HOST, port: 0 }, rtu: true, map: 'SDM630' });
      add('meter', () => meter.stop());
      let chargerForStatus: VirtualCharger | undefined; // made after the console, which it logs to
      const console = await startConsole({ status: () => chargerForStatus?.statusLines() ?? ['charger: starting'] });
      add('console', () => console.stop());

      const csmsPort = await csmsPortCandidate();
      const der = (c: { der: Uint8Array }) => Buffer.from(c.der);
      const charger = new VirtualCharger({
        csmsUrl: `ws://${HOST}:${csmsPort}`,
        chargePointId: o.chargePointId,
        ...(o.password ? { password: o.password } : {}),
        faults: o.faults,
        config: o.chargerConfig,
        trust: { v2gRootsDer: [der(pki.cert('v2g-root'))], moRootsDer: [der(pki.cert('mo-root'))] },
        seccLeaf: { chainDer: pki.chain('secc-leaf').map(der), privateKeyPkcs8Der: Buffer.from(pemToDer(privateKeyPem(pki.get('secc-leaf').key), 'PRIVATE KEY', 'secc-leaf key')) },
        bus,
        consoleLog: (line) => console.writeLine(line),
        secc: { host: HOST, port: 0 },
        renewalCheckDelayMs: o.renewalCheckDelayMs,
        reconnect: { minMs: 100, maxMs: 500 },
      });
      chargerForStatus = charger;
      await charger.start();
      add('charger', () => charger.stop(2_000));

      const oemKey = pki.get('oem-prov').key as P256KeyPair;
      const ev = new VirtualEv({
        mqttUrl: broker.url,
        secc: () => ({ host: HOST, port: charger.seccPort }),
        pki: { oemProvisioning: { chainDer: pki.chain('oem-prov').map(der), privateKey: oemKey.privateKey }, v2gRootsDer: [der(pki.cert('v2g-root'))] },
        bus,
        battery: { capacityWh: o.ev.capacityWh, socPercent: o.ev.socPercent, targetVoltageV: o.ev.targetVoltageV, maxCurrentA: o.ev.maxCurrentA },
        log: (l) => log('debug', `ev: ${l}`),
      });
      await ev.start();
      add('ev', () => ev.stop());

      const env: Record<string, string> = {
        HIL_VIRTUAL_CSMS_PORT: String(csmsPort),
        HIL_VIRTUAL_PKI_DIR: pkiDir,
        HIL_VIRTUAL_CONSOLE_PTY: console.path,
        HIL_VIRTUAL_CCU_PTY: ccu.slcanPath ?? '',
        HIL_VIRTUAL_CCU_SOCKETCAND_PORT: String(ccu.socketcandPort ?? ''),
        HIL_VIRTUAL_METER_PORT: String(meter.tcpPort ?? ''),
        HIL_VIRTUAL_METER_PTY: meter.rtuPath ?? '',
        HIL_VIRTUAL_MQTT_URL: broker.url,
      };
      log('info', `up: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      return {
        env,
        stop: stopAll,
        snapshot: (): JsonObject => ({
          faults: o.faults,
          power: { ...bus.sample() },
          charger: charger.snapshot() as JsonObject,
          ev: ev.snapshot() as JsonObject,
          ccu: ccu.snapshot() as JsonObject,
          meter: meter.snapshot() as JsonObject,
        }),
      };
    } catch (e) {
      await stopAll(2_000);
      throw e;
    }
  },
});
