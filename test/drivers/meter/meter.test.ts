// ModbusMeter end to end against the Modbus slave peer: over TCP on 127.0.0.1 and over RTU on a
// socat pty — values of all three register maps, the exact request bytes on the wire, the JSON
// lines transcript, CRC errors and timeouts (bounded retries, then LinkError), exception replies,
// "not available" values, the poll loop, the link dropping and coming back, and the wire counters in
// snapshot() against the bytes the slave actually received and sent.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError, type MeterReading } from '../../../drivers/capabilities.ts';
import { ModbusMeter, ModbusMeterDriver } from '../../../drivers/meter/driver.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { closedPort } from '../../helpers/influxd.ts';
import { meterImage, type MeterKind, type MeterValues } from '../../../rigs/virtual/meter.ts';
import { ModbusSlave } from '../../../rigs/virtual/modbus-slave.ts';
import { ptyPair, type PtyPair } from '../../../rigs/virtual/pty.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const VALUES: MeterValues = { voltageV: [230.1, 229.5, 231.2], currentA: [16.25, 15.5, 16], powerW: 11040.5, energyWh: 1234500, frequencyHz: 50.02, serial: '12345678' };

function meter(resource: Record<string, unknown>, options: Record<string, unknown>) {
  const transcript = new Transcript(ModbusMeter.transcript);
  const d = ModbusMeter.create({
    name: 'meter',
    options: ModbusMeter.options.parse({ timeoutMs: 200, retries: 2, retryDelayMs: 5, reconnect: { minMs: 50, maxMs: 200 }, ...options }),
    resources: { link: ResourceSchema.parse(resource) },
    transcript,
    rigDir: process.cwd(),
    log: () => {},
  }) as ModbusMeterDriver;
  cleanup.push(() => d.close(500));
  return { d, transcript };
}

async function tcpMeter(kind: MeterKind, values = VALUES, options: Record<string, unknown> = {}) {
  const slave = new ModbusSlave(meterImage(kind, values), 7);
  await slave.serveTcp();
  cleanup.push(() => slave.stop());
  return { slave, ...meter({ type: 'ModbusTcp', host: '127.0.0.1', port: slave.tcpPort, unitId: 7 }, { registerMap: kind, ...options }) };
}

const bytes = (list: readonly Buffer[]): number => list.reduce((n, b) => n + b.length, 0);
const wireOf = (snap: Record<string, unknown>) => ({ txFrames: snap.txFrames, txBytes: snap.txBytes, rxFrames: snap.rxFrames, rxBytes: snap.rxBytes });

