// A Modbus slave serving a register image, over Modbus TCP (MBAP, on a TCP port) and Modbus RTU
// (CRC-16 frames on the device end of a pty). Written from the Modbus framing in
// shared/reference/rig-protocols.md §1.1, never from the bench's driver. It answers FC03 (holding)
// and FC04 (input) reads from the image — a fixed one, or one computed per request (`source`, so a
// meter shows live values) — with exception 02 for unmapped registers, 03 for a bad quantity and
// 01 for other function codes; RTU requests with a wrong CRC or for another unit get no answer,
// as on a real RS-485 line. Faults for robustness tests are queued per request: a corrupted CRC,
// no answer, an exception, a delay. Raw request and response frames are kept while `keepLog`.
//
//   const slave = new ModbusSlave(image, 1);  await slave.serveTcp(0);  await slave.serveRtu(pty.b);  …  await slave.stop();
import net from 'node:net';
import { SerialPort } from 'serialport';
import { settleWithin } from './settle.ts';

/** CRC-16/MODBUS: poly 0xA001 reflected, init 0xFFFF; sent low byte first. */
export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function withCrc(frame: Uint8Array): Buffer {
  const c = crc16(frame);
  return Buffer.concat([Buffer.from(frame), Buffer.from([c & 0xff, c >>> 8])]);
}

/** function code (3 holding, 4 input) → PDU address → 16-bit word */
export type RegisterImage = Map<number, Map<number, number>>;

export type Fault = 'corrupt-crc' | 'no-answer' | { exception: number } | { delayMs: number };

/** Silence after which a partial RTU frame is dropped (Modbus uses 3.5 character times; a pty has no timing, so be generous). */
const RTU_GAP_MS = 50;

/** Length of an RTU request frame from its first bytes, or undefined when more bytes are needed. */
function rtuRequestLength(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const fc = buf[1] as number;
  if (fc >= 1 && fc <= 6) return 8; // unit fc addr(2) qty|value(2) crc(2)
  if (fc === 15 || fc === 16) return buf.length < 7 ? undefined : 9 + (buf[6] as number);
  return buf.length; // unknown function: everything that arrived together is one frame
}

export class ModbusSlave {
  image: RegisterImage;
  /** when set, the image is computed per request from this (live values) */
  source: (() => RegisterImage) | undefined;
  unitId: number;
  readonly faults: Fault[] = [];
  /** raw request ADUs as received (RTU with CRC, TCP with MBAP), while `keepLog` */
  readonly requests: Buffer[] = [];
  readonly responses: Buffer[] = [];
  keepLog = true;
  /** requests answered since start */
  answered = 0;
  private tcp: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private rtu: SerialPort | undefined;
  private rtuBuf = Buffer.alloc(0);
  private rtuLastByteAt = 0;
  tcpPort = 0;

  constructor(image: RegisterImage | (() => RegisterImage), unitId = 1) {
    if (!Number.isInteger(unitId) || unitId < 1 || unitId > 247) throw new RangeError(`Modbus unit id must be an integer 1…247, got ${unitId}`);
    if (typeof image === 'function') {
      this.source = image;
      this.image = new Map();
    } else {
      this.image = image;
    }
    this.unitId = unitId;
  }

  get tcpConnections(): number {
    return this.sockets.size;
  }

  /** The response PDU to a request PDU (exception 02 for unmapped registers). */
  answer(pdu: Buffer): Buffer {
    const fc = pdu[0] as number;
    if (fc !== 3 && fc !== 4) return Buffer.from([fc | 0x80, 0x01]);
    if (pdu.length < 5) return Buffer.from([fc | 0x80, 0x03]);
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    if (qty < 1 || qty > 125) return Buffer.from([fc | 0x80, 0x03]);
    const regs = (this.source?.() ?? this.image).get(fc) ?? new Map<number, number>();
    const out = Buffer.alloc(2 + qty * 2);
    out[0] = fc;
    out[1] = qty * 2;
    for (let i = 0; i < qty; i++) {
      const w = regs.get(addr + i);
      if (w === undefined) return Buffer.from([fc | 0x80, 0x02]);
      out.writeUInt16BE(w, 2 + i * 2);
    }
    return out;
  }

