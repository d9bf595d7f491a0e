// Profiling aid for the mock CSMS hot path (not a benchmark with targets: that is csms.ts). Starts one
// of csms.ts's servers (default the mock CSMS as csms.ts sets it up: transcript and exchange log, cut
// and drained every second), drives it with csms.ts's load generator (a child process, 100 chargers,
// closed loop) and prints the round trips per second and the server's CPU time per round trip, which
// is much less sensitive to other load on the machine than the rate. `echo` (a bare ws server) gives the
// floor of that CPU time on this machine, `rpc` the ocpp-rpc server. Run it under the V8 profiler to see
// where the server's time goes:
//
//   npx tsx scripts/perf/csms-profile.ts [seconds=6] [mock|rpc|echo] [latency rate per s]
//
// With a rate, the load is paced at that rate (as csms.ts's latency measurement) and the p50/p99/max
// latency is printed instead.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx scripts/perf/csms-profile.ts 8
//   node --trace-gc --import tsx scripts/perf/csms-profile.ts 4 | grep -c Scavenge
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ask, startEcho, startMock, startOcppRpc } from './csms-servers.ts';

const seconds = Number(process.argv[2] ?? 6);
if (!(seconds > 0)) throw new Error(`seconds must be a positive number, got ${process.argv[2]}`);
const which = process.argv[3] ?? 'mock';
const starters = { mock: startMock, rpc: startOcppRpc, echo: startEcho } as const;
if (!(which in starters)) throw new Error(`server must be one of ${Object.keys(starters).join(', ')}, got ${which}`);
const latencyRate = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
if (latencyRate !== undefined && !(latencyRate > 0)) throw new Error(`the latency rate must be a positive number, got ${process.argv[4]}`);
const HERE = path.dirname(fileURLToPath(import.meta.url));

const server = await starters[which as keyof typeof starters]();

// the load generator of csms.ts, without the profiler flags of this process
const child = fork(path.join(HERE, 'csms.ts'), ['--load-generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--import', 'tsx'] });
await new Promise((r) => child.once('message', r));
const reply = await ask(
  child,
  latencyRate === undefined
    ? { cmd: 'throughput', url: server.url, n: 100, measureMs: seconds * 1000 }
    : { cmd: 'latency', url: server.url, n: 100, ratePerS: latencyRate, measureMs: seconds * 1000 },
);
child.kill();
await server.close();
const calls = reply.calls ?? 0;
const elapsedMs = reply.elapsedMs ?? 1;
const serverCpuMs = reply.serverCpuMs ?? 0;
const serverSysMs = reply.serverSysMs ?? 0;
const rate = (calls * 1000) / elapsedMs;
const lat = reply.p99 === undefined ? '' : `, latency p50 ${reply.p50?.toFixed(3)} ms, p99 ${reply.p99.toFixed(3)} ms, max ${reply.max?.toFixed(3)} ms`;
console.log(
  `${server.name}: ${rate.toFixed(0)} round trips/s over ${(elapsedMs / 1000).toFixed(1)} s, server CPU ${((serverCpuMs * 1000) / calls).toFixed(1)} µs per round trip ` +
    `(system ${((serverSysMs * 1000) / calls).toFixed(1)} µs) ` +
    `(${((serverCpuMs / elapsedMs) * 100).toFixed(0)}% of a core), load generator ${reply.p99 === undefined ? `${((reply.clientCpu ?? 0) * 100).toFixed(0)}% of a core` : 'paced'}, errors ${reply.errors ?? 0}${lat}`,
);
