// The mock CSMS's exchange log (src/csms/exchanges.ts): columns in fixed-size chunks, drained as
// Exchange objects oldest first; bounded (the oldest chunk goes when full, counted as dropped).
import { describe, expect, it } from 'vitest';
import { EXCHANGE_CHUNK, ExchangeLog } from '../../src/csms/exchanges.ts';

function fill(log: ExchangeLog, from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    const err = i % 5 === 0 ? 'GenericError' : undefined;
    log.push(`CP${i % 3}`, i % 2 ? 'csms->cp' : 'cp->csms', i % 2 ? 'Reset' : 'DataTransfer.Authorize', String(i), 1e12 + i, i / 100, err ? 'error' : i % 7 === 0 ? 'timeout' : 'result', err);
  }
}

describe('ExchangeLog', () => {
  it('gives back every exchange, oldest first, across chunks, and is empty after a drain', () => {
    const log = new ExchangeLog(100_000);
    const n = EXCHANGE_CHUNK * 2 + 17;
    fill(log, 0, n);
    expect(log.length).toBe(n);
    const all = log.drain();
    expect(all).toHaveLength(n);
    expect(all.map((x) => Number(x.uniqueId))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(all[5]).toEqual({ chargePointId: 'CP2', direction: 'csms->cp', message: 'Reset', uniqueId: '5', t: 1e12 + 5, latencyMs: 0.05, outcome: 'error', errorCode: 'GenericError' });
    expect(all[14]).toEqual({ chargePointId: 'CP2', direction: 'cp->csms', message: 'DataTransfer.Authorize', uniqueId: '14', t: 1e12 + 14, latencyMs: 0.14, outcome: 'timeout' });
    expect(log.length).toBe(0);
    expect(log.drain()).toEqual([]);
  });

  it('reuses chunks after a drain without leaking old entries or error codes', () => {
    const log = new ExchangeLog(100_000);
    fill(log, 0, EXCHANGE_CHUNK + 3);
    log.drain();
    fill(log, 1, 2); // 1 and 2: no error codes (the old chunk had one at index 0 and 5)
    const again = log.list();
    expect(again.map((x) => x.uniqueId)).toEqual(['1', '2']);
    expect(again.every((x) => x.errorCode === undefined)).toBe(true);
    expect(log.list()).toHaveLength(2); // list() keeps them
  });

  it('keeps at most max: the oldest go first and are counted as dropped', () => {
    for (const max of [0, 100, EXCHANGE_CHUNK, EXCHANGE_CHUNK + 5]) {
      const log = new ExchangeLog(max);
      const n = EXCHANGE_CHUNK * 3 + 11;
      fill(log, 0, n);
      expect(log.length).toBe(max);
      expect(log.dropped).toBe(n - max);
      expect(log.drain().map((x) => Number(x.uniqueId))).toEqual(Array.from({ length: max }, (_, i) => n - max + i));
    }
  });
});
