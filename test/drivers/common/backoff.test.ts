// The reconnect loop's backoff (delays double up to the maximum, reset after a success, stop ends
// it) and the serial hex-log format (round trip, line-numbered errors).
import { describe, expect, it } from 'vitest';
import { Backoff, ReconnectLoop } from '../../../drivers/common/backoff.ts';
import { hexLine, hexNote, parseHexLog } from '../../../drivers/common/hexlog.ts';

describe('Backoff and ReconnectLoop', () => {
  it('doubles the delay up to the maximum and starts over after reset', () => {
    const b = new Backoff({ minMs: 50, maxMs: 300 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([50, 100, 200, 300, 300]);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('retries with growing gaps until connect succeeds, then counts one reconnect', async () => {
    const attempts: number[] = [];
    let fails = 3;
    const t0 = performance.now();
    const loop = new ReconnectLoop({ minMs: 20, maxMs: 1000 }, async () => {
      attempts.push(performance.now() - t0);
      if (fails-- > 0) throw new Error('still down');
    });
    loop.start('test');
    await loop.whenUp();
    expect(attempts).toHaveLength(4);
    const gaps = attempts.map((t, i) => t - (i ? (attempts[i - 1] as number) : 0));
    // 20, 40, 80, 160 ms (timers fire late, never early)
    [20, 40, 80, 160].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 2));
    expect(gaps[3]).toBeGreaterThan(gaps[1] as number);
    expect(loop.reconnects).toBe(1);
    expect(loop.active).toBe(false);
    expect(loop.lastError).toBe('still down');
  });

  it('stops retrying when stopped and rejects waiters', async () => {
    let calls = 0;
    const loop = new ReconnectLoop({ minMs: 10, maxMs: 10 }, async () => {
      calls += 1;
      throw new Error('down');
    });
    loop.start('test');
    const waiting = loop.whenUp();
    await new Promise((r) => setTimeout(r, 35));
    loop.stop();
    await expect(waiting).rejects.toThrow('driver closed');
    const n = calls;
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toBe(n);
    loop.start('again'); // no-op after stop
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(n);
  });
});

describe('hex log', () => {
  it('round-trips bytes, directions and notes', () => {
    const text = hexNote(1_700_000_000_000_001, 'opened /dev/x') + hexLine(1_700_000_000_123_456, 'TX', Buffer.from('status\r\n')) + hexLine(1_700_000_000_200_000, 'RX', Uint8Array.from([0, 0xff, 0x41]));
    expect(text.split('\n')[1]).toBe('1700000000.123456 TX 73 74 61 74 75 73 0d 0a  |status..|');
    const log = parseHexLog(text);
    expect(log.map((e) => [e.tUs, e.dir, Buffer.from(e.bytes).toString('hex'), e.note])).toEqual([
      [1_700_000_000_000_001, 'note', '', 'opened /dev/x'],
      [1_700_000_000_123_456, 'TX', '7374617475730d0a', undefined],
      [1_700_000_000_200_000, 'RX', '00ff41', undefined],
    ]);
    expect(() => parseHexLog(`${text}garbage\n`)).toThrow('hex log line 4: cannot parse "garbage"');
  });
});
