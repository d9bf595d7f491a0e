// The servers the mock CSMS benchmark (csms.ts) and its profiling aid (csms-profile.ts) drive: the mock
// CSMS set up as during a run (JSON-lines transcript cut every second, exchange log drained every
// second), an ocpp-rpc 2.2.1 server in strict mode doing the same PnC Authorize work in its handler,
// and a bare `ws` echo server (no OCPP, no validation) that shows the machine's ceiling. Also how both
// scripts talk to csms.ts's load generator (`ask`, which takes this process's CPU time meanwhile).
//
//   const s = await startMock();   // { name, url, close() }; chargers connect to `${s.url}/<id>`
//   const r = await ask(child, { cmd: 'throughput', url: s.url, n: 100 });   // r.calls, r.serverCpuMs
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { MockCsms, PNC_VENDOR_ID } from '../../src/csms/index.ts';
import { Transcript } from '../../src/rig/transcript.ts';

/** A request to the load generator (csms.ts --load-generator). */
export interface LoadRequest {
  cmd: 'throughput' | 'latency' | 'idle' | 'closeIdle' | 'exit';
  url?: string;
  n?: number;
  ratePerS?: number;
  measureMs?: number;
}
export interface LoadReply {
  calls?: number;
  elapsedMs?: number;
  p50?: number;
  p99?: number;
  max?: number;
  samples?: number;
  errors?: number;
  ready?: number;
  /** load generator CPU (user+system) per wall second during the measurement */
  clientCpu?: number;
  /** set by `ask`: this process's (the server's) CPU during the measurement window, ms, and the system part of it */
  serverCpuMs?: number;
  serverSysMs?: number;
  mark?: 'start' | 'end';
}

/** Sends a request to the load generator; the server's CPU is taken between its start and end marks. */
export function ask(child: ChildProcess, req: LoadRequest): Promise<LoadReply> {
  return new Promise((resolve) => {
    let cpu0: NodeJS.CpuUsage | undefined;
    let cpu: NodeJS.CpuUsage | undefined;
    const onMessage = (m: LoadReply): void => {
      if (m.mark === 'start') cpu0 = process.cpuUsage();
      else if (m.mark === 'end') cpu = process.cpuUsage(cpu0);
      else {
        child.off('message', onMessage);
        resolve(cpu === undefined ? m : { ...m, serverCpuMs: (cpu.user + cpu.system) / 1000, serverSysMs: cpu.system / 1000 });
      }
    };
    child.on('message', onMessage);
    child.send(req);
  });
}

export interface ServerUnderTest {
  name: string;
  url: string;
  close(): Promise<void>;
}

export async function startMock(): Promise<ServerUnderTest> {
  const transcript = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
  const csms = new MockCsms({ host: '127.0.0.1', port: 0, transcript, pingIntervalMs: 30_000 });
  await csms.listen();
  // the runner cuts transcripts per phase and drains timings; do it every second
  const cutter = setInterval(() => {
    transcript.cut();
    csms.drainExchanges();
  }, 1_000);
  return {
    name: 'mock CSMS (src/csms)',
    url: csms.url,
    close: async () => {
      clearInterval(cutter);
      await csms.close(2_000);
      transcript.cut();
      if (csms.violations().length) throw new Error(`unexpected violations: ${csms.violations()[0]?.message}`);
    },
  };
}

export async function startOcppRpc(): Promise<ServerUnderTest> {
  const require = createRequire(import.meta.url);
  const { RPCServer, createValidator } = await import('ocpp-rpc');
  const v201 = createValidator('ocpp2.0.1', require('ocpp-rpc/lib/schemas/ocpp2_0_1.json'));
  const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true, pingIntervalMs: 30_000 });
  server.on('client', (client: { handle(method: string, fn: (o: { params: unknown }) => Promise<unknown>): void }) => {
    client.handle('DataTransfer', async ({ params }) => {
      const p = params as { vendorId: string; messageId?: string; data?: string };
      if (p.vendorId !== PNC_VENDOR_ID) return { status: 'UnknownVendorId' };
      if (p.messageId !== 'Authorize') return { status: 'UnknownMessageId' };
      let inner: unknown;
      try {
        inner = JSON.parse(p.data ?? '');
        v201.validate('urn:Authorize.req', inner);
      } catch {
        return { status: 'Rejected' };
      }
      const res = { idTokenInfo: { status: 'Accepted' } };
      v201.validate('urn:Authorize.conf', res);
      return { status: 'Accepted', data: JSON.stringify(res) };
    });
  });
  const http = await server.listen(0, '127.0.0.1');
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { name: 'ocpp-rpc 2.2.1 strict', url: `ws://127.0.0.1:${port}`, close: () => server.close({ force: true }) };
}

/** A bare `ws` server answering every frame with a canned CALLRESULT: no OCPP, no validation. It shows
 * what this machine and load generator can do at all, the ceiling for any server measured here. */
export async function startEcho(): Promise<ServerUnderTest> {
  const { WebSocketServer } = await import('ws');
  const answer = `{"status":"Accepted","data":${JSON.stringify(JSON.stringify({ idTokenInfo: { status: 'Accepted' } }))}}`;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false, handleProtocols: () => 'ocpp1.6' });
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer) => {
      const s = d.toString();
      const id = s.slice(4, s.indexOf('"', 4));
      ws.send(`[3,"${id}",${answer}]`);
    });
  });
  await new Promise((r) => wss.once('listening', r));
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { name: 'bare ws echo', url: `ws://127.0.0.1:${port}`, close: () => new Promise<void>((r) => wss.close(() => r())) };
}
