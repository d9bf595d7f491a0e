// Benchmark: the mock CSMS against the targets, and the same workload against an ocpp-rpc
// 2.2.1 server in strict mode. Prints a table. Run with `npx tsx scripts/perf/csms.ts` (npm run perf:csms).
//
// Workload: PnC Authorize round trips — DataTransfer(vendorId org.openchargealliance.iso15118pnc,
// messageId Authorize, data = a 2.0.1 AuthorizeRequest with an eMAID idToken) — each validated on the
// server against the 1.6 schema (outer request and response) and the 2.0.1 schema (inner request and
// response). The mock CSMS also writes its JSON-lines transcript (cut every second, as the runner
// does per phase) and records every exchange for timings, as it does during a run. The ocpp-rpc server
// gets the same work: strict mode (outer validation) plus the inner parse and 2.0.1 validation in its
// handler. The load generator is a child process (minimal WebSocket clients on raw TCP sockets, one
// outstanding CALL each), so client and server run on different cores and the client is not the limit.
//
//   1. memory per idle connection with 1 000 connections            target <= 15 KB
//   2. throughput, 100 chargers, closed loop: PAIRS pairs of rounds, one round per server each, in
//      ABBA order (mock, rpc, rpc, mock, ...) so a drift in the machine's speed hits both alike; the
//      mock's rate is the median of its rounds, the ratio the median of the per-pair ratios
//                                                                   target >= 20 000 calls/s, >= 1.3x ocpp-rpc
//   3. latency p50/p99 at half the median throughput, paced         target p99 <= 2 ms
//   4. the machine's own floor: the same load against a bare ws echo server (no OCPP, no validation).
//      On a shared VM the round trip's tail is mostly the machine's (wake-ups, neighbours); when even
//      the echo's p99 is over the latency target, the table says so.
// PERF_PAIRS sets the number of pairs (default 8); PERF_NO_SPIN=1 lets the load generator sleep between
// frames in the throughput rounds (by default it busy-polls).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PNC_VENDOR_ID } from '../../src/csms/index.ts';
import { ask, startEcho, startMock, startOcppRpc, type LoadReply, type LoadRequest, type ServerUnderTest } from './csms-servers.ts';

const INNER = JSON.stringify({ idToken: { idToken: 'DEPNB1234567890', type: 'eMAID' } });
const CHARGERS = 100;
const IDLE = 1_000;
/** throughput: PAIRS pairs of rounds (one per server, ABBA order), each WARMUP_MS + MEASURE_MS, after one unmeasured round per server */
const PAIRS = Number(process.env.PERF_PAIRS ?? 8);
const WARMUP_MS = 500;
const MEASURE_MS = 2_000;
const LATENCY_MS = 5_000;
const SPIN = process.env.PERF_NO_SPIN === undefined;

// ---------------------------------------------------------------------------------- load generator

function callFrame(id: number): string {
  return `[2,"${id}","DataTransfer",{"vendorId":"${PNC_VENDOR_ID}","messageId":"Authorize","data":${INNER_JSON}}]`;
}
const INNER_JSON = JSON.stringify(INNER);

/**
 * A minimal WebSocket client on a raw TCP socket (RFC 6455 client framing with a zero mask key), so the
 * load generator spends its CPU on the wire and not in a client library: the server under test stays
 * the bottleneck. Text frames only; the server's answers are counted, not parsed.
 */
class RawWs {
  private buf: Buffer = Buffer.alloc(0);
  onText: (first2: number) => void = () => {};
  private constructor(private readonly sock: net.Socket) {}

