// A charger's serial console (the SECC board's debug UART) simulated on the device end of a pty:
// a small shell that echoes what it is typed, answers a few commands, prints a prompt without a
// line end (`secc> `) and prints unsolicited firmware log lines with CRLF endings, as such consoles
// do. When a log line comes while the prompt is showing, the prompt's line is ended first so the log
// line starts a line of its own. Output the bench does not read is dropped beyond 64 KiB (a UART
// does not wait for its listener). `startConsole` is the virtual rig's console: the charger writes
// its log with `writeLine`; its `status` command prints what the `status` option returns (the virtual
// rig: the charger's state).
//
//   const con = await startConsole({ status: () => charger.statusLines() });  // the bench's SeccConsole driver opens con.path
//   con.writeLine('[  12.345] ocpp: BootNotification Accepted');
//   await con.stop();
import { SerialPort } from 'serialport';
import { ptyPair, type PtyPair } from './pty.ts';
import { settleWithin } from './settle.ts';

/** Bytes waiting for the bench beyond which console output is dropped. */
const MAX_BACKLOG_BYTES = 64 * 1024;

export class SerialConsole {
  private port: SerialPort | undefined;
  private buf = '';
  private lastWasCr = false;
  private promptShowing = false;
  echo = true;
  prompt = 'secc> ';
  /** command lines typed by the bench, while `keepLog` */
  readonly received: string[] = [];
  keepLog = true;
  /** fixed answers per command (lines), or a function computing them when the command comes */
  readonly answers = new Map<string, string[] | (() => string[])>([
    ['status', ['cp: B2', 'slac: UNMATCHED']],
    ['version', ['fw 4.2.1 (build 77)']],
  ]);
  /** bytes dropped because nobody read the console */
  droppedBytes = 0;
  linesWritten = 0;
  commands = 0;

  constructor(
    private readonly path: string,
    private readonly baudRate = 115200,
  ) {}

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('error', () => {});
    port.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
    this.port = port;
  }

  /** Closes the pty end; settles within 1 s. */
  async stop(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) await settleWithin(new Promise<void>((r) => p.close(() => r())), 1000);
  }

  /** Raw bytes to the console (no line end added). */
  write(data: string | Buffer): void {
    const p = this.port;
    if (!p?.isOpen) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (p.writableLength + bytes.length > MAX_BACKLOG_BYTES) {
      this.droppedBytes += bytes.length;
      return;
    }
    this.promptShowing = false;
    p.write(bytes);
  }

  /** An unsolicited log line (CRLF added; embedded line breaks make several lines). */
  log(line: string): void {
    const lines = line.split(/\r\n|\r|\n/);
    const text = lines.map((l) => `${l}\r\n`).join('');
    this.linesWritten += lines.length;
    this.write(this.promptShowing ? `\r\n${text}` : text);
  }

  private showPrompt(): void {
    this.write(this.prompt);
    this.promptShowing = this.prompt !== '' && !this.prompt.endsWith('\n');
  }

  private onData(text: string): void {
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        if (ch === '\n' && this.buf === '' && this.lastWasCr) {
          this.lastWasCr = false;
          continue; // the LF of a CRLF
        }
        this.lastWasCr = ch === '\r';
        const cmd = this.buf.trim();
        this.buf = '';
        this.command(cmd);
      } else {
        this.lastWasCr = false;
        if (this.buf.length < 1024) this.buf += ch; // a real shell's line buffer is bounded
      }
    }
  }

  private command(cmd: string): void {
    if (this.keepLog) this.received.push(cmd);
    if (this.echo) this.write(`${cmd}\r\n`);
    if (cmd !== '') this.commands += 1;
    const answer = this.answers.get(cmd);
    if (answer) {
      try {
        for (const l of typeof answer === 'function' ? answer() : answer) this.log(l);
      } catch (e) {
        this.log(`error: ${(e as Error).message}`);
      }
    } else if (cmd !== '') this.log(`unknown command: ${cmd}`);
    this.showPrompt();
  }
}

export interface ConsoleOptions {
  /** lines `status` prints (the virtual rig: the charger's state); default: firmware and uptime */
  status?: () => string[];
}

export interface RunningConsole {
  /** the pty the bench's SeccConsole driver opens */
  path: string;
  /** a firmware log line, sent with CRLF like a real UART console */
  writeLine(line: string): void;
  readonly console: SerialConsole;
  stop(): Promise<void>;
  snapshot(): Record<string, unknown>;
}

/** The UART's baud rate (a pty ignores it; rigs/virtual.yaml's SerialPort resource says the same). */
const BAUD = 115200;
const VERSION = 'pnc-bench virtual charger fw 1.0.0 (build 1)';

export async function startConsole(o: ConsoleOptions = {}): Promise<RunningConsole> {
  const startedAt = Date.now();
  const uptime = (): string => `uptime: ${Math.floor((Date.now() - startedAt) / 1000)} s`;
  const pty: PtyPair = await ptyPair();
  const con = new SerialConsole(pty.b, BAUD);
  con.keepLog = false;
  con.answers.clear();
  con.answers.set('help', ['commands:', '  help     this list', '  version  firmware version', '  status   charger state']);
  con.answers.set('version', [VERSION]);
  con.answers.set('status', () => (o.status ? o.status() : [`fw: ${VERSION}`, uptime()]));
  try {
    await con.start();
  } catch (e) {
    await pty.close();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    path: pty.a,
    writeLine: (line) => con.log(line),
    console: con,
    stop: () =>
      (stopped ??= (async () => {
        await con.stop();
        await pty.close();
      })()),
    snapshot: () => ({ path: pty.a, baud: BAUD, linesWritten: con.linesWritten, commands: con.commands, droppedBytes: con.droppedBytes }),
  };
}
