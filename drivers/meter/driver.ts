// ModbusMeter: the EnergyMeter capability for Modbus energy meters over RTU (RS-485 adapter) or TCP,
// through `modbus-serial`. The register map (drivers/meter/maps.ts) says where each quantity lives
// and how it is encoded; the driver reads contiguous registers in as few transactions as possible,
// one transaction at a time, and retries timeouts and CRC errors a bounded number of times before
// giving up with a LinkError. Exception replies are not retried (except "busy"): they mean the map
// does not fit the meter. A meter that disappears (TCP closed, adapter unplugged) is reconnected
// with backoff. The transcript is JSON lines, one per transaction and link event.
//
// snapshot() carries the link's traffic as counted on the wire since open: request frames and bytes
// written (txFrames, txBytes: MBAP header included over TCP, CRC over RTU), response bytes read and
// response frames received (rxBytes, rxFrames), next to transactions, retries, timeouts (requests
// that got no answer), CRC errors, exceptions and failures (reads given up). The throughput suite
// (bench/throughput/modbus.suite.ts) turns two snapshots into a hil_throughput point.
//
//   meter: { driver: ModbusMeter, bind: { link: meter_link }, options: { registerMap: sdm630 } }
import { EventEmitter } from 'node:events';
import modbusSerial from 'modbus-serial';
import { z } from 'zod';
import { ConfigError } from '../../src/runner/errors.ts';
import { defineDriver, type DriverContext } from '../../src/rig/registry.ts';
import type { Resource } from '../../src/rig/resources.ts';
import {
  LinkError,
  type EnergyMeter,
  type HealthResult,
  type JsonObject,
  type MeterPollOptions,
  type MeterPollSummary,
  type MeterReading,
} from '../capabilities.ts';
import { abortable, errorText, settleWithin, sleep } from '../common/abort.ts';
import { ReconnectLoop } from '../common/backoff.ts';
import { ReconnectOptions } from '../common/options.ts';
import { nowMs } from '../common/time.ts';
import { decodeAscii, decodeRegisters, planBlocks, REGISTER_MAP_NAMES, REGISTER_MAPS, wordsOf, type ReadBlock, type RegisterDef, type RegisterMap } from './maps.ts';

export const ModbusMeterOptions = z
  .object({
    registerMap: z.enum(REGISTER_MAP_NAMES).describe('Register map of the meter: sdm630 (Eastron SDM630/SDM72D-M V2), abb-b23 (ABB B23/B24), em340 (Carlo Gavazzi EM340/EM24/EM330)'),
    timeoutMs: z.number().int().positive().default(1000).describe('How long the meter may take to answer one request'),
    retries: z.number().int().min(0).max(10).default(2).describe('Extra attempts after a timeout or CRC error before a LinkError'),
    retryDelayMs: z.number().int().min(0).default(20).describe('Pause before a retry (lets an RS-485 bus settle)'),
    reconnect: ReconnectOptions.prefault({}).describe('Backoff when the link drops'),
  })
  .strict();
export type ModbusMeterOptions = z.output<typeof ModbusMeterOptions>;

// modbus-serial is CommonJS: module.exports is the client class and also carries it as `.default`
const ModbusRTU = modbusSerial.default;
type Client = InstanceType<typeof ModbusRTU> & Pick<EventEmitter, 'on' | 'removeAllListeners'>;

interface ModbusErrorLike {
  message?: string;
  name?: string;
  errno?: string;
  modbusCode?: number;
}

const EXCEPTIONS: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  6: 'slave device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

