// The virtual rig's CCU: one simulated CAN bus with an InfyPower power module on it, coupled to
// the PowerBus, reachable by the bench like a physical CAN bus — through a simulated slcan USB
// adapter on a socat pty and through a simulated socketcand daemon on TCP, both on the same bus (a
// frame sent through one is seen through the other). The bench's CcuCan driver polls Read V/I and
// status (the replies carry what the EV draws, so a candump of the bus shows it) and its Set V/I
// and On/Off commands switch the PowerBus module. InfyPower V1.13 has no periodic status
// broadcasts; the module only answers polls (see infy-module.ts).
//
//   const ccu = await startCcu({ bus, slcan: true, socketcand: { host: '127.0.0.1', port: 0, iface: 'can0' } });
//   ccu.slcanPath; ccu.socketcandPort; ccu.snapshot();  await ccu.stop();
import { VirtualBus } from './can-bus.ts';
import { InfyModule } from './infy-module.ts';
import type { PowerBus } from './physics.ts';
import { ptyPair, type PtyPair } from './pty.ts';
import { SlcanAdapter } from './slcan-adapter.ts';
import { SocketcandServer } from './socketcand-server.ts';

export interface CcuOptions {
  bus: PowerBus;
  /** the module's address on the bus (the CcuCan driver's `infypower.moduleAddress`), default 0 */
  moduleAddress?: number;
  /** a simulated slcan USB-CAN adapter on a socat pty (the bench opens `slcanPath`) */
  slcan?: boolean;
  /** a simulated socketcand daemon; `port` 0 = ephemeral; `iface` is the bus name clients open */
  socketcand?: { host: string; port: number; iface: string };
  /** the module's watchdog (output off without frames from a controller), default 10 000 ms */
  watchdogMs?: number;
  /** one line per command that changed the module's output */
  log?: (line: string) => void;
}

export interface RunningCcu {
  /** the pty the bench's slcan transport opens */
  slcanPath?: string;
  /** the TCP port of the socketcand daemon */
  socketcandPort?: number;
  /** the simulated CAN bus, the module and the adapters (for tests and fault injection) */
  readonly can: VirtualBus;
  readonly module: InfyModule;
  stop(): Promise<void>;
  snapshot(): Record<string, unknown>;
}

export async function startCcu(o: CcuOptions): Promise<RunningCcu> {
  if (!o.slcan && !o.socketcand) throw new Error('startCcu: give slcan: true and/or socketcand: { host, port, iface }, otherwise the bench cannot reach the CAN bus');
  if (o.socketcand && !/^[A-Za-z0-9_.-]{1,15}$/.test(o.socketcand.iface)) throw new Error(`startCcu: socketcand.iface must be an interface name like can0 (1–15 of A-Z a-z 0-9 _ . -), got "${o.socketcand.iface}"`);
  const can = new VirtualBus();
  can.keepLog = false;
  const module = new InfyModule(can, o.moduleAddress ?? 0, o.watchdogMs ?? 10_000, { power: o.bus, ...(o.log ? { log: o.log } : {}) });
  let pty: PtyPair | undefined;
  let adapter: SlcanAdapter | undefined;
  let server: SocketcandServer | undefined;

  const stop = async (): Promise<void> => {
    module.stop();
    await Promise.all([adapter?.stop(), server?.stop()]);
    await pty?.close();
  };

  try {
    if (o.slcan) {
      pty = await ptyPair();
      adapter = new SlcanAdapter(pty.b, can);
      adapter.keepLog = false;
      await adapter.start();
    }
    if (o.socketcand) {
      server = new SocketcandServer(can, o.socketcand.iface, o.socketcand.host);
      server.keepLog = false;
      await server.start(o.socketcand.port);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    ...(pty ? { slcanPath: pty.a } : {}),
    ...(server ? { socketcandPort: server.port } : {}),
    can,
    module,
    stop: () => (stopped ??= stop()),
    snapshot: () => {
      const out = module.output();
      return {
        moduleAddress: module.address,
        on: module.on,
        setVoltageV: module.setMv / 1000,
        setCurrentA: module.setMa / 1000,
        voltageV: out.voltageV,
        currentA: out.currentA,
        framesOnBus: can.frames,
        ...(adapter && pty ? { slcan: { path: pty.a, open: adapter.open, bitrate: adapter.bitrate ?? null, framesFromHost: adapter.framesFromHost, framesToHost: adapter.framesToHost } } : {}),
        ...(server ? { socketcand: { host: server.host, port: server.port, iface: server.busName, connections: server.connections, framesFromClients: server.framesFromClients, framesToClients: server.framesToClients } } : {}),
      };
    },
  };
}
