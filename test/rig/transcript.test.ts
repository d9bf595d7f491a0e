// The rig's Transcript (src/rig/transcript.ts) as the mock CSMS uses it at high rates: text gathered
// and copied into reused blocks, cut into segments. Every segment must hold exactly the bytes written
// since the previous cut, in order, whatever mix of text, bytes and sizes was written.
import { describe, expect, it } from 'vitest';
import { Transcript } from '../../src/rig/transcript.ts';

const fmt = { ext: 'jsonl', mime: 'application/jsonl' };

describe('Transcript', () => {
  it('keeps text and bytes in the order written, and each cut starts a new segment', () => {
    const t = new Transcript(fmt);
    expect(t.cut().length).toBe(0);
    t.write('a');
    t.write(Uint8Array.from([0x62, 0x63]));
    t.write('d\n');
    t.writeJson({ e: 'ü' });
    expect(t.cut().toString('utf8')).toBe('abcd\n{"e":"ü"}\n');
    expect(t.cut().length).toBe(0);
    t.write('x');
    expect(t.cut().toString()).toBe('x');
    expect(t.totalBytes).toBe(Buffer.byteLength('abcd\n{"e":"ü"}\n') + 1);
  });

  it('writes multi-byte UTF-8 exactly, also when a write is larger than any block', () => {
    const t = new Transcript(fmt);
    const big = '€𝄞ä'.repeat(200_000); // 3 + 4 + 2 bytes per repeat, 1.8 MB
    t.write('<');
    t.write(big);
    t.write('>');
    const seg = t.cut();
    expect(seg.length).toBe(Buffer.byteLength(big) + 2);
    expect(seg.toString('utf8')).toBe(`<${big}>`);
  });

  it('segments that span many reused blocks stay intact after later writes', () => {
    const t = new Transcript(fmt);
    const line = (seg: number, i: number): string => `{"seg":${seg},"i":${i},"pad":"${'x'.repeat(i % 97)}"}\n`;
    const segments: Buffer[] = [];
    const expected: string[] = [];
    for (let seg = 0; seg < 4; seg++) {
      let text = '';
      for (let i = 0; i < 20_000; i++) {
        const l = line(seg, i);
        text += l;
        if (i % 1000 === 0) t.write(Buffer.from(l));
        else t.write(l);
      }
      segments.push(t.cut());
      expected.push(text);
    }
    // the blocks of segment 0 were reused for segments 1-3: its copy must not have changed
    segments.forEach((s, i) => expect(s.toString('utf8')).toBe(expected[i]));
    expect(segments[0]?.length).toBeGreaterThan(1_000_000);
  });

  it('ignores empty writes', () => {
    const t = new Transcript(fmt);
    t.write('');
    t.write(new Uint8Array(0));
    expect(t.cut().length).toBe(0);
    expect(t.totalBytes).toBe(0);
  });
});
