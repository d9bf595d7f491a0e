// Profiling aid for the mock CSMS hot path (not a benchmark with targets: that is csms.ts). Starts the
// mock CSMS as csms.ts does (transcript, exchange log, cut every second), drives it with csms.ts's
// load generator (a child process, 100 chargers, closed loop) and prints the round trips per second and
// the server's CPU time per round trip, which is much less sensitive to other load on the machine than
// the rate. Run it under the V8 profiler to see where the server's time goes:
//
//   npx tsx scripts/perf/csms-profile.ts [seconds=6]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx scripts/perf/csms-profile.ts 8
//   node --trace-gc --import tsx scripts/perf/csms-profile.ts 4 | grep -c Scavenge
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MockCsms } from '../../src/csms/index.ts';
import { Transcript } from '../../src/rig/transcript.ts';

const seconds = Number(process.argv[2] ?? 6);
if (!(seconds > 0)) throw new Error(`seconds must be a positive number, got ${process.argv[2]}`);
const HERE = path.dirname(fileURLToPath(import.meta.url));

const transcript = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
const csms = new MockCsms({ host: '127.0.0.1', port: 0, transcript, pingIntervalMs: 30_000 });
await csms.listen();
const cutter = setInterval(() => {
  transcript.cut();
  csms.drainExchanges();
}, 1_000);

// the load generator of csms.ts, without the profiler flags of this process
const child = fork(path.join(HERE, 'csms.ts'), ['--load-generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--import', 'tsx'] });
await new Promise((r) => child.once('message', r));
let cpu0: NodeJS.CpuUsage | undefined;
let serverCpuMs = 0;
const reply = await new Promise<{ calls: number; elapsedMs: number; errors: number; clientCpu: number }>((resolve) => {
  child.on('message', (m: { mark?: string; calls?: number }) => {
    if (m.mark === 'start') cpu0 = process.cpuUsage();
    else if (m.mark === 'end') {
      const d = process.cpuUsage(cpu0);
      serverCpuMs = (d.user + d.system) / 1000;
    } else if (m.calls !== undefined) resolve(m as { calls: number; elapsedMs: number; errors: number; clientCpu: number });
  });
  child.send({ cmd: 'throughput', url: csms.url, n: 100, measureMs: seconds * 1000 });
});
clearInterval(cutter);
child.kill();
await csms.close(1_000);
const rate = (reply.calls * 1000) / reply.elapsedMs;
console.log(
  `mock CSMS: ${rate.toFixed(0)} round trips/s over ${(reply.elapsedMs / 1000).toFixed(1)} s, server CPU ${((serverCpuMs * 1000) / reply.calls).toFixed(1)} µs per round trip ` +
    `(${((serverCpuMs / reply.elapsedMs) * 100).toFixed(0)}% of a core), load generator ${(reply.clientCpu * 100).toFixed(0)}% of a core, errors ${reply.errors}, violations ${csms.violations().length}`,
);
