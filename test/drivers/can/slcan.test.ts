// The slcan transport over a real pty (socat) against a simulated Lawicel adapter bridged to a
// virtual bus: open sequence, frames both ways, acknowledgements (CR and z/Z), error replies (BEL),
// error and state frames, a mute adapter, the adapter disappearing and coming back, candump
// transcript and replay.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LinkError } from '../../../drivers/capabilities.ts';
import { parseCandump, replayCandump } from '../../../drivers/can/candump.ts';
import { canFrame, frameText, type CanFrame } from '../../../drivers/can/frame.ts';
import { SlcanTransport, type SlcanOptions } from '../../../drivers/can/slcan.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { ptyPair, type PtyPair } from '../../../rigs/virtual/pty.ts';
import { SlcanAdapter } from '../../../rigs/virtual/slcan-adapter.ts';
import { busFrame, VirtualBus, type BusFrame } from '../../../rigs/virtual/can-bus.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);

let pty: PtyPair;
let bus: VirtualBus;
let adapter: SlcanAdapter;
const open: SlcanTransport[] = [];

beforeAll(async () => {
  pty = await ptyPair();
});
afterAll(async () => {
  await pty.close();
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close(500);
  await adapter?.stop();
  if (!pty.running) await pty.start();
});

async function setup(o: Partial<SlcanOptions> = {}, zAck = false): Promise<{ t: SlcanTransport; transcript: Transcript; rx: CanFrame[]; heard: BusFrame[] }> {
  await adapter?.stop();
  bus = new VirtualBus();
  adapter = new SlcanAdapter(pty.b, bus, { zAck });
  await adapter.start();
  const transcript = new Transcript({ ext: 'candump', mime: 'text/plain' });
  const t = new SlcanTransport(
    { path: pty.a, bitrate: 500000, serialBaud: 115200, listenOnly: false, timestamps: false, ackTimeoutMs: 300, reconnect: { minMs: 50, maxMs: 200 }, ...o },
    { name: 'ccu_bus', transcript, iface: 'slcan0' },
  );
  open.push(t);
  const rx: CanFrame[] = [];
  t.onFrame((f) => rx.push(f));
  const heard: BusFrame[] = [];
  bus.attach({ deliver: (f) => heard.push(f) });
  return { t, transcript, rx, heard };
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('slcan transport', () => {
  it('opens with C, S6, O and moves frames both ways, logging candump lines', async () => {
    const { t, transcript, rx, heard } = await setup();
    await t.open(signal());
    expect(adapter.commands).toEqual(['C', 'S6', 'O']);
    expect(adapter.bitrate).toBe(500000);
    expect(t.isUp).toBe(true);

    await t.send(canFrame({ id: 0x029c00f0, ext: true, data: [0x00, 0x06, 0x1a, 0x80, 0x00, 0x00, 0xc3, 0x50] }), signal());
    await t.send(canFrame({ id: 0x123, rtr: true, dlc: 2 }), signal());
    expect(adapter.commands.slice(3)).toEqual(['T029C00F0800061A800000C350', 'r1232']);
    expect(heard.map((f) => [f.id, f.ext, f.rtr, f.dlc, f.data.toString('hex')])).toEqual([
      [0x029c00f0, true, false, 8, '00061a800000c350'],
      [0x123, false, true, 2, ''],
    ]);

    bus.transmit(undefined, busFrame(0x0283f000, true, [0x43, 0xc8, 0, 0, 0x42, 0x48, 0, 0]));
    bus.transmit(undefined, busFrame(0x7ff, false, []));
    await until(() => rx.length === 2);
    expect(rx.map(frameText)).toEqual(['0283F000#43C8000042480000', '7FF#']);

    const log = parseCandump(transcript.cut().toString());
    expect(log.map((e) => `${e.iface} ${frameText(e.frame)} ${e.dir}`)).toEqual([
      'slcan0 029C00F0#00061A800000C350 T',
      'slcan0 123#R2 T',
      'slcan0 0283F000#43C8000042480000 R',
      'slcan0 7FF# R',
    ]);
    expect(t.stats()).toMatchObject({ link: `slcan:${pty.a}`, txFrames: 2, rxFrames: 2, txBytes: 10, rxBytes: 8, errors: 0, dropped: 0 });
  });

  it('accepts z/Z acknowledgements, device timestamps and listen-only mode', async () => {
    const { t, rx } = await setup({ timestamps: true }, true);
    await t.open(signal());
    expect(adapter.commands).toEqual(['C', 'S6', 'Z1', 'O']);
    await t.send(canFrame({ id: 0x100, data: [1] }), signal());
    await t.send(canFrame({ id: 0x100, ext: true, data: [2] }), signal());
    bus.transmit(undefined, busFrame(0x321, false, [9, 9]));
    await until(() => rx.length === 1);
    expect(frameText(rx[0] as CanFrame)).toBe('321#0909');
    await t.close(500);

    const lo = await setup({ listenOnly: true });
    await lo.t.open(signal());
    expect(adapter.commands).toEqual(['C', 'S6', 'L']);
    await expect(lo.t.send(canFrame({ id: 1 }), signal())).rejects.toThrow('listen-only');
  });

  it('reports BEL replies: to the open command as LinkError, to a frame as a refused send', async () => {
    const { t } = await setup();
    adapter.refuse.add('O');
    const e = await t.open(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as LinkError).message).toBe('ccu_bus: slcan adapter refused "O" (BEL)');
    await t.close(200);

    const s = await setup();
    await s.t.open(signal());
    adapter.bellOnFrames = 1;
    const refused = s.t.send(canFrame({ id: 0x10, data: [1] }), signal());
    const accepted = s.t.send(canFrame({ id: 0x11, data: [2] }), signal());
    await expect(refused).rejects.toThrow('slcan adapter refused frame 010#01 (BEL): bus off, TX buffer full or channel closed');
    await expect(accepted).resolves.toBeUndefined();
    expect(s.heard.map((f) => f.id)).toEqual([0x11]);
    expect(s.t.stats()).toMatchObject({ txFrames: 1, errors: 1, dropped: 1 });
  });

  it('counts error frames, bus-off state frames and garbage from the adapter', async () => {
    const { t, transcript, rx } = await setup();
    await t.open(signal());
    transcript.cut();
    adapter.line('e1a');
    adapter.line('sb256256');
    adapter.line('t12');
    adapter.line('t1231AB');
    await until(() => rx.length === 1);
    expect(t.stats().errors).toBe(3);
    expect(t.lastState).toBe('sb256256');
    const log = parseCandump(transcript.cut().toString());
    expect(log.filter((e) => e.kind === 'error')).toHaveLength(3);
    expect(await t.statusFlags(signal())).toBe(0);
  });

  it('fails requests the adapter never answers with LinkError after ackTimeoutMs', async () => {
    const { t } = await setup({ ackTimeoutMs: 150 });
    await t.open(signal());
    adapter.mute = true;
    const t0 = Date.now();
    await expect(t.send(canFrame({ id: 1 }), signal())).rejects.toThrow(/did not answer "t0010" within 150 ms/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(t.stats().dropped).toBe(1);
  });

  it('reports the pty disappearing as LinkError, reconnects with backoff and re-opens the bus', async () => {
    const { t, rx } = await setup();
    const links: string[] = [];
    t.onLink((up, why) => links.push(up ? 'up' : `down: ${why ?? ''}`));
    await t.open(signal());
    await adapter.stop();
    await pty.stop();
    await until(() => !t.isUp);
    expect(links[0]).toMatch(/^down: /);
    const e = await t.send(canFrame({ id: 1 }), signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/slcan bus on .* is not open \(adapter disconnected, reconnecting\)/);
    expect(t.describe()).toMatch(/down: .*reconnecting/);

    await pty.start();
    adapter = new SlcanAdapter(pty.b, bus);
    await adapter.start();
    await until(() => t.isUp, 5000);
    expect(t.reconnects).toBe(1);
    expect(links.at(-1)).toBe('up');
    expect(adapter.commands).toEqual(['C', 'S6', 'O']);
    await t.send(canFrame({ id: 0x55, data: [5] }), signal());
    bus.transmit(undefined, busFrame(0x66, false, [6]));
    await until(() => rx.length === 1);
    expect(adapter.framesFromHost).toBe(1);
  });

  it('replays a candump log through the adapter', async () => {
    const { t, heard } = await setup();
    await t.open(signal());
    const log = parseCandump('(1.000000) can0 029A00F0#0000000000000000\n(1.010000) can0 029C00F0#00061A800000C350\n');
    expect(await replayCandump(log, t, { signal: signal(), timing: 'original' })).toBe(2);
    expect(heard.map((f) => f.id.toString(16))).toEqual(['29a00f0', '29c00f0']);
  });

  it('close settles within its deadline even when the adapter stays silent', async () => {
    const { t } = await setup();
    await t.open(signal());
    adapter.mute = true;
    const t0 = Date.now();
    await t.close(300);
    expect(Date.now() - t0).toBeLessThan(600);
    expect(t.isUp).toBe(false);
  });
});
