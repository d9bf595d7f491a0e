// The virtual rig's MQTT broker: the in-process `aedes` broker on a TCP port, which the EV
// emulator and the bench's EverestCarSim driver both connect to (the role a lab's mosquitto plays
// on a physical rig). It can be stopped and restarted on the same port (the broker going away) to
// test reconnects; stop() cuts every connection and settles within 2 s even if a client hangs.
//
//   const broker = await startBroker({ host: '127.0.0.1', port: 0 });   // broker.url = mqtt://127.0.0.1:<port>
//   await broker.stop();
import net from 'node:net';
import { Aedes } from 'aedes';
import { settleWithin } from './settle.ts';

export class AedesBroker {
  private broker: Aedes | undefined;
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(readonly host = '127.0.0.1') {}

  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `mqtt://${h}:${this.port}`;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Listens on `port` (0 = ephemeral; default: the port of the previous start). */
  async start(port = this.port): Promise<void> {
    const broker = await Aedes.createBroker();
    const server = net.createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {});
      broker.handle(sock);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.host, () => resolve());
      });
    } catch (e) {
      await new Promise<void>((r) => broker.close(() => r()));
      throw e;
    }
    this.broker = broker;
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** The broker goes away: every connection is cut and the port closes; settles within 2 s. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    await settleWithin(
      Promise.all([server ? new Promise<void>((r) => server.close(() => r())) : undefined, broker ? new Promise<void>((r) => broker.close(() => r())) : undefined]),
      1500,
    );
  }
}

export interface RunningBroker {
  /** mqtt://host:port */
  url: string;
  port: number;
  stop(): Promise<void>;
  snapshot(): Record<string, unknown>;
}

export async function startBroker(o: { host: string; port: number }): Promise<RunningBroker> {
  const b = new AedesBroker(o.host);
  await b.start(o.port);
  let stopped: Promise<void> | undefined;
  return {
    url: b.url,
    port: b.port,
    stop: () => (stopped ??= b.stop()),
    snapshot: () => ({ url: b.url, connections: b.connections }),
  };
}