  static connect(url: string, path: string): Promise<RawWs> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const sock = net.connect(Number(u.port), u.hostname);
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        if (!head.subarray(0, 12).toString().includes('101')) return reject(new Error(`upgrade refused: ${head.subarray(0, end).toString()}`));
        const ws = new RawWs(sock);
        sock.on('data', (x: Buffer) => ws.onData(x));
        if (head.length > end + 4) ws.onData(head.subarray(end + 4));
        resolve(ws);
      };
      sock.on('data', onData);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.write(
          `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n`,
        );
      });
    });
  }

  send(text: string): void {
    const len = Buffer.byteLength(text);
    const hdr = len < 126 ? 6 : 8;
    const b = Buffer.allocUnsafe(hdr + len);
    b[0] = 0x81;
    if (len < 126) b[1] = 0x80 | len;
    else {
      b[1] = 0x80 | 126;
      b.writeUInt16BE(len, 2);
    }
    b.writeUInt32BE(0, hdr - 4); // mask key 0: the payload goes as is
    b.write(text, hdr);
    this.sock.write(b);
  }

  private onData(d: Buffer): void {
    const b = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    for (;;) {
      if (b.length - off < 2) break;
      let len = (b[off + 1] as number) & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = Number(b.readBigUInt64BE(off + 2));
        hdr = 10;
      }
      if (b.length - off < hdr + len) break;
      if (((b[off] as number) & 0x0f) === 1) this.onText(((b[off + hdr] as number) << 8) | (b[off + hdr + 1] as number));
      off += hdr + len;
    }
    this.buf = off >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(off));
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.sock.once('close', () => r());
      this.sock.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
      setTimeout(() => this.sock.destroy(), 500).unref();
    });
  }
}

async function connectAll(url: string, n: number, prefix: string): Promise<RawWs[]> {
  const out: RawWs[] = [];
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => RawWs.connect(url, `/${prefix}${i + k}`)))));
  return out;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? 0;
}

async function clientMain(): Promise<void> {
  let idle: RawWs[] = [];
  let run = 0;
  process.on('message', (m: LoadRequest) => {
    void (async (): Promise<LoadReply> => {
      run++;
      if (m.cmd === 'exit') process.exit(0);
      if (m.cmd === 'idle') {
        idle = await connectAll(m.url as string, m.n as number, `IDLE${run}-`);
        return { ready: idle.length };
      }
      if (m.cmd === 'closeIdle') {
        await Promise.all(idle.map((ws) => ws.close()));
        idle = [];
        return { ready: 0 };
      }
      // the same charger ids every round, as chargers that reconnect (the mock CSMS keeps a charger's state)
      const conns = await connectAll(m.url as string, m.n as number, 'PERF-');
      let measuring = false;
      let stop = false;
      let calls = 0;
      let errors = 0;
      const lat: number[] = [];
      const sentAt = new Float64Array(conns.length);
      let nextId = 0;
      const send = (i: number): void => {
        sentAt[i] = performance.now();
        (conns[i] as RawWs).send(callFrame(++nextId));
      };
      const paced = m.cmd === 'latency';
      const intervalMs = paced ? (conns.length * 1000) / (m.ratePerS as number) : 0;
      const due = new Float64Array(conns.length);
      const busy = new Uint8Array(conns.length);
      conns.forEach((ws, i) => {
        ws.onText = (first2) => {
          const now = performance.now();
          if (first2 !== 0x5b33) errors++; // '[3' expected
          if (measuring) {
            calls++;
            if (paced) lat.push(now - (sentAt[i] as number));
          }
          busy[i] = 0;
          if (stop) return;
          if (!paced) send(i);
          else if (now >= (due[i] as number)) {
            busy[i] = 1;
            due[i] = (due[i] as number) + intervalMs;
            send(i);
          }
        };
      });
      // Busy-poll: keep the event loop spinning (setImmediate) so the load generator never sleeps in
      // epoll; on a VM, waking a sleeping process costs more than the server's own work per call.
      let spinning = true;
      const spin = (): void => {
        if (spinning) setImmediate(spin);
      };
      if (SPIN && !paced) spin(); // only for throughput; paced runs leave the CPU to the server's GC threads
      const t0 = performance.now();
      let ticker: NodeJS.Timeout | undefined;
      if (!paced) conns.forEach((_, i) => send(i));
      else {
        conns.forEach((_, i) => (due[i] = t0 + (i * intervalMs) / conns.length));
        ticker = setInterval(() => {
          const now = performance.now();
          for (let i = 0; i < conns.length; i++) {
            if (!busy[i] && now >= (due[i] as number)) {
              busy[i] = 1;
              due[i] = (due[i] as number) + intervalMs;
              send(i);
            }
          }
        }, 1);
      }
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      measuring = true;
      process.send?.({ mark: 'start' });
      const m0 = performance.now();
      const cpu0 = process.cpuUsage();
      await new Promise((r) => setTimeout(r, m.measureMs ?? MEASURE_MS));
      measuring = false;
      const elapsedMs = performance.now() - m0;
      const cpu = process.cpuUsage(cpu0);
      process.send?.({ mark: 'end' });
      const clientCpu = (cpu.user + cpu.system) / 1000 / elapsedMs;
      stop = true;
      spinning = false;
      if (ticker) clearInterval(ticker);
      await new Promise((r) => setTimeout(r, 200));
      await Promise.all(conns.map((ws) => ws.close()));
      if (!paced) return { calls, elapsedMs, errors, clientCpu };
      const sorted = Float64Array.from(lat).sort();
      return { calls, elapsedMs, errors, samples: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? 0 };
    })().then((r) => process.send?.(r));
  });
  process.send?.({ ready: 1 });
}

