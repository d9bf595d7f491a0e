// Transcript lines and console lines: frames that are JSON on one line are embedded as JSON, anything
// else (not JSON, or with line breaks that would split the JSON-lines file) is kept verbatim in `raw`;
// every line parses on its own; events carry their detail; exchanges map to runner timing points.
import { describe, expect, it } from 'vitest';
import { consoleLine, timingPoint, transcriptLine } from '../../src/csms/index.ts';
import { frameLineHeads, putDigits, writeFrameLine } from '../../src/csms/transcript.ts';
import { Transcript } from '../../src/rig/transcript.ts';

const T = 1_763_719_871_234_567;

describe('transcriptLine', () => {
  it('embeds a one-line JSON frame as is', () => {
    const line = transcriptLine({ tUs: T, cp: 'CP1', dir: 'in', text: '[2,"1","Heartbeat",{}]', json: true });
    expect(line).toBe('{"tUs":1763719871234567,"cp":"CP1","dir":"in","frame":[2,"1","Heartbeat",{}]}\n');
    expect(JSON.parse(line)).toEqual({ tUs: T, cp: 'CP1', dir: 'in', frame: [2, '1', 'Heartbeat', {}] });
  });

  it('keeps non-JSON text and multi-line JSON verbatim in raw, still one line', () => {
    for (const text of ['hello', '[2,"1",\n"Heartbeat",{}]', '[2,"1","A",{"x":"\u2028"}]']) {
      const line = transcriptLine({ tUs: T, cp: 'C"P', dir: 'out', text, json: !text.startsWith('hello') });
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toMatch(/[\n\u2028]/);
      expect(JSON.parse(line)).toEqual({ tUs: T, cp: 'C"P', dir: 'out', raw: text });
    }
  });

  it('writes events with their detail', () => {
    expect(JSON.parse(transcriptLine({ tUs: T, cp: 'CP1', event: 'violation', detail: { rule: 'r', message: 'm' } }))).toEqual({ tUs: T, cp: 'CP1', event: 'violation', detail: { rule: 'r', message: 'm' } });
  });
});

describe('consoleLine and timingPoint', () => {
  it('prints time, charger, arrow and frame', () => {
    expect(consoleLine({ tUs: T, cp: 'CP1', dir: 'in', text: '[2,"1","Heartbeat",{}]', json: true })).toMatch(/^\d\d:\d\d:\d\d\.234567 CP1 <- \[2,"1","Heartbeat",\{\}\]$/);
    expect(consoleLine({ tUs: T, cp: 'CP1', dir: 'out', text: 'x'.repeat(50), json: false }, 10)).toMatch(/-> x{10}… \(50 chars\)$/);
    expect(consoleLine({ tUs: T, cp: 'CP1', event: 'connected', detail: { protocol: 'ocpp1.6' } })).toMatch(/CP1 \*\* connected \{"protocol":"ocpp1.6"\}$/);
  });

  it('maps an exchange to the runner timing point', () => {
    expect(timingPoint({ chargePointId: 'CP1', direction: 'csms->cp', message: 'DataTransfer.InstallCertificate', uniqueId: 'a', t: 1, latencyMs: 3.25, outcome: 'result' })).toEqual({
      protocol: 'ocpp',
      message: 'DataTransfer.InstallCertificate',
      direction: 'csms->cp',
      latencyMs: 3.25,
    });
  });
});

describe('writeFrameLine (the CSMS hot path)', () => {
  it('writes the digits of any timestamp as String() does (cached seconds, zero-padded microseconds)', () => {
    const b = Buffer.alloc(40);
    const cases = [0, 7, 999_999, 1_000_000, 1_000_001, 1_763_719_871_000_042, T, T + 1, 1_763_719_872_000_000, 1_763_719_871_999_999, 99_999_999_999_999_999, Number.MAX_SAFE_INTEGER];
    for (const n of [...cases, ...cases.slice().reverse()]) {
      const end = putDigits(b, 3, n);
      expect(b.toString('latin1', 3, end)).toBe(String(n));
    }
  });

  it('writes exactly the line transcriptLine builds, for every kind of frame', () => {
    const texts: [string, boolean][] = [
      ['[2,"1","Heartbeat",{}]', true],
      ['[3,"1",{"data":"a\u2028b"}]', true],
      ['[3,"1",{"data":" "}]', true],
      ['[2,"1",\n"Heartbeat",{}]', true],
      ['[2,"1",\r"Heartbeat",{}]', true],
      ['hello "world"\n', false],
      ['[2,"ü","€",{}]', true],
    ];
    for (const cp of ['CP1', 'C"P\\2']) {
      const t = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
      const heads = frameLineHeads(cp);
      let expected = '';
      for (const [text, json] of texts) {
        for (const dir of ['in', 'out'] as const) {
          writeFrameLine(t, T, heads, dir, text, json, Buffer.from(text));
          expected += transcriptLine({ tUs: T, cp, dir, text, json });
        }
      }
      const got = t.cut().toString('utf8');
      expect(got).toBe(expected);
      for (const line of got.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  it('keeps byte-assembled frame lines and text lines in order, across block boundaries and timestamps of any length', () => {
    const t = new Transcript({ ext: 'jsonl', mime: 'application/jsonl' });
    const heads = frameLineHeads('CP1');
    let expected = '';
    const big = `[3,"9",{"data":"${'x'.repeat(9_000)}"}]`;
    const frames = ['[2,"1","Heartbeat",{}]', big, '[2,"2","€",{}]', big];
    [0, 7, 10, 99, 1_763_719_871_234_567, 3, 123_456].forEach((tUs, i) => {
      const text = frames[i % frames.length] as string;
      writeFrameLine(t, tUs, heads, 'in', text, true, Buffer.from(text));
      expected += transcriptLine({ tUs, cp: 'CP1', dir: 'in', text, json: true });
      const event = { tUs, cp: 'CP1', event: 'connected', detail: `n${i}` };
      t.write(transcriptLine(event));
      expected += transcriptLine(event);
    });
    expect(t.cut().toString('utf8')).toBe(expected);
    expect(t.cut().length).toBe(0);
  });
});
