// A socketcand daemon simulated on TCP, bridged to a VirtualBus. Written from the socketcand
// protocol (shared/reference/rig-protocols.md §3.2), never from the bench's driver: `< hi >` on
// connect, `< open bus >`, `< rawmode >`, `< frame id sec.usec data >` to the client,
// `< send id dlc bytes… >` from it, `< error … >` for anything it refuses. It can be stopped and
// restarted on the same port (the daemon going away) to test reconnects.
//
//   const server = new SocketcandServer(bus, 'can0');  const port = await server.start();   // port 0 = ephemeral
import net from 'node:net';
import type { BusFrame, BusNode, VirtualBus } from './can-bus.ts';
import { settleWithin } from './settle.ts';

class Client implements BusNode {
  raw = false;
  opened = false;
  private buf = '';
  constructor(
    readonly sock: net.Socket,
    private readonly server: SocketcandServer,
  ) {
    sock.setEncoding('latin1');
    sock.setNoDelay(true);
    sock.on('data', (t: string) => this.onText(t));
    sock.on('error', () => {});
    sock.write('< hi >');
  }

  private onText(t: string): void {
    this.buf += t;
    for (;;) {
      const a = this.buf.indexOf('<');
      const b = this.buf.indexOf('>', a);
      if (a < 0 || b < 0) break;
      const words = this.buf.slice(a + 1, b).trim().split(/\s+/);
      this.buf = this.buf.slice(b + 1);
      if (this.server.keepLog) this.server.commands.push(words.join(' '));
      this.handle(words);
    }
    // an element never closed by `>` must not grow the buffer forever
    if (this.buf.length > 4096) {
      this.buf = '';
      this.sock.write('< error element too long >');
    }
  }

  private handle(w: string[]): void {
    const s = this.sock;
    if (!this.opened) {
      if (w[0] === 'open' && w[1] === this.server.busName) {
        this.opened = true;
        return void s.write('< ok >');
      }
      return void s.write(w[0] === 'open' ? '< error could not open bus >' : '< error unknown command >');
    }
    if (w[0] === 'rawmode') {
      this.raw = true;
      return void s.write('< ok >');
    }
    if (w[0] === 'send') {
      const [, idText = '', dlcText = ''] = w;
      const dlc = Number(dlcText);
      const bytes = w.slice(3).map((h) => (/^[0-9A-Fa-f]{1,2}$/.test(h) ? parseInt(h, 16) : NaN));
      if (!/^[0-9A-Fa-f]{1,8}$/.test(idText) || !(dlc >= 0 && dlc <= 8) || bytes.length !== dlc || bytes.some((b) => !(b >= 0 && b <= 255))) {
        return void s.write('< error send >');
      }
      this.server.framesFromClients += 1;
      this.server.bus.transmit(this, { id: parseInt(idText, 16), ext: idText.length === 8, rtr: false, dlc, data: Buffer.from(bytes) });
      return;
    }
    s.write('< error unknown command >');
  }

  deliver(f: BusFrame): void {
    if (!this.raw || f.rtr) return;
    const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
    const now = Date.now();
    const time = `${Math.floor(now / 1000)}.${String((now % 1000) * 1000).padStart(6, '0')}`;
    this.server.framesToClients += 1;
    this.sock.write(`< frame ${id} ${time} ${f.data.toString('hex').toUpperCase()} >`);
  }
}

export class SocketcandServer {
  private server: net.Server | undefined;
  private clients = new Set<Client>();
  private detach = new Map<Client, () => void>();
  port = 0;
  /** Every element received from clients while `keepLog` is true. */
  readonly commands: string[] = [];
  keepLog = true;
  framesFromClients = 0;
  framesToClients = 0;

  constructor(
    readonly bus: VirtualBus,
    readonly busName = 'vcan0',
    readonly host = '127.0.0.1',
  ) {}

  get connections(): number {
    return this.clients.size;
  }

  async start(port = this.port): Promise<number> {
    const server = net.createServer((sock) => {
      const c = new Client(sock, this);
      this.clients.add(c);
      this.detach.set(c, this.bus.attach(c));
      sock.on('close', () => {
        this.clients.delete(c);
        this.detach.get(c)?.();
        this.detach.delete(c);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Drops every connection and stops listening (the daemon went away); settles within 1 s. */
  async stop(): Promise<void> {
    for (const c of this.clients) c.sock.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await settleWithin(new Promise<void>((r) => s.close(() => r())), 1000);
  }

  /** Sends raw text to every client (e.g. an `< error … >` element). */
  broadcast(text: string): void {
    for (const c of this.clients) c.sock.write(text);
  }
}
