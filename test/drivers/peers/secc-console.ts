// Test peer: an SECC board's serial console on the device end of a pty — a shell that echoes what
// it is sent, answers a few commands, prints a prompt without a line end, and can print
// unsolicited log lines (SLAC, ISO 15118 messages) with CRLF endings and ANSI colours, as such
// consoles do.
import { SerialPort } from 'serialport';

export class SeccConsolePeer {
  private port: SerialPort | undefined;
  private buf = '';
  echo = true;
  prompt = 'secc> ';
  readonly received: string[] = [];
  readonly answers = new Map<string, string[]>([
    ['status', ['cp: B2', 'slac: UNMATCHED']],
    ['version', ['fw 4.2.1 (build 77)']],
  ]);

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('error', () => {});
    port.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
    this.port = port;
  }

  async stop(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
  }

  /** Raw bytes to the console (no line end added). */
  write(data: string | Buffer): void {
    this.port?.write(data);
  }

  /** An unsolicited log line. */
  log(line: string): void {
    this.write(`${line}\r\n`);
  }

  private onData(text: string): void {
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        if (ch === '\n' && this.buf === '' && this.received.length && this.lastWasCr) continue;
        this.lastWasCr = ch === '\r';
        const cmd = this.buf;
        this.buf = '';
        this.received.push(cmd);
        if (this.echo) this.write(`${cmd}\r\n`);
        for (const l of this.answers.get(cmd) ?? (cmd ? [`unknown command: ${cmd}`] : [])) this.log(l);
        this.write(this.prompt);
      } else {
        this.lastWasCr = false;
        this.buf += ch;
      }
    }
  }
  private lastWasCr = false;
}