const transcriptLines = (t: Transcript): Record<string, unknown>[] =>
  t
    .cut()
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('ModbusMeter over TCP', () => {
  it.each(['sdm630', 'abb-b23', 'em340'] as const)('reads every quantity and the serial number of %s', async (kind) => {
    const { d, slave } = await tcpMeter(kind, kind === 'em340' ? { ...VALUES, serial: 'KA12345678' } : VALUES);
    await d.open(signal());
    const r = await d.read(signal());
    expect(r.voltageV.map((v) => Number(v.toFixed(2)))).toEqual([230.1, 229.5, 231.2]);
    expect(r.currentA.map((v) => Number(v.toFixed(3)))).toEqual([16.25, 15.5, 16]);
    expect(r.powerW).toBeCloseTo(11040.5, kind === 'sdm630' ? 1 : 6);
    expect(r.importedEnergyWh).toBeCloseTo(1234500, kind === 'sdm630' ? -1 : 6);
    expect(r.frequencyHz).toBeCloseTo(50.02, kind === 'em340' ? 1 : 4);
    expect(Math.abs(r.t - Date.now())).toBeLessThan(2000);
    expect(await d.serialNumber(signal())).toBe(kind === 'em340' ? 'KA12345678' : '12345678');
    // every request carries unit 7 in the MBAP header
    expect(slave.requests.every((a) => a[6] === 7)).toBe(true);
    expect(slave.requests.length).toBe({ sdm630: 3, 'abb-b23': 5, em340: 4 }[kind] + 1);
  });

  it('counts the frames and bytes it put on and took off the wire', async () => {
    const { d, slave } = await tcpMeter('sdm630');
    expect(wireOf(d.snapshot())).toEqual({ txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0 });
    await d.open(signal());
    await d.read(signal());
    await d.serialNumber(signal());
    const after = d.snapshot();
    // what the slave received and sent, ADU by ADU (MBAP header included)
    expect(slave.requests).toHaveLength(4);
    expect(wireOf(after)).toEqual({ txFrames: 4, txBytes: bytes(slave.requests), rxFrames: 4, rxBytes: bytes(slave.responses) });
    expect(after.txBytes).toBe(4 * 12); // a read request is MBAP 7 + PDU 5
    expect(after.transactions).toBe(4);
  });

  it('writes a JSON-lines transcript of every transaction', async () => {
    const { d, transcript } = await tcpMeter('sdm630');
    await d.open(signal());
    await d.readEnergyWh(signal());
    const lines = transcriptLines(transcript);
    expect(lines[0]).toMatchObject({ event: 'open', registerMap: 'sdm630' });
    expect(lines[0]?.link).toMatch(/^tcp 127\.0\.0\.1:\d+ unit 7$/);
    expect(lines[1]).toMatchObject({ op: 'read', fc: 4, unit: 7, address: 0x48, count: 2, attempt: 1 });
    expect((lines[1]?.words as number[]).length).toBe(2);
    expect(typeof lines[1]?.t).toBe('number');
  });

  it('reconnects after the meter’s TCP server restarts', async () => {
    const { d, slave } = await tcpMeter('em340');
    await d.open(signal());
    const port = slave.tcpPort;
    await slave.stop();
    await new Promise((r) => setTimeout(r, 50));
    const e = await d.read(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((await d.health(signal())).ok).toBe(false);
    await slave.serveTcp(port);
    const t0 = Date.now();
    while (!(d.snapshot().up as boolean) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(await d.readEnergyWh(signal())).toBe(1234500);
    expect(d.snapshot()).toMatchObject({ up: true, reconnects: 1 });
    expect((await d.health(signal())).reconnects).toBe(1);
  });

  it('refuses to open when nothing listens, naming the link', async () => {
    const port = await closedPort();
    const { d } = meter({ type: 'ModbusTcp', host: '127.0.0.1', port }, { registerMap: 'sdm630' });
    await expect(d.open(signal())).rejects.toThrow(new RegExp(`^meter: cannot connect to the meter \\(tcp 127.0.0.1:${port} unit 1\\): .*ECONNREFUSED`));
  });

  it('polls at the interval until aborted, feeding every reading to the callback', async () => {
    const { d } = await tcpMeter('sdm630');
    await d.open(signal());
    const got: MeterReading[] = [];
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 330);
    const summary = await d.poll({ intervalMs: 100, signal: stop.signal, onReading: (r) => got.push(r) });
    expect(summary.readings).toBeGreaterThanOrEqual(3);
    expect(summary.readings).toBeLessThanOrEqual(5);
    expect(summary.failures).toBe(0);
    expect(got).toHaveLength(summary.readings);
    const gaps = got.slice(1).map((r, i) => r.t - (got[i] as MeterReading).t);
    for (const g of gaps) expect(g).toBeGreaterThan(60);
  });

  it('gives up polling with the LinkError after maxFailures consecutive failures', async () => {
    const { d, slave } = await tcpMeter('sdm630', VALUES, { retries: 0, timeoutMs: 50 });
    await d.open(signal());
    for (let i = 0; i < 10; i++) slave.faults.push('no-answer');
    const errors: Error[] = [];
    await expect(d.poll({ intervalMs: 10, signal: signal(), onReading: () => {}, onError: (e) => errors.push(e), maxFailures: 3 })).rejects.toThrow(LinkError);
    expect(errors).toHaveLength(3);
  });
});

describe('ModbusMeter over RTU on a pty', () => {
  let pty: PtyPair;
  beforeAll(async () => {
    pty = await ptyPair();
  });
  afterAll(async () => {
    await pty.close();
  });

  async function rtuMeter(kind: MeterKind, options: Record<string, unknown> = {}, unavailable: string[] = []) {
    if (!pty.running) await pty.start();
    const slave = new ModbusSlave(meterImage(kind, VALUES, unavailable), 1);
    await slave.serveRtu(pty.b);
    cleanup.push(() => slave.stop());
    return { slave, ...meter({ type: 'ModbusRtu', path: pty.a, baud: 19200, parity: 'even' }, { registerMap: kind, ...options }) };
  }

  it('puts the reference request frames on the wire', async () => {
    const { d, slave } = await rtuMeter('sdm630');
    await d.open(signal());
    expect(await d.readEnergyWh(signal())).toBeCloseTo(1234500, -1);
    expect(await d.serialNumber(signal())).toBe('12345678');
    expect(slave.requests.map((b) => b.toString('hex').toUpperCase())).toEqual(['010400480002F1DD', '0103FC000002F45B']);
    await d.close(300);
    await slave.stop();
    const b23 = await rtuMeter('abb-b23');
    await b23.d.open(signal());
    await b23.d.readEnergyWh(signal());
    expect(b23.slave.requests[0]?.toString('hex').toUpperCase()).toBe('0103500000045509');
  });

  it('retries a CRC error and a lost answer, then succeeds', async () => {
    const { d, slave, transcript } = await rtuMeter('em340');
    await d.open(signal());
    slave.faults.push('corrupt-crc', 'no-answer');
    expect(await d.readEnergyWh(signal())).toBe(1234500);
    expect(d.snapshot()).toMatchObject({ retries: 2, crcErrors: 1, timeouts: 1, failures: 0 });
    // three requests on the wire, two answers (one with a bad CRC) — as the slave saw them
    expect(slave.requests).toHaveLength(3);
    expect(slave.responses).toHaveLength(2);
    expect(wireOf(d.snapshot())).toEqual({ txFrames: 3, txBytes: bytes(slave.requests), rxFrames: 2, rxBytes: bytes(slave.responses) });
    const reads = transcriptLines(transcript).filter((l) => l.op === 'read');
    expect(reads.map((l) => [l.attempt, l.error ?? 'ok'])).toEqual([
      [1, 'CRC error'],
      [2, 'Timed out'],
      [3, 'ok'],
    ]);
  });

  it('turns persistent CRC errors into a LinkError after the bounded retries', async () => {
    const { d, slave } = await rtuMeter('sdm630', { retries: 1 });
    await d.open(signal());
    slave.faults.push('corrupt-crc', 'corrupt-crc');
    const e = await d.readPowerW(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toBe(`meter: meter (rtu ${pty.a} 19200 8E1 unit 1) gave no valid answer to FC04 0x0034×2 after 2 attempt(s): CRC error`);
    // the next read works again
    expect(await d.readPowerW(signal())).toBeCloseTo(11040.5, 1);
  });

  it('reports a timeout with the configured limit', async () => {
    const { d, slave } = await rtuMeter('sdm630', { retries: 0, timeoutMs: 100 });
    await d.open(signal());
    slave.faults.push('no-answer');
    await expect(d.readPowerW(signal())).rejects.toThrow('gave no valid answer to FC04 0x0034×2 after 1 attempt(s): timed out after 100 ms');
    // the request went out (8 bytes: unit, PDU 5, CRC 2), nothing came back: a timeout and a failed read
    expect(d.snapshot()).toMatchObject({ txFrames: 1, txBytes: 8, rxFrames: 0, rxBytes: 0, timeouts: 1, failures: 1 });
  });

  it('does not retry exception replies and hints at a wrong register map', async () => {
    const { d, slave } = await rtuMeter('abb-b23');
    await d.open(signal());
    slave.faults.push({ exception: 2 });
    await expect(d.readEnergyWh(signal())).rejects.toThrow(
      `meter: meter (rtu ${pty.a} 19200 8E1 unit 1) answered FC03 0x5000×4 with exception 2 (illegal data address) — is registerMap "abb-b23" (ABB B23 / B24) right for this meter?`,
    );
    expect(slave.requests).toHaveLength(1);
    slave.faults.push({ exception: 6 }, { exception: 6 });
    expect(await d.readEnergyWh(signal())).toBe(1234500);
  });

  it('maps ABB "not available" to NaN per phase and refuses it for energy', async () => {
    const { d, slave } = await rtuMeter('abb-b23', {}, ['voltageV1', 'voltageV2', 'energyWh']);
    await d.open(signal());
    const e = await d.read(signal()).catch((x: unknown) => x);
    expect((e as Error).message).toBe(`meter: meter (rtu ${pty.a} 19200 8E1 unit 1) reports imported energy as not available`);
    await d.close(300);
    await slave.stop();
    const ok = await rtuMeter('abb-b23', {}, ['voltageV1', 'voltageV2']);
    await ok.d.open(signal());
    const r = await ok.d.read(signal());
    expect(r.voltageV[0]).toBeCloseTo(230.1, 6);
    expect(r.voltageV.slice(1)).toEqual([Number.NaN, Number.NaN]);
  });

  it('reports the adapter disappearing as LinkError and reconnects once it is back', async () => {
    const { d, slave } = await rtuMeter('sdm630');
    await d.open(signal());
    await slave.stop();
    await pty.stop();
    const t0 = Date.now();
    while ((d.snapshot().up as boolean) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    const e = await d.readEnergyWh(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/is not connected \(down for \d+ ms, reconnecting/);
    await pty.start();
    const again = new ModbusSlave(meterImage('sdm630', VALUES), 1);
    await again.serveRtu(pty.b);
    cleanup.push(() => again.stop());
    const t1 = Date.now();
    while (!(d.snapshot().up as boolean) && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(await d.readEnergyWh(signal())).toBeCloseTo(1234500, -1);
    expect(d.snapshot().reconnects).toBe(1);
  });
});
