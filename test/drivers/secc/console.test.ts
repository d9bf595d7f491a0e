// SeccConsole end to end on a socat pty against a simulated SECC console: lines with timestamps,
// echo and prompt handling, expect (regex, literal, prompt without line end) and its timeout
// message, named events from the options, ANSI colours, UTF-8 split across reads, the hex
// transcript, and the console disappearing and coming back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError, ProtocolViolation } from '../../../drivers/capabilities.ts';
import { parseHexLog } from '../../../drivers/common/hexlog.ts';
import { SeccConsole, SeccConsoleDriver } from '../../../drivers/secc/console.ts';
import { ResourceSchema } from '../../../src/rig/resources.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { ptyPair, type PtyPair } from '../../../rigs/virtual/pty.ts';
import { SerialConsole as SeccConsolePeer } from '../../../rigs/virtual/console.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);
let pty: PtyPair;
let peer: SeccConsolePeer;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  pty = await ptyPair();
});
afterAll(async () => {
  await pty.close();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function rig(options: Record<string, unknown> = {}) {
  if (!pty.running) await pty.start();
  peer = new SeccConsolePeer(pty.b);
  await peer.start();
  cleanup.push(() => peer.stop());
  const transcript = new Transcript(SeccConsole.transcript);
  const d = SeccConsole.create({
    name: 'secc',
    options: SeccConsole.options.parse({ reconnect: { minMs: 50, maxMs: 200 }, ...options }),
    resources: { console: ResourceSchema.parse({ type: 'SerialPort', path: pty.a, baud: 115200 }) },
    transcript,
    rigDir: process.cwd(),
    log: () => {},
  }) as SeccConsoleDriver;
  cleanup.push(() => d.close(500));
  await d.open(signal());
  return { d, transcript };
}

describe('SeccConsole', () => {
  it('sends a command and expects its answer, then the prompt that has no line end', async () => {
    const { d } = await rig();
    const t0 = Date.now();
    await d.send('status', signal());
    const m = await d.expect(/^cp: ([A-F])(\d)$/, { timeoutMs: 2000, signal: signal() });
    expect(m.line).toBe('cp: B2');
    expect(m.groups).toEqual(['B', '2']);
    expect(m.t).toBeGreaterThanOrEqual(t0 - 5);
    const p = await d.expect('secc> ', { timeoutMs: 2000, signal: signal() });
    expect(p.line).toBe('secc> ');
    // a partial line that is still arriving does not match before the console goes quiet
    peer.write('temp: 2');
    setTimeout(() => peer.write('5 C\r\n'), 20);
    expect((await d.expect(/^temp: \d+/, { timeoutMs: 2000, signal: signal() })).line).toBe('temp: 25 C');
    expect(peer.received).toEqual(['status']);
    // the lines before the match (the echo) and the matched ones are consumed
    await d.send('version', signal());
    expect((await d.expect('fw ', { timeoutMs: 2000, signal: signal() })).line).toBe('fw 4.2.1 (build 77)');
    const lines = d.lines().map((l) => l.line);
    expect(lines).toEqual(['status', 'cp: B2', 'slac: UNMATCHED', 'secc> temp: 25 C', 'version', 'fw 4.2.1 (build 77)']);
    const times = d.lines().map((l) => l.t);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('times out as ProtocolViolation that shows the unmatched buffer', async () => {
    const { d } = await rig();
    await d.send('status', signal());
    await new Promise((r) => setTimeout(r, 100));
    const e = await d.expect(/slac: MATCHED/, { timeoutMs: 200, signal: signal() }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe('secc.console.expect');
    expect((e as Error).message).toBe(
      '[secc.console.expect] SECC console: no line matching /slac: MATCHED/ within 200 ms; unmatched buffer (3 line(s)): "status", "cp: B2", "slac: UNMATCHED", "secc> " (no line end yet)',
    );
  });

  it('waits for named events from the options and counts them', async () => {
    const { d } = await rig({ events: { slacMatched: 'slac: (MATCHED)', authorizationRes: 'V2G .*AuthorizationRes.*EVSEProcessing=(\\w+)' } });
    const before = Date.now();
    peer.log('slac: MATCHED');
    const ev = await d.waitForEvent('slacMatched', { timeoutMs: 1000, signal: signal(), since: before });
    expect(ev).toMatchObject({ event: 'slacMatched', line: 'slac: MATCHED', groups: ['MATCHED'] });
    setTimeout(() => peer.log('\x1b[32m[12.345] V2G <- AuthorizationRes ResponseCode=OK EVSEProcessing=Finished\x1b[0m'), 50);
    const auth = await d.waitForEvent('authorizationRes', { timeoutMs: 1000, signal: signal() });
    expect(auth.line).toBe('[12.345] V2G <- AuthorizationRes ResponseCode=OK EVSEProcessing=Finished');
    expect(auth.groups).toEqual(['Finished']);
    expect(d.snapshot()).toMatchObject({ events: { slacMatched: 1, authorizationRes: 1 }, up: true, reconnects: 0 });
    const e = await d.waitForEvent('slacMatched', { timeoutMs: 100, signal: signal() }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolViolation);
    expect((e as ProtocolViolation).rule).toBe('secc.event.slacMatched');
    await expect(d.waitForEvent('nope', { timeoutMs: 10, signal: signal() })).rejects.toThrow('waitForEvent: no event "nope" in the rig file\'s options.events of secc (slacMatched, authorizationRes)');
  });

  it('rejects a bad event pattern and a line with a line break', async () => {
    const r = SeccConsole.options.safeParse({ events: { bad: 'slac: (' } });
    expect(r.error?.issues[0]).toMatchObject({ path: ['events', 'bad'] });
    expect(r.error?.issues[0]?.message).toMatch(/^not a valid regular expression: /);
    const { d } = await rig();
    await expect(d.send('a\nb', signal())).rejects.toThrow('send: one line at a time; "a\\nb" contains a line break');
  });

  it('decodes UTF-8 split across reads and sends with the configured line ending', async () => {
    const { d, transcript } = await rig({ lineEnding: 'crlf' });
    const bytes = Buffer.from('temp: 25 µs ✓\r\n', 'utf8');
    peer.write(bytes.subarray(0, 11));
    await new Promise((r) => setTimeout(r, 30));
    peer.write(bytes.subarray(11));
    expect((await d.expect(/^temp:/, { timeoutMs: 1000, signal: signal() })).line).toBe('temp: 25 µs ✓');
    await d.send('version', signal());
    await d.expect('fw ', { timeoutMs: 1000, signal: signal() });
    expect(peer.received).toEqual(['version']);
    const log = parseHexLog(transcript.cut().toString());
    const tx = log.filter((e) => e.dir === 'TX').map((e) => Buffer.from(e.bytes).toString());
    expect(tx).toEqual(['version\r\n']);
    const rx = Buffer.concat(log.filter((e) => e.dir === 'RX').map((e) => Buffer.from(e.bytes))).toString();
    expect(rx).toContain('temp: 25 µs ✓\r\n');
    expect(log[0]?.note).toMatch(/^opened .* at 115200 baud$/);
  });

  it('reports the console disappearing as LinkError and picks it up again', async () => {
    const { d } = await rig();
    await peer.stop();
    await pty.stop();
    const t0 = Date.now();
    while ((d.snapshot().up as boolean) && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
    await expect(d.send('status', signal())).rejects.toThrow(LinkError);
    expect((await d.health(signal())).ok).toBe(false);
    const e = await d.expect('never', { timeoutMs: 100, signal: signal() }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^secc: expect "never": the console was disconnected for \d+ ms of the 100 ms wait$/);
    await pty.start();
    peer = new SeccConsolePeer(pty.b);
    await peer.start();
    cleanup.push(() => peer.stop());
    const t1 = Date.now();
    while (!(d.snapshot().up as boolean) && Date.now() - t1 < 3000) await new Promise((r) => setTimeout(r, 10));
    await d.send('version', signal());
    expect((await d.expect('fw 4.2.1', { timeoutMs: 1000, signal: signal() })).line).toBe('fw 4.2.1 (build 77)');
    expect(await d.health(signal())).toMatchObject({ ok: true, reconnects: 1 });
  });
});