  private log(list: Buffer[], b: Buffer): void {
    if (this.keepLog) list.push(Buffer.from(b));
  }

  private async respond(pdu: Buffer, send: (pdu: Buffer, corruptCrc: boolean) => void): Promise<void> {
    const fault = this.faults.shift();
    if (fault === 'no-answer') return;
    if (typeof fault === 'object' && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    const res = typeof fault === 'object' && 'exception' in fault ? Buffer.from([(pdu[0] as number) | 0x80, fault.exception]) : this.answer(pdu);
    this.answered += 1;
    send(res, fault === 'corrupt-crc');
  }

  /** Listens for Modbus TCP on `host:port` (port 0 = ephemeral); returns the port. */
  async serveTcp(port = 0, host = '127.0.0.1'): Promise<number> {
    const server = net.createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => {});
      let buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
          const len = buf.readUInt16BE(4);
          const adu = buf.subarray(0, 6 + len);
          buf = buf.subarray(6 + len);
          this.log(this.requests, adu);
          // protocol id must be 0 and the length must cover unit + function code
          if (adu.readUInt16BE(2) !== 0 || len < 2) {
            sock.destroy();
            return;
          }
          const tx = adu.readUInt16BE(0);
          const unit = adu[6] as number;
          if (unit !== this.unitId) continue;
          void this.respond(Buffer.from(adu.subarray(7)), (pdu) => {
            const head = Buffer.alloc(7);
            head.writeUInt16BE(tx, 0);
            head.writeUInt16BE(0, 2);
            head.writeUInt16BE(pdu.length + 1, 4);
            head[6] = unit;
            const out = Buffer.concat([head, pdu]);
            this.log(this.responses, out);
            if (!sock.destroyed) sock.write(out);
          });
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.tcp = server;
    this.tcpPort = (server.address() as net.AddressInfo).port;
    return this.tcpPort;
  }

  /** Serves Modbus RTU on the device end of a pty (or any serial port). */
  async serveRtu(path: string, baudRate = 9600): Promise<void> {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('error', () => {});
    port.on('data', (d: Buffer) => {
      const now = Date.now();
      if (now - this.rtuLastByteAt > RTU_GAP_MS) this.rtuBuf = Buffer.alloc(0); // a stale partial frame
      this.rtuLastByteAt = now;
      this.rtuBuf = Buffer.concat([this.rtuBuf, d]);
      for (;;) {
        const n = rtuRequestLength(this.rtuBuf);
        if (n === undefined || this.rtuBuf.length < n) break;
        const adu = this.rtuBuf.subarray(0, n);
        this.rtuBuf = this.rtuBuf.subarray(n);
        this.log(this.requests, adu);
        if (n < 4 || crc16(adu.subarray(0, n - 2)) !== adu.readUInt16LE(n - 2)) continue; // a real slave stays silent
        const unit = adu[0] as number;
        if (unit !== this.unitId) continue;
        void this.respond(Buffer.from(adu.subarray(1, n - 2)), (pdu, corrupt) => {
          const out = withCrc(Buffer.concat([Buffer.from([unit]), pdu]));
          if (corrupt) out[out.length - 1] = (out[out.length - 1] as number) ^ 0xff;
          this.log(this.responses, out);
          if (port.isOpen) port.write(out);
        });
      }
    });
    this.rtu = port;
  }

  /** Closes the TCP server (cutting every connection) and the serial port; settles within ~1 s. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const tcp = this.tcp;
    this.tcp = undefined;
    const rtu = this.rtu;
    this.rtu = undefined;
    this.rtuBuf = Buffer.alloc(0);
    await Promise.all([
      tcp ? settleWithin(new Promise<void>((r) => tcp.close(() => r())), 1000) : undefined,
      rtu?.isOpen ? settleWithin(new Promise<void>((r) => rtu.close(() => r())), 1000) : undefined,
    ]);
  }
}