// ---------------------------------------------------------------------------------- driver

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
async function settledMemory(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  // arrayBuffers is part of external: not added again
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

async function idleMemory(server: ServerUnderTest, child: ChildProcess): Promise<{ heapKb: number; rssKb: number }> {
  const before = await settledMemory();
  const r = await ask(child, { cmd: 'idle', url: server.url, n: IDLE });
  if (r.ready !== IDLE) throw new Error(`only ${r.ready} idle connections`);
  await new Promise((res) => setTimeout(res, 500));
  const after = await settledMemory();
  await ask(child, { cmd: 'closeIdle' });
  await new Promise((res) => setTimeout(res, 300));
  return { heapKb: (after.heap - before.heap) / IDLE / 1024, rssKb: (after.rss - before.rss) / IDLE / 1024 };
}

async function throughput(server: ServerUnderTest, child: ChildProcess): Promise<{ rate: number; cpuUsPerCall: number }> {
  const t = await ask(child, { cmd: 'throughput', url: server.url, n: CHARGERS });
  if (t.errors) throw new Error(`${server.name}: ${t.errors} answers were not CALLRESULTs`);
  return { rate: ((t.calls as number) * 1000) / (t.elapsedMs as number), cpuUsPerCall: ((t.serverCpuMs as number) * 1000) / (t.calls as number) };
}

async function latency(server: ServerUnderTest, child: ChildProcess, ratePerS: number): Promise<LoadReply> {
  const l = await ask(child, { cmd: 'latency', url: server.url, n: CHARGERS, ratePerS, measureMs: LATENCY_MS });
  if (l.errors) throw new Error(`${server.name}: ${l.errors} answers were not CALLRESULTs`);
  return l;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function main(): Promise<void> {
  const child = fork(process.argv[1] as string, ['--load-generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((r) => child.once('message', r));
  const mock = await startMock();
  const rpc = await startOcppRpc();
  const echo = await startEcho();
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    // memory first, on a quiet process: one round to grow the allocator's pools, then the measured one
    await idleMemory(mock, child);
    const mockIdle = await idleMemory(mock, child);
    await idleMemory(rpc, child);
    const rpcIdle = await idleMemory(rpc, child);
    log(`idle memory per connection: mock ${mockIdle.heapKb.toFixed(1)} KB heap / ${mockIdle.rssKb.toFixed(1)} KB RSS, ocpp-rpc ${rpcIdle.heapKb.toFixed(1)} / ${rpcIdle.rssKb.toFixed(1)}`);
    // throughput: one unmeasured round each (JIT, pools), then pairs in ABBA order
    await throughput(mock, child);
    await throughput(rpc, child);
    const rates: { mock: number[]; rpc: number[] } = { mock: [], rpc: [] };
    const cpu: { mock: number[]; rpc: number[] } = { mock: [], rpc: [] };
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      let a: { rate: number; cpuUsPerCall: number };
      let b: { rate: number; cpuUsPerCall: number };
      if (i % 2 === 0) {
        a = await throughput(mock, child);
        b = await throughput(rpc, child);
      } else {
        b = await throughput(rpc, child);
        a = await throughput(mock, child);
      }
      rates.mock.push(a.rate);
      rates.rpc.push(b.rate);
      cpu.mock.push(a.cpuUsPerCall);
      cpu.rpc.push(b.cpuUsPerCall);
      ratios.push(a.rate / b.rate);
      cpuRatios.push(b.cpuUsPerCall / a.cpuUsPerCall);
      log(
        `pair ${i + 1}/${PAIRS}: mock ${a.rate.toFixed(0)}/s (${a.cpuUsPerCall.toFixed(1)} µs CPU/call), ocpp-rpc ${b.rate.toFixed(0)}/s (${b.cpuUsPerCall.toFixed(1)} µs CPU/call), ` +
          `ratio ${(a.rate / b.rate).toFixed(2)}`,
      );
    }
    const mockRate = median(rates.mock);
    const rpcRate = median(rates.rpc);
    const mockCpu = median(cpu.mock);
    const rpcCpu = median(cpu.rpc);
    const mockLat = await latency(mock, child, mockRate / 2);
    const rpcLat = await latency(rpc, child, rpcRate / 2);
    // the machine's ceiling: the same load against a server that does nothing
    const echoRate = (await throughput(echo, child)).rate;
    const echoLat = await latency(echo, child, mockRate / 2);

    const ratio = median(ratios);
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    const rows: [string, string, string, string, string][] = [
      ['measure', mock.name, rpc.name, 'target', 'mock'],
      [`PnC Authorize round trips/s, ${CHARGERS} chargers (median of ${PAIRS} rounds)`, f(mockRate), f(rpcRate), '>= 20,000', mockRate >= 20_000 ? 'PASS' : 'FAIL'],
      ['  fastest / slowest round', `${f(Math.max(...rates.mock))} / ${f(Math.min(...rates.mock))}`, `${f(Math.max(...rates.rpc))} / ${f(Math.min(...rates.rpc))}`, '', ''],
      ['server CPU per round trip, user+system (µs, median)', f(mockCpu, 1), f(rpcCpu, 1), '', ''],
      [`p50 latency at half load (ms)`, f(mockLat.p50 as number, 3), f(rpcLat.p50 as number, 3), '', ''],
      [`p99 latency at half load (ms)`, f(mockLat.p99 as number, 3), f(rpcLat.p99 as number, 3), '<= 2', (mockLat.p99 as number) <= 2 ? 'PASS' : 'FAIL'],
      ['max latency at half load (ms)', f(mockLat.max as number, 3), f(rpcLat.max as number, 3), '', ''],
      [`memory per idle connection, ${f(IDLE)} connections: heap+external (KB)`, f(mockIdle.heapKb, 1), f(rpcIdle.heapKb, 1), '<= 15', mockIdle.heapKb <= 15 ? 'PASS' : 'FAIL'],
      ['  same, RSS (KB)', f(mockIdle.rssKb, 1), f(rpcIdle.rssKb, 1), '<= 15', mockIdle.rssKb <= 15 ? 'PASS' : 'FAIL'],
      [`throughput vs ocpp-rpc (median of the ${PAIRS} pairs' ratios)`, `${f(ratio, 2)}x`, '1x', '>= 1.3x', ratio >= 1.3 ? 'PASS' : 'FAIL'],
      ['  lowest / highest pair', `${f(Math.min(...ratios), 2)}x / ${f(Math.max(...ratios), 2)}x`, '', '', ''],
      ['CPU efficiency vs ocpp-rpc (its CPU per call / ours, median of pairs)', `${f(median(cpuRatios), 2)}x`, '1x', '', ''],
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
    console.log(
      `\nmock CSMS benchmark (Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs; load generator in a child process; ` +
        `throughput ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s per round; latency paced at half the median rate for ${LATENCY_MS / 1000} s)\n`,
    );
    for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
    console.log(`\nlatency samples: mock ${f(mockLat.samples as number)}, ocpp-rpc ${f(rpcLat.samples as number)}`);
    console.log(
      `machine ceiling (bare ws echo, no OCPP, no validation): ${f(echoRate)} round trips/s; at ${f(mockRate / 2)}/s p50 ${f(echoLat.p50 as number, 3)} ms, ` +
        `p99 ${f(echoLat.p99 as number, 3)} ms, max ${f(echoLat.max as number, 3)} ms`,
    );
    if ((echoLat.p99 as number) > 2) {
      console.log(`note: the bare echo server's own p99 (${f(echoLat.p99 as number, 3)} ms) is over the 2 ms target at this load: this machine cannot show the latency target for any server.`);
    }
  } finally {
    await mock.close();
    await rpc.close();
    await echo.close();
    child.kill();
  }
}

if (process.argv.includes('--load-generator')) await clientMain();
else await main();