const hexAddr = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(4, '0')}`;

export class ModbusMeterDriver implements EnergyMeter {
  private readonly map: RegisterMap;
  private readonly res: Resource<'ModbusTcp'> | Resource<'ModbusRtu'>;
  private client: Client | undefined;
  private up = false;
  private closing = false;
  private readonly loop: ReconnectLoop;
  private queue: Promise<unknown> = Promise.resolve();
  private counters = { transactions: 0, retries: 0, failures: 0, timeouts: 0, crcErrors: 0, exceptions: 0 };
  /** bytes and frames on the wire since open; null when the link's stream could not be reached (see countWire) */
  private wire: { txFrames: number; txBytes: number; rxFrames: number; rxBytes: number } | null = { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0 };
  private lastReading: MeterReading | undefined;
  private downSince = 0;
  lastError = '';

  constructor(private readonly ctx: DriverContext<ModbusMeterOptions>) {
    const res = ctx.resources.link;
    if (!res || (res.type !== 'ModbusTcp' && res.type !== 'ModbusRtu')) throw new ConfigError(`driver ${ctx.name} (ModbusMeter): binding "link" must be a ModbusTcp or ModbusRtu resource`);
    this.res = res as Resource<'ModbusTcp'> | Resource<'ModbusRtu'>;
    this.map = REGISTER_MAPS[ctx.options.registerMap];
    this.loop = new ReconnectLoop(ctx.options.reconnect, () => this.connect(), (m) => {
      ctx.log('warn', m);
      ctx.transcript.writeJson({ t: nowMs(), event: 'reconnect', detail: m });
    });
  }

  /** `tcp 10.0.5.20:502 unit 1` / `rtu /dev/ttyUSB0 9600 8N1 unit 1` */
  get linkText(): string {
    const r = this.res;
    if (r.type === 'ModbusTcp') return `tcp ${r.host}:${r.port} unit ${r.unitId}`;
    return `rtu ${r.path} ${r.baud} 8${r.parity[0]?.toUpperCase()}${r.stopBits} unit ${r.unitId}`;
  }

  async open(signal: AbortSignal): Promise<void> {
    this.closing = false;
    await abortable(this.connect(), signal);
  }

  private async connect(): Promise<void> {
    const client = new ModbusRTU() as Client;
    client.on('error', (e: unknown) => {
      this.lastError = errorText(e);
    });
    client.on('close', () => this.lost(client, 'connection closed'));
    const r = this.res;
    try {
      if (r.type === 'ModbusTcp') await client.connectTCP(r.host, { port: r.port });
      else await client.connectRTUBuffered(r.path, { baudRate: r.baud, parity: r.parity, stopBits: r.stopBits, dataBits: 8 });
    } catch (e) {
      client.removeAllListeners('close');
      client.close(() => {});
      throw new LinkError(this.ctx.name, `cannot connect to the meter (${this.linkText}): ${errorText(e)}`, { cause: e });
    }
    if (this.closing) {
      client.removeAllListeners('close');
      client.close(() => {});
      throw new LinkError(this.ctx.name, 'closed while connecting');
    }
    client.setID(r.unitId);
    client.setTimeout(this.ctx.options.timeoutMs);
    if (!this.countWire(client)) {
      if (this.wire) this.ctx.log('warn', 'modbus-serial does not expose its port\'s stream: no byte and frame counters for this link');
      this.wire = null;
    }
    this.client = client;
    this.up = true;
    this.ctx.transcript.writeJson({ t: nowMs(), event: 'open', link: this.linkText, registerMap: this.map.name });
  }

  /**
   * Counts the traffic on the byte stream under modbus-serial's port — the net.Socket (TCP) or the
   * SerialPort (RTU) — as it passes: every write of a request ADU, every chunk read, and every
   * complete response frame the port hands on. modbus-serial 8 keeps them as `client._port` and
   * `_port._client`; when a version does not, this returns false and the counters are left out of
   * snapshot() rather than guessed.
   */
  private countWire(client: Client): boolean {
    type Stream = { write: (chunk: unknown, ...rest: unknown[]) => boolean; on: (ev: 'data', fn: (d: Buffer) => void) => unknown };
    const port = (client as unknown as { _port?: { on?: unknown; _client?: Partial<Stream> } })._port;
    const stream = port?._client;
    if (!port || typeof port.on !== 'function' || !stream || typeof stream.write !== 'function' || typeof stream.on !== 'function') return false;
    const s = stream as Stream;
    const write = s.write;
    s.write = (chunk: unknown, ...rest: unknown[]): boolean => {
      const n = Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? chunk.length : typeof chunk === 'string' ? Buffer.byteLength(chunk) : 0;
      if (this.wire && n > 0) {
        this.wire.txFrames += 1;
        this.wire.txBytes += n;
      }
      return write.call(s, chunk, ...rest);
    };
    s.on('data', (d: Buffer) => {
      if (this.wire) this.wire.rxBytes += d.length;
    });
    (port as unknown as EventEmitter).on('data', () => {
      if (this.wire) this.wire.rxFrames += 1;
    });
    return true;
  }

  private lost(client: Client, why: string): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.up = false;
    this.downSince = Date.now();
    this.lastError = why;
    this.ctx.transcript.writeJson({ t: nowMs(), event: 'down', detail: why });
    if (!this.closing) this.loop.start(why);
  }

  /** Runs transactions strictly one after another (RTU is half-duplex; TCP meters often are too). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => {});
    return p;
  }

  private downError(): LinkError {
    const since = this.downSince ? ` (down for ${Date.now() - this.downSince} ms, reconnecting: ${this.loop.lastError || this.lastError})` : '';
    return new LinkError(this.ctx.name, `meter link ${this.linkText} is not connected${since}`);
  }

  private readBlock(b: ReadBlock, signal: AbortSignal): Promise<number[]> {
    return abortable(
      this.serial(async (): Promise<number[]> => {
        const o = this.ctx.options;
        const what = `FC${String(b.fc).padStart(2, '0')} ${hexAddr(b.address)}×${b.count}`;
        let last = '';
        for (let attempt = 1; attempt <= o.retries + 1; attempt++) {
          if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
          const client = this.client;
          if (!client || !this.up) throw this.downError();
          if (attempt > 1) this.counters.retries += 1;
          this.counters.transactions += 1;
          const t = nowMs();
          try {
            const res = b.fc === 3 ? await client.readHoldingRegisters(b.address, b.count) : await client.readInputRegisters(b.address, b.count);
            const words = Array.from(res.data);
            this.ctx.transcript.writeJson({ t, op: 'read', fc: b.fc, unit: this.res.unitId, address: b.address, count: b.count, attempt, ms: round(nowMs() - t), words });
            if (words.length !== b.count) throw new Error(`answer has ${words.length} registers, asked for ${b.count}`);
            return words;
          } catch (e) {
            const err = e as ModbusErrorLike;
            last = err.message ?? errorText(e);
            this.ctx.transcript.writeJson({ t, op: 'read', fc: b.fc, unit: this.res.unitId, address: b.address, count: b.count, attempt, ms: round(nowMs() - t), error: last });
            if (typeof err.modbusCode === 'number') {
              this.counters.exceptions += 1;
              const code = err.modbusCode;
              if (code === 6 && attempt <= o.retries) {
                await sleep(o.retryDelayMs * 5);
                continue;
              }
              this.counters.failures += 1;
              const hint = code === 2 || code === 1 ? ` — is registerMap "${this.map.name}" (${this.map.description}) right for this meter?` : '';
              throw new LinkError(this.ctx.name, `meter (${this.linkText}) answered ${what} with exception ${code} (${EXCEPTIONS[code] ?? 'unknown'})${hint}`);
            }
            const timeout = err.errno === 'ETIMEDOUT' || err.name === 'TransactionTimedOutError';
            const crc = /CRC error/i.test(last);
            if (timeout) this.counters.timeouts += 1;
            if (crc) this.counters.crcErrors += 1;
            if (!timeout && !crc && !/Data length error|answer has/.test(last)) {
              // the port itself failed: treat as link loss
              this.counters.failures += 1;
              if (this.client === client && !client.isOpen) this.lost(client, last);
              throw new LinkError(this.ctx.name, `meter link ${this.linkText} failed during ${what}: ${last}`, { cause: e });
            }
            if (attempt <= o.retries) await sleep(o.retryDelayMs);
          }
        }
        this.counters.failures += 1;
        this.lastError = last;
        throw new LinkError(this.ctx.name, `meter (${this.linkText}) gave no valid answer to ${what} after ${o.retries + 1} attempt(s): ${last === 'Timed out' ? `timed out after ${o.timeoutMs} ms` : last}`);
      }),
      signal,
    );
  }

  /** Reads the given registers with as few transactions as possible. */
  private async readDefs(defs: readonly RegisterDef[], signal: AbortSignal): Promise<number[][]> {
    if (!this.up && !this.loop.active && !this.client) throw new LinkError(this.ctx.name, 'the meter driver is not open');
    const blocks = planBlocks(defs);
    const data = new Map<ReadBlock, number[]>();
    for (const b of blocks) data.set(b, await this.readBlock(b, signal));
    return defs.map((d) => {
      const b = blocks.find((x) => x.fc === d.fc && d.address >= x.address && d.address + wordsOf(d) <= x.address + x.count) as ReadBlock;
      const off = d.address - b.address;
      return (data.get(b) as number[]).slice(off, off + wordsOf(d));
    });
  }

  private valid(name: string, v: number): number {
    if (Number.isNaN(v)) throw new LinkError(this.ctx.name, `meter (${this.linkText}) reports ${name} as not available`);
    return v;
  }

  async read(signal: AbortSignal): Promise<MeterReading> {
    const m = this.map;
    const defs = [...m.voltageV, ...m.currentA, m.powerW, m.importedEnergyWh, m.frequencyHz];
    const t = nowMs();
    const words = await this.readDefs(defs, signal);
    const v = defs.map((d, i) => decodeRegisters(d, words[i] as number[]));
    const reading: MeterReading = {
      voltageV: v.slice(0, 3),
      currentA: v.slice(3, 6),
      powerW: this.valid('active power', v[6] as number),
      importedEnergyWh: this.valid('imported energy', v[7] as number),
      t,
    };
    const f = v[8] as number;
    if (!Number.isNaN(f)) reading.frequencyHz = f;
    this.lastReading = reading;
    return reading;
  }

  async readEnergyWh(signal: AbortSignal): Promise<number> {
    const [w] = await this.readDefs([this.map.importedEnergyWh], signal);
    return this.valid('imported energy', decodeRegisters(this.map.importedEnergyWh, w as number[]));
  }

  async readPowerW(signal: AbortSignal): Promise<number> {
    const [w] = await this.readDefs([this.map.powerW], signal);
    return this.valid('active power', decodeRegisters(this.map.powerW, w as number[]));
  }

  async serialNumber(signal: AbortSignal): Promise<string> {
    const s = this.map.serial;
    const [w] = await this.readDefs([s], signal);
    const words = w as number[];
    if (s.format === 'ascii') return decodeAscii(words);
    const n = decodeRegisters(s, words);
    if (Number.isNaN(n)) throw new LinkError(this.ctx.name, `meter (${this.linkText}) reports its serial number as not available`);
    return String(n);
  }

  async poll(opts: MeterPollOptions): Promise<MeterPollSummary> {
    if (!(opts.intervalMs > 0)) throw new RangeError(`poll: intervalMs must be > 0, got ${String(opts.intervalMs)}`);
    const maxFailures = opts.maxFailures ?? 10;
    const summary: MeterPollSummary = { readings: 0, failures: 0, overruns: 0 };
    let consecutive = 0;
    let next = performance.now();
    while (!opts.signal.aborted) {
      try {
        const r = await this.read(opts.signal);
        summary.readings += 1;
        consecutive = 0;
        opts.onReading(r);
      } catch (e) {
        if (opts.signal.aborted) break;
        summary.failures += 1;
        consecutive += 1;
        opts.onError?.(e as Error);
        if (consecutive >= maxFailures) throw e;
      }
      next += opts.intervalMs;
      const now = performance.now();
      if (next < now) {
        const skipped = Math.ceil((now - next) / opts.intervalMs);
        summary.overruns += skipped;
        next += skipped * opts.intervalMs;
      }
      await sleep(next - performance.now(), opts.signal).catch(() => {});
    }
    return summary;
  }

  async health(signal: AbortSignal): Promise<HealthResult> {
    const reconnects = this.loop.reconnects;
    if (!this.up) return { ok: false, detail: `${this.map.description} ${this.linkText}: ${this.downError().message}`, reconnects };
    try {
      const wh = await this.readEnergyWh(signal);
      return { ok: true, detail: `${this.map.description} ${this.linkText}: imported ${wh} Wh (${this.counters.transactions} transactions, ${this.counters.retries} retries)`, reconnects };
    } catch (e) {
      return { ok: false, detail: `${this.map.description} ${this.linkText}: ${errorText(e)}`, reconnects };
    }
  }

  snapshot(): JsonObject {
    return {
      registerMap: this.map.name,
      link: this.linkText,
      up: this.up,
      reconnects: this.loop.reconnects,
      ...this.counters,
      ...(this.wire ?? {}),
      lastReading: this.lastReading ? JSON.parse(JSON.stringify(this.lastReading)) : null,
      lastError: this.lastError || null,
    };
  }

  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    this.loop.stop();
    const client = this.client;
    this.client = undefined;
    this.up = false;
    if (!client) return;
    client.removeAllListeners('close');
    const r = await settleWithin(new Promise<void>((resolve) => client.close(() => resolve())), deadlineMs);
    if (r !== undefined) client.destroy(() => {});
    this.ctx.transcript.writeJson({ t: nowMs(), event: 'closed' });
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export const ModbusMeter = defineDriver({
  name: 'ModbusMeter',
  description: 'Energy meter over Modbus RTU or TCP (Eastron SDM630, ABB B23, Carlo Gavazzi EM340 register maps).',
  provides: ['EnergyMeter'],
  bindings: { link: ['ModbusTcp', 'ModbusRtu'] },
  options: ModbusMeterOptions,
  transcript: { ext: 'jsonl', mime: 'application/jsonl' },
  create: (ctx) => new ModbusMeterDriver(ctx),
});
