// The mock CSMS's own cost per PnC Authorize round trip, without sockets: the benchmark's frames are
// fed to each charger's RpcConnection through a fake WebSocket (send does nothing), with the transcript
// and the exchange log as during a run (cut and drained every 8 192 calls). What remains is the CSMS
// layer alone (parse, validation, dispatch, answer, transcript, exchange log, inbox): no kernel, no ws.
//
//   npx tsx scripts/perf/csms-layer.ts                         # this tree: µs of CPU per call, per round and median
//   npx tsx scripts/perf/csms-layer.ts /path/to/other/checkout # paired A/B: that tree (A) against this one (B)
//
// The A/B loads both trees into one process and alternates rounds (ABBA), so a drift of the machine
// hits both alike; run the same tree against itself first to see this machine's noise.
// CSMS_LAYER_CALLS (default 50 000) calls per round, CSMS_LAYER_ROUNDS (default 20) rounds or pairs.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CALLS = Number(process.env.CSMS_LAYER_CALLS ?? 50_000);
const ROUNDS = Number(process.env.CSMS_LAYER_ROUNDS ?? 20);
if (!(CALLS > 0 && ROUNDS > 0)) throw new Error('CSMS_LAYER_CALLS and CSMS_LAYER_ROUNDS must be positive numbers');

class FakeWs extends EventEmitter {
  readyState = 1;
  send(): void {}
  ping(): void {}
  terminate(): void {}
  close(): void {}
}

/** A mock CSMS of the tree at `root` with 100 connected chargers; `round()` returns µs of CPU per call. */
async function setup(root: string): Promise<{ round(): number }> {
  const { MockCsms, PNC_VENDOR_ID } = (await import(path.join(root, 'src/csms/index.ts'))) as typeof import('../../src/csms/index.ts');
  const { RpcConnection } = (await import(path.join(root, 'src/csms/connection.ts'))) as typeof import('../../src/csms/connection.ts');
  const { Transcript } = (await import(path.join(root, 'src/rig/transcript.ts'))) as typeof import('../../src/rig/transcript.ts');
  const transcript = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
  const csms = new MockCsms({ host: '127.0.0.1', port: 0, transcript, pingIntervalMs: 30_000 });
  csms.warmUp();
  const sockets: FakeWs[] = [];
  for (let i = 0; i < 100; i++) {
    const cp = csms.chargePoint(`PERF-${i}`);
    const ws = new FakeWs();
    cp.attach(new RpcConnection(ws as never, cp.id, { callTimeoutMs: 30_000 }, cp.connectionHooks()), { remoteAddress: '127.0.0.1', protocol: 'ocpp1.6', connectedAt: Date.now() });
    sockets.push(ws);
  }
  const data = JSON.stringify(JSON.stringify({ idToken: { idToken: 'DEPNB1234567890', type: 'eMAID' } }));
  let id = 0;
  return {
    round(): number {
      const cpu0 = process.cpuUsage();
      for (let k = 0; k < CALLS; k++) {
        const frame = Buffer.from(`[2,"${++id}","DataTransfer",{"vendorId":"${PNC_VENDOR_ID}","messageId":"Authorize","data":${data}}]`);
        (sockets[k % 100] as FakeWs).emit('message', frame, false);
        if ((k & 8191) === 0) {
          transcript.cut();
          csms.drainExchanges();
        }
      }
      const cpu = process.cpuUsage(cpu0);
      if (csms.violations().length > 0) throw new Error(`unexpected violation: ${csms.violations()[0]?.message}`);
      return (cpu.user + cpu.system) / CALLS;
    },
  };
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const other = process.argv[2];
const b = await setup(HERE_ROOT);
if (other === undefined) {
  b.round(); // warm-up
  const us: number[] = [];
  for (let r = 0; r < ROUNDS; r++) us.push(b.round());
  console.log(`mock CSMS layer, no sockets: ${median(us).toFixed(2)} µs CPU per round trip (median of ${ROUNDS} rounds of ${CALLS}; rounds ${Math.min(...us).toFixed(2)}–${Math.max(...us).toFixed(2)})`);
} else {
  const a = await setup(path.resolve(other));
  for (let w = 0; w < 2; w++) {
    a.round();
    b.round();
  }
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let p = 0; p < ROUNDS; p++) {
    let x: number;
    let y: number;
    if (p % 2) {
      y = b.round();
      x = a.round();
    } else {
      x = a.round();
      y = b.round();
    }
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  console.log(`A ${path.resolve(other)}: ${median(as).toFixed(2)} µs, B ${HERE_ROOT}: ${median(bs).toFixed(2)} µs per round trip; A/B median of ${ROUNDS} pairs ${median(ratios).toFixed(3)} (pairs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
}
process.exit(0);
