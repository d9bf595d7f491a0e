// CAN transport throughput: pushes sequence-numbered frames through the slcan transport (over a
// socat pty to a simulated slcan adapter) and the socketcand transport (TCP on 127.0.0.1 to a
// simulated socketcand daemon), in both directions, and prints frames/s and loss per transport
// and direction. Every frame carries a 32-bit sequence number; the receiver checks that all of
// them arrive, in order, exactly once. Exit code 1 when any frame is lost or a rate is below the
// 10 000 frames/s target.
//
//   npx tsx scripts/perf/can.ts [--frames 50000] [--window 512]
//
// The simulated adapter and daemon are the virtual rig's (rigs/virtual/), also the driver tests' peers.
import { setMaxListeners } from 'node:events';
import { canFrame, type CanFrame } from '../../drivers/can/frame.ts';
import { SlcanTransport } from '../../drivers/can/slcan.ts';
import { SocketcandTransport } from '../../drivers/can/socketcand.ts';
import type { CanTransport } from '../../drivers/can/transport.ts';
import { Transcript } from '../../src/rig/transcript.ts';
import { ptyPair } from '../../rigs/virtual/pty.ts';
import { SlcanAdapter } from '../../rigs/virtual/slcan-adapter.ts';
import { SocketcandServer } from '../../rigs/virtual/socketcand-server.ts';
import { VirtualBus, type BusFrame } from '../../rigs/virtual/can-bus.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const FRAMES = arg('frames', 50_000);
const WINDOW = arg('window', 512);
const TARGET = 10_000;
const ID = 0x18ff50e5;

interface Result {
  transport: string;
  direction: string;
  frames: number;
  seconds: number;
  rate: number;
  lost: number;
  outOfOrder: number;
  errors: number;
}

/** Checks a stream of sequence numbers: counts missing, duplicated or reordered ones. */
class SeqCheck {
  next = 0;
  received = 0;
  outOfOrder = 0;
  lastAt = 0;
  private seen = new Uint8Array(FRAMES);
  push(seq: number): void {
    this.received += 1;
    this.lastAt = performance.now();
    if (seq !== this.next) this.outOfOrder += 1;
    if (seq < FRAMES) this.seen[seq] = 1;
    this.next = seq + 1;
  }
  lost(): number {
    let n = 0;
    for (const s of this.seen) if (!s) n += 1;
    return n;
  }
}

const seqFrame = (seq: number): CanFrame => canFrame({ id: ID, ext: true, data: [seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff, 0xa5, 0x5a, 0xa5, 0x5a] });
const seqOf = (data: Uint8Array | Buffer): number => (((data[0] as number) << 24) | ((data[1] as number) << 16) | ((data[2] as number) << 8) | (data[3] as number)) >>> 0;

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 5));
}

/** Bench → bus: `WINDOW` sends in flight at a time. */
async function benchToBus(name: string, t: CanTransport, bus: VirtualBus): Promise<Result> {
  const check = new SeqCheck();
  const detach = bus.attach({ deliver: (f: BusFrame) => f.id === ID && check.push(seqOf(f.data)) });
  const errors0 = t.stats().errors;
  const signal = AbortSignal.timeout(120_000);
  setMaxListeners(WINDOW * 4, signal); // every in-flight send listens for the abort
  const t0 = performance.now();
  let nextSeq = 0;
  const worker = async (): Promise<void> => {
    while (nextSeq < FRAMES) {
      const seq = nextSeq++;
      await t.send(seqFrame(seq), signal);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  await until(() => check.received >= FRAMES, 10_000);
  detach();
  const seconds = (check.lastAt - t0) / 1000;
  return { transport: name, direction: 'bench → bus', frames: check.received, seconds, rate: check.received / seconds, lost: check.lost(), outOfOrder: check.outOfOrder, errors: t.stats().errors - errors0 };
}

/** Bus → bench: the peer side puts frames on the bus in batches, yielding to I/O between them. */
async function busToBench(name: string, t: CanTransport, bus: VirtualBus): Promise<Result> {
  const check = new SeqCheck();
  const off = t.onFrame((f) => f.id === ID && check.push(seqOf(f.data)));
  const errors0 = t.stats().errors;
  const t0 = performance.now();
  for (let seq = 0; seq < FRAMES; seq++) {
    const d = Buffer.from([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff, 0xa5, 0x5a, 0xa5, 0x5a]);
    bus.transmit(undefined, { id: ID, ext: true, rtr: false, dlc: 8, data: d });
    if (seq % 256 === 255) await new Promise((r) => setImmediate(r));
  }
  await until(() => check.received >= FRAMES, 30_000);
  off();
  const seconds = (check.lastAt - t0) / 1000;
  return { transport: name, direction: 'bus → bench', frames: check.received, seconds, rate: check.received / seconds, lost: check.lost(), outOfOrder: check.outOfOrder, errors: t.stats().errors - errors0 };
}

async function slcan(): Promise<Result[]> {
  const pty = await ptyPair();
  const bus = new VirtualBus();
  bus.keepLog = false;
  const adapter = new SlcanAdapter(pty.b, bus);
  await adapter.start();
  const t = new SlcanTransport(
    { path: pty.a, bitrate: 1_000_000, serialBaud: 115200, listenOnly: false, timestamps: false, ackTimeoutMs: 5000, reconnect: { minMs: 100, maxMs: 1000 } },
    { name: 'bench', iface: 'slcan0', transcript: new Transcript({ ext: 'candump', mime: 'text/plain' }) },
  );
  try {
    await t.open(AbortSignal.timeout(5000));
    return [await benchToBus('slcan (pty)', t, bus), await busToBench('slcan (pty)', t, bus)];
  } finally {
    await t.close(1000);
    await adapter.stop();
    await pty.close();
  }
}

async function socketcand(): Promise<Result[]> {
  const bus = new VirtualBus();
  bus.keepLog = false;
  const server = new SocketcandServer(bus, 'can0');
  await server.start();
  const t = new SocketcandTransport(
    { host: '127.0.0.1', port: server.port, iface: 'can0', connectTimeoutMs: 3000, reconnect: { minMs: 100, maxMs: 1000 } },
    { name: 'bench', iface: 'can0', transcript: new Transcript({ ext: 'candump', mime: 'text/plain' }) },
  );
  try {
    await t.open(AbortSignal.timeout(5000));
    return [await benchToBus('socketcand (tcp)', t, bus), await busToBench('socketcand (tcp)', t, bus)];
  } finally {
    await t.close(1000);
    await server.stop();
  }
}

const results = [...(await slcan()), ...(await socketcand())];
const rows = results.map((r) => [r.transport, r.direction, String(r.frames), r.seconds.toFixed(3), Math.round(r.rate).toLocaleString('en-US'), String(r.lost), String(r.outOfOrder), String(r.errors)]);
const head = ['transport', 'direction', 'frames', 'seconds', 'frames/s', 'lost', 'reordered', 'errors'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
console.log(`CAN transport throughput, ${FRAMES} sequence-numbered 8-byte extended frames per run, window ${WINDOW}`);
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
const bad = results.filter((r) => r.lost > 0 || r.outOfOrder > 0 || r.rate < TARGET);
if (bad.length) {
  console.log(`FAILED: ${bad.map((r) => `${r.transport} ${r.direction}`).join('; ')} (loss, reordering or < ${TARGET} frames/s)`);
  process.exitCode = 1;
} else console.log(`OK: every frame arrived once and in order; all rates ≥ ${TARGET.toLocaleString('en-US')} frames/s`);
