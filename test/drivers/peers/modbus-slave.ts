// Test peer: a Modbus slave holding the register image of an energy meter, served over Modbus TCP
// (MBAP on 127.0.0.1) and Modbus RTU (CRC-16 frames on the device end of a pty). The meter images
// (Eastron SDM630, ABB B23, Carlo Gavazzi EM340) are encoded here from the reference tables,
// independently of the driver's register maps, so a wrong map in the driver fails the tests.
// Faults for robustness tests are queued per request: a corrupted CRC, no answer, an exception,
// a delay. Every raw request frame is kept for byte-level assertions.
import net from 'node:net';
import { SerialPort } from 'serialport';

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

export interface MeterValues {
  voltageV: [number, number, number];
  currentA: [number, number, number];
  powerW: number;
  energyWh: number;
  frequencyHz: number;
  serial: string;
}

export type MeterKind = 'sdm630' | 'abb-b23' | 'em340';
export type Fault = 'corrupt-crc' | 'no-answer' | { exception: number } | { delayMs: number };

type Image = Map<number, Map<number, number>>; // fc → address → word

const f32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};
const be32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  if (v < 0) b.writeInt32BE(v);
  else b.writeUInt32BE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
};
const be64 = (v: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return [0, 2, 4, 6].map((o) => b.readUInt16BE(o));
};
const ascii = (s: string, words: number): number[] => {
  const b = Buffer.alloc(words * 2);
  b.write(s.slice(0, words * 2), 'latin1');
  return Array.from({ length: words }, (_, i) => b.readUInt16BE(i * 2));
};

/** The register image of a meter showing `v`; `unavailable` quantities get the "invalid" pattern (ABB). */
export function meterImage(kind: MeterKind, v: MeterValues, unavailable: readonly string[] = []): Image {
  const img: Image = new Map([
    [3, new Map()],
    [4, new Map()],
  ]);
  const put = (fc: number, addr: number, words: number[]): void => words.forEach((w, i) => img.get(fc)?.set(addr + i, w));
  if (kind === 'sdm630') {
    v.voltageV.forEach((x, i) => put(4, 0x0000 + 2 * i, f32(x)));
    v.currentA.forEach((x, i) => put(4, 0x0006 + 2 * i, f32(x)));
    put(4, 0x0034, f32(v.powerW));
    put(4, 0x0046, f32(v.frequencyHz));
    put(4, 0x0048, f32(v.energyWh / 1000));
    put(3, 0xfc00, be32(Number(v.serial)));
  } else if (kind === 'abb-b23') {
    const u32 = (name: string, x: number): number[] => (unavailable.includes(name) ? [0xffff, 0xffff] : be32(Math.round(x)));
    v.voltageV.forEach((x, i) => put(3, 0x5b00 + 2 * i, u32(`voltageV${i}`, x * 10)));
    v.currentA.forEach((x, i) => put(3, 0x5b0c + 2 * i, u32(`currentA${i}`, x * 100)));
    put(3, 0x5b14, unavailable.includes('powerW') ? [0x7fff, 0xffff] : be32(Math.round(v.powerW * 100)));
    put(3, 0x5b2c, [unavailable.includes('frequencyHz') ? 0xffff : Math.round(v.frequencyHz * 100)]);
    put(3, 0x5000, unavailable.includes('energyWh') ? [0xffff, 0xffff, 0xffff, 0xffff] : be64(BigInt(Math.round(v.energyWh / 10))));
    put(3, 0x8900, be32(Number(v.serial)));
  } else {
    // Carlo Gavazzi: INT32 with the low word first
    const cdab = (x: number): number[] => be32(Math.round(x)).reverse();
    v.voltageV.forEach((x, i) => put(4, 0x0000 + 2 * i, cdab(x * 10)));
    v.currentA.forEach((x, i) => put(4, 0x000c + 2 * i, cdab(x * 1000)));
    put(4, 0x0028, cdab(v.powerW * 10));
    put(4, 0x0033, [Math.round(v.frequencyHz * 10) & 0xffff]);
    put(4, 0x0034, cdab(v.energyWh / 100));
    put(4, 0x5000, ascii(v.serial, 7));
    for (const [a, w] of img.get(4) ?? []) img.get(3)?.set(a, w); // FC03 answered too
  }
  return img;
}

export class ModbusSlave {
  image: Image;
  unitId: number;
  readonly faults: Fault[] = [];
  /** raw request ADUs as received (RTU with CRC, TCP with MBAP) */
  readonly requests: Buffer[] = [];
  readonly responses: Buffer[] = [];
  private tcp: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private rtu: SerialPort | undefined;
  private rtuBuf = Buffer.alloc(0);
  tcpPort = 0;

  constructor(image: Image, unitId = 1) {
    this.image = image;
    this.unitId = unitId;
  }

  /** The response PDU to a request PDU (exception 02 for unmapped registers). */
  answer(pdu: Buffer): Buffer {
    const fc = pdu[0] as number;
    if (fc !== 3 && fc !== 4) return Buffer.from([fc | 0x80, 0x01]);
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    if (qty < 1 || qty > 125) return Buffer.from([fc | 0x80, 0x03]);
    const regs = this.image.get(fc) as Map<number, number>;
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

  private async respond(pdu: Buffer, send: (pdu: Buffer, corruptCrc: boolean) => void): Promise<void> {
    const fault = this.faults.shift();
    if (fault === 'no-answer') return;
    if (typeof fault === 'object' && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    const res = typeof fault === 'object' && 'exception' in fault ? Buffer.from([(pdu[0] as number) | 0x80, fault.exception]) : this.answer(pdu);
    send(res, fault === 'corrupt-crc');
  }

  async serveTcp(port = 0): Promise<number> {
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
          this.requests.push(Buffer.from(adu));
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
            this.responses.push(out);
            if (!sock.destroyed) sock.write(out);
          });
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.tcp = server;
    this.tcpPort = (server.address() as net.AddressInfo).port;
    return this.tcpPort;
  }

  async serveRtu(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('error', () => {});
    port.on('data', (d: Buffer) => {
      this.rtuBuf = Buffer.concat([this.rtuBuf, d]);
      // read requests (FC03/04) are 8 bytes: unit fc addr(2) qty(2) crc(2)
      while (this.rtuBuf.length >= 8) {
        const adu = this.rtuBuf.subarray(0, 8);
        this.rtuBuf = this.rtuBuf.subarray(8);
        this.requests.push(Buffer.from(adu));
        if (crc16(adu.subarray(0, 6)) !== adu.readUInt16LE(6)) continue; // a real slave stays silent
        const unit = adu[0] as number;
        if (unit !== this.unitId) continue;
        void this.respond(Buffer.from(adu.subarray(1, 6)), (pdu, corrupt) => {
          const out = withCrc(Buffer.concat([Buffer.from([unit]), pdu]));
          if (corrupt) out[out.length - 1] = (out[out.length - 1] as number) ^ 0xff;
          this.responses.push(out);
          port.write(out);
        });
      }
    });
    this.rtu = port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
    const rtu = this.rtu;
    this.rtu = undefined;
    this.rtuBuf = Buffer.alloc(0);
    if (rtu?.isOpen) await new Promise<void>((r) => rtu.close(() => r()));
  }
}
